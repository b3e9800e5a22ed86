/**
 * `/v1/auth`: password login and token refresh through the auth-basic plugin (public routes: they are how
 * a user gets credentials). Bad credentials are one generic 401, never saying which part was wrong.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { AppError, isAppError } from "../../core/errors.ts";
import type { AuthTokens } from "../../plugin-runtime/pillars.ts";
import { BASIC_ID } from "../auth/basic-users.ts";
import { callAuthPlugin } from "../auth/plugin-auth.ts";
import type { KernelContext } from "../context.ts";
import { LoginThrottle } from "../auth/login-throttle.ts";
import { clientIp } from "./rate-limit.ts";
import { oidcSignIn } from "./ui-oidc.ts";

const BAD_CREDENTIALS = "invalid username or password";

/** Plugin failures as the client should see them: credentials problems stay generic. */
function clientError(error: unknown, what: "login" | "refresh"): unknown {
  if (!isAppError(error)) return error;
  if (error.code === "WE-AUTH-001") return new AppError("WE-AUTH-001", what === "login" ? BAD_CREDENTIALS : "invalid refresh token; log in again");
  if (error.code === "WE-AUTH-002") return new AppError("WE-AUTH-002", "refresh token expired; log in again");
  if (error.code === "WE-PLG-002") return new AppError("WE-PLG-002", "password login is disabled on this server (plugin auth-basic)");
  // Restarting (e.g. after a user edit) and still not up after the host's wait: 503 with its Retry-After.
  if (error.code === "WE-PLG-005") return new AppError("WE-PLG-005", `password login is not available this moment (${error.message})`, error.details);
  if (error.code === "WE-PLG-004") return new AppError("WE-AUTH-005", "password login is unavailable right now (plugin auth-basic is not running); retry shortly");
  return error;
}

const tokens = (t: AuthTokens) => ({ access_token: t.access_token, refresh_token: t.refresh_token, token_type: t.token_type, expires_in: t.expires_in });

const loginBody = v.object({
  username: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  password: v.pipe(v.string(), v.minLength(1), v.maxLength(1024)),
});

function basicPlugin(ctx: KernelContext) {
  const sup = ctx.plugins.get(BASIC_ID);
  if (!sup) throw new AppError("WE-PLG-001", "password login needs the auth-basic plugin, which is not installed on this kernel");
  return sup;
}

export function authRoutes(ctx: KernelContext) {
  const login = loginHandler(ctx);
  return new Elysia({ prefix: "/v1/auth", detail: { tags: ["auth"] } } as never)
    .post("/login", login, {
      body: loginBody,
      detail: { summary: "Log in with a username and password (auth-basic): a short-lived access token (Bearer) and a refresh token" },
    })
    .post(
      "/refresh",
      async ({ body }) => {
        try {
          return tokens(await callAuthPlugin<AuthTokens>(basicPlugin(ctx), "refresh", { refresh_token: body.refresh_token }));
        } catch (e) {
          throw clientError(e, "refresh");
        }
      },
      {
        body: v.object({ refresh_token: v.pipe(v.string(), v.minLength(1), v.maxLength(8192)) }),
        detail: { summary: "Exchange a refresh token for a new access token and a new refresh token" },
      },
    )
    // Public: the sign-in page asks before anyone is signed in. Says nothing a provider's login page would not.
    .get("/providers", async () => ({ password: Boolean(ctx.plugins.get(BASIC_ID)), oidc: await oidcSignIn(ctx).get() }), {
      detail: { summary: "How a user can sign in: password (auth-basic) and the OpenID Connect provider (authorization code + PKCE) with its endpoints and client id" },
    });
}

type LoginRequest = { body: v.InferOutput<typeof loginBody>; request: Request; server: Parameters<typeof clientIp>[1]; set: { headers: Record<string, unknown> } };

/** POST /v1/auth/login, behind the failed-login throttle (one per kernel: it counts this kernel's failures). */
function loginHandler(ctx: KernelContext) {
  const throttle = new LoginThrottle({ maxFailures: ctx.config.LOGIN_MAX_FAILURES, windowMs: ctx.config.LOGIN_FAILURE_WINDOW });
  return async ({ body, request, server, set }: LoginRequest) => {
    const ip = clientIp(request, server, ctx.config.TRUSTED_PROXIES);
    // Counted before the password is checked: concurrent guesses cannot all pass the limit (login-throttle.ts).
    const reservation = throttle.attempt(ip, body.username);
    if (!("succeeded" in reservation)) {
      const retryAfterS = Math.ceil(reservation.waitMs / 1000);
      set.headers["retry-after"] = String(retryAfterS);
      throw new AppError("WE-SYS-005", `too many failed logins from this client; retry after ${retryAfterS} s`, { retry_after_s: retryAfterS });
    }
    try {
      const result = tokens(await callAuthPlugin<AuthTokens>(basicPlugin(ctx), "login", { username: body.username, password: body.password }));
      reservation.succeeded();
      return result;
    } catch (e) {
      // A wrong password keeps the reservation as a failure; anything else (plugin down, disabled) does not count.
      if (!(isAppError(e) && e.code === "WE-AUTH-001")) reservation.cancelled();
      throw clientError(e, "login");
    }
  };
}

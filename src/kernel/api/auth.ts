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
import { type LoginReservation, LoginThrottle } from "../auth/login-throttle.ts";
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

const refreshBody = v.object({ refresh_token: v.pipe(v.string(), v.minLength(1), v.maxLength(8192)) });

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
  // One throttle for both public routes: a client's invalid refresh tokens count against its IP like wrong
  // passwords do, so neither route can be hammered without limit.
  const throttle = new LoginThrottle({ maxFailures: ctx.config.LOGIN_MAX_FAILURES, windowMs: ctx.config.LOGIN_FAILURE_WINDOW });
  return new Elysia({ prefix: "/v1/auth", detail: { tags: ["auth"] } } as never)
    .post("/login", loginHandler(ctx, throttle), {
      body: loginBody,
      detail: { summary: "Log in with a username and password (auth-basic): a short-lived access token (Bearer) and a refresh token" },
    })
    .post("/refresh", refreshHandler(ctx, throttle), {
      body: refreshBody,
      detail: { summary: "Exchange a refresh token for a new access token and a new refresh token (invalid ones count toward the client's failed-login limit)" },
    })
    // Public: the sign-in page asks before anyone is signed in. Says nothing a provider's login page would not.
    .get("/providers", async () => ({ password: Boolean(ctx.plugins.get(BASIC_ID)), oidc: await oidcSignIn(ctx).get() }), {
      detail: { summary: "How a user can sign in: password (auth-basic) and the OpenID Connect provider (authorization code + PKCE) with its endpoints and client id" },
    });
}

type ThrottledRequest<B> = { body: B; request: Request; server: Parameters<typeof clientIp>[1]; set: { headers: Record<string, unknown> } };

/** A slot from the throttle for this client (and name), or 429 WE-SYS-005 with Retry-After. */
function reserve(ctx: KernelContext, throttle: LoginThrottle, req: ThrottledRequest<unknown>, name: string): LoginReservation {
  const ip = clientIp(req.request, req.server, ctx.config.TRUSTED_PROXIES);
  // Counted before the credential is checked: concurrent guesses cannot all pass the limit (login-throttle.ts).
  const reservation = throttle.attempt(ip, name);
  if ("succeeded" in reservation) return reservation;
  const retryAfterS = Math.ceil(reservation.waitMs / 1000);
  req.set.headers["retry-after"] = String(retryAfterS);
  throw new AppError("WE-SYS-005", `too many failed logins from this client; retry after ${retryAfterS} s`, { retry_after_s: retryAfterS });
}

/** The throttle's name for refresh attempts: not a username anyone can have (usernames are printable). */
const REFRESH = "\u0000refresh";

/** POST /v1/auth/refresh: an invalid (not an expired) refresh token counts as a failed login of this client. */
function refreshHandler(ctx: KernelContext, throttle: LoginThrottle) {
  return async (req: ThrottledRequest<v.InferOutput<typeof refreshBody>>) => {
    const reservation = reserve(ctx, throttle, req, REFRESH);
    try {
      const result = tokens(await callAuthPlugin<AuthTokens>(basicPlugin(ctx), "refresh", { refresh_token: req.body.refresh_token }));
      reservation.succeeded();
      return result;
    } catch (e) {
      if (!(isAppError(e) && e.code === "WE-AUTH-001")) reservation.cancelled();
      throw clientError(e, "refresh");
    }
  };
}

/** POST /v1/auth/login, behind the failed-login throttle (one per kernel: it counts this kernel's failures). */
function loginHandler(ctx: KernelContext, throttle: LoginThrottle) {
  return async (req: ThrottledRequest<v.InferOutput<typeof loginBody>>) => {
    const { body } = req;
    const reservation = reserve(ctx, throttle, req, body.username);
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

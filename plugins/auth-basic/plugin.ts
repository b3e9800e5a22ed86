/**
 * auth-basic: users with argon2id password hashes, kept in the plugin's own configuration (users.ts), and
 * signed session/refresh tokens (tokens.ts). Stateless: every kernel's plugin process answers the same.
 */
import * as v from "valibot";
import type { AuthIdentity, AuthTokens, PasswordAuthPlugin } from "../../src/plugin-runtime/pillars.ts";
import { PluginError, definePlugin } from "../../src/plugin-runtime/sdk.ts";
import { issueTokens, keyOf, looksOurs, verifyToken } from "./tokens.ts";
import { type User, usersField } from "../../src/plugin-runtime/shared/basic-users.ts";

export const config = v.object({
  /** HMAC key of the tokens (secret, ≥ 32 characters). The kernel generates one at first start. */
  session_secret: v.optional(v.pipe(v.string(), v.minLength(32, "session_secret must be at least 32 characters"))),
  /** Lifetime of a session (access) token, in seconds. */
  session_ttl: v.optional(v.pipe(v.number(), v.integer(), v.minValue(60), v.maxValue(86_400)), 900),
  /** Lifetime of a refresh token, in seconds. */
  refresh_ttl: v.optional(v.pipe(v.number(), v.integer(), v.minValue(300), v.maxValue(31_536_000)), 2_592_000),
  /** The users (secret: holds the password hashes), as a JSON array; edited through /v1/users. */
  users: v.optional(usersField, "[]"),
});

const MIN_PASSWORD = 8;
/** argon2 hashes whatever it is given; an unbounded password would be a cheap way to burn CPU. */
const MAX_PASSWORD = 1024;
const BAD_CREDENTIALS = "auth-basic: invalid username or password";

/** At most a few argon2 runs at once (64 MiB each): a burst of logins queues instead of exhausting memory. */
function limiter(max: number) {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (running >= max) await new Promise<void>((r) => waiting.push(r));
    running++;
    try {
      return await fn();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

function checkPassword(password: unknown): string {
  if (typeof password !== "string") throw new PluginError("WE-REQ-001", "auth-basic: password must be a string");
  if (password.length < MIN_PASSWORD) throw new PluginError("WE-REQ-001", `auth-basic: passwords need at least ${MIN_PASSWORD} characters`);
  if (password.length > MAX_PASSWORD) throw new PluginError("WE-REQ-001", `auth-basic: passwords have at most ${MAX_PASSWORD} characters`);
  return password;
}

export default definePlugin({
  id: "auth-basic",
  pillar: "auth",
  version: "1.0.0",
  priority: 100,
  capabilities: ["authenticate", "login", "refresh", "hash_password"],
  config,
  secretFields: ["session_secret", "users"],
  env: [],
  async create({ config: c, log }): Promise<PasswordAuthPlugin> {
    const users = new Map<string, User>(c.users.map((u) => [u.username, u]));
    const key = c.session_secret ? keyOf(c.session_secret) : undefined;
    const ttl = { session: c.session_ttl, refresh: c.session_ttl > c.refresh_ttl ? c.session_ttl : c.refresh_ttl };
    const argon = limiter(4);
    // Unknown usernames are checked against this hash, so a login takes as long whether the user exists or not.
    const dummyHash = await Bun.password.hash(crypto.randomUUID(), { algorithm: "argon2id" });
    log.info("auth-basic ready", { users: users.size, session_ttl: ttl.session, refresh_ttl: ttl.refresh, session_secret: Boolean(key) });

    const needKey = (): Uint8Array => {
      if (!key) throw new PluginError("WE-AUTH-005", "auth-basic: session_secret is not set (the kernel generates one at start; or set it with PUT /v1/plugins/auth-basic/config)");
      return key;
    };
    /** The user a verified token names, if it still exists, is enabled and the token is not revoked. */
    const current = (sub: string, ver: number, what: string): User => {
      const u = users.get(sub);
      if (!u || u.disabled) throw new PluginError("WE-AUTH-001", `auth-basic: the ${what} token's user no longer exists or is disabled`);
      if (u.token_version !== ver) throw new PluginError("WE-AUTH-001", `auth-basic: the ${what} token was revoked`);
      return u;
    };

    return {
      health: () => (key ? { status: "ok" as const, detail: `${users.size} user(s)` } : { status: "degraded" as const, detail: "session_secret is not set" }),

      async authenticate(p: { token: string }): Promise<AuthIdentity> {
        if (typeof p?.token !== "string" || !looksOurs(p.token)) throw new PluginError("WE-AUTH-001", "auth-basic: not an auth-basic token");
        const claims = await verifyToken(needKey(), p.token, "access");
        const u = current(claims.sub, claims.ver, "session");
        return { subject: u.username, name: u.name ?? u.username, roles: [...u.roles], expires_at: new Date(claims.exp * 1000).toISOString() };
      },

      async login(p: { username: string; password: string }): Promise<AuthTokens> {
        const k = needKey();
        const username = typeof p?.username === "string" ? p.username : "";
        const password = typeof p?.password === "string" && p.password.length <= MAX_PASSWORD ? p.password : "";
        const u = users.get(username);
        const ok = await argon(() => Bun.password.verify(password, u?.password_hash ?? dummyHash));
        if (!u || !ok || u.disabled || !password) throw new PluginError("WE-AUTH-001", BAD_CREDENTIALS);
        return issueTokens(k, u, ttl);
      },

      async refresh(p: { refresh_token: string }): Promise<AuthTokens> {
        const k = needKey();
        if (typeof p?.refresh_token !== "string" || !looksOurs(p.refresh_token)) throw new PluginError("WE-AUTH-001", "auth-basic: invalid refresh token");
        const claims = await verifyToken(k, p.refresh_token, "refresh");
        return issueTokens(k, current(claims.sub, claims.ver, "refresh"), ttl);
      },

      async hash_password(p: { password: string }): Promise<{ hash: string }> {
        const password = checkPassword(p?.password);
        return { hash: await argon(() => Bun.password.hash(password, { algorithm: "argon2id" })) };
      },

      close() {},
    };
  },
});

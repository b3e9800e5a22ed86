/**
 * publisher-twitch: live destinations on a Twitch channel connected through OAuth 2.0 (authorization code;
 * scope `channel:read:stream_key`). `prepare_live` reads the channel's stream key from the Helix API and picks
 * the ingest server (setting `ingest_server`: "auto" or a server's id or name from ingest.twitch.tv). Twitch
 * rotates refresh tokens on every refresh; the new one is handed to the kernel in the result's `credentials`.
 */
import * as v from "valibot";
import type { LiveIngest, PublisherPlugin } from "../../src/plugin-runtime/pillars.ts";
import { PluginError, definePlugin } from "../../src/plugin-runtime/sdk.ts";
import { type OAuthClient, authorizationUrl, requestToken } from "../../src/plugin-runtime/shared/oauth.ts";
import { TokenKeeper } from "../../src/plugin-runtime/shared/oauth-tokens.ts";
import { type TwitchIngest, chooseIngest } from "./ingests.ts";

export const PLUGIN_ID = "publisher-twitch";
export const SCOPES = ["channel:read:stream_key"] as const;

function isEndpointUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "https:" || (url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname));
  } catch {
    return false;
  }
}
const endpoint = v.pipe(v.string(), v.check(isEndpointUrl, "must be an https:// URL (http:// only on loopback)"));
const nonEmpty = v.pipe(v.string(), v.minLength(1, "must not be empty"));

export const config = v.object({
  /** A Twitch application (dev.twitch.tv/console) with the kernel's callback as OAuth redirect URL. */
  client_id: v.optional(nonEmpty),
  client_secret: v.optional(nonEmpty),
  /** Written by the kernel when an admin connects the channel. */
  refresh_token: v.optional(nonEmpty),
  /** "auto" (Twitch's default server) or an ingest server's id or name. */
  ingest_server: v.optional(nonEmpty, "auto"),
  api_base_url: v.optional(endpoint, "https://api.twitch.tv"),
  ingests_url: v.optional(endpoint, "https://ingest.twitch.tv/ingests"),
  authorization_endpoint: v.optional(endpoint, "https://id.twitch.tv/oauth2/authorize"),
  token_endpoint: v.optional(endpoint, "https://id.twitch.tv/oauth2/token"),
});
type Config = v.InferOutput<typeof config>;
type WithCredentials<T> = T & { credentials?: { refresh_token: string } };

export interface TwitchPublisher extends PublisherPlugin {
  connect_url(p: { redirect_uri: string; state: string; code_challenge: string }): Promise<{ url: string }>;
  connect_complete(p: { code: string; code_verifier: string; redirect_uri: string }): Promise<WithCredentials<{ connected: true }>>;
  prepare_live(p: { title?: string }): Promise<WithCredentials<LiveIngest>>;
}

export function createTwitch(c: Config, now?: () => number): TwitchPublisher {
  const client = (): OAuthClient => {
    if (!c.client_id || !c.client_secret) {
      throw new PluginError("WE-PLG-003", `${PLUGIN_ID}: set client_id and client_secret in the plugin settings (PUT /v1/plugins/${PLUGIN_ID}/config)`, {
        issues: [!c.client_id && { path: "client_id", message: "required" }, !c.client_secret && { path: "client_secret", message: "required" }].filter(Boolean),
      });
    }
    return {
      clientId: c.client_id,
      clientSecret: c.client_secret,
      authorizationEndpoint: c.authorization_endpoint,
      tokenEndpoint: c.token_endpoint,
      platform: "Twitch",
      pluginId: PLUGIN_ID,
      // Twitch answers a refused refresh token with 400 "Invalid refresh token" rather than invalid_grant.
      grantRefused: (status, body) => body.error === "invalid_grant" || (status === 400 && typeof body.message === "string" && /invalid refresh token|invalid authorization code/i.test(body.message)),
    };
  };
  let rotated: string | undefined;
  const tokens = new TokenKeeper({ client, refreshToken: c.refresh_token, persist: async (t) => void (rotated = t), now });
  const withCredentials = <T extends object>(result: T): WithCredentials<T> => {
    if (!rotated) return result;
    const refresh_token = rotated;
    rotated = undefined;
    return { ...result, credentials: { refresh_token } };
  };
  const required = (value: unknown, name: string) => {
    if (typeof value !== "string" || !value) throw new PluginError("WE-REQ-001", `${PLUGIN_ID}: ${name} is required`);
    return value;
  };

  async function helix<T>(what: string, path: string): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const token = await tokens.accessToken();
      let response: Response;
      try {
        response = await fetch(`${c.api_base_url.replace(/\/+$/, "")}/helix/${path}`, { headers: { authorization: `Bearer ${token}`, "client-id": c.client_id!, accept: "application/json" }, signal: AbortSignal.timeout(15_000) });
      } catch (e) {
        throw new PluginError("WE-PUB-003", `${PLUGIN_ID}: Twitch is unreachable while trying to ${what}: ${(e as Error).message}`, { retryable: true });
      }
      const text = await response.text();
      if (response.ok) return JSON.parse(text) as T;
      if (response.status === 401 && attempt === 0) {
        tokens.invalidate();
        continue;
      }
      let message = `HTTP ${response.status}`;
      try {
        const body = JSON.parse(text) as { message?: unknown };
        if (typeof body.message === "string") message = body.message;
      } catch {}
      if (response.status === 429) throw new PluginError("WE-PUB-002", `${PLUGIN_ID}: Twitch API rate limit exceeded while trying to ${what}: ${message}`, { status: 429, reason: "rate_limited" });
      throw new PluginError("WE-PUB-003", `${PLUGIN_ID}: Twitch refused to ${what} (HTTP ${response.status}): ${message}`, { status: response.status, retryable: response.status >= 500 });
    }
  }

  async function ingestServer(): Promise<{ name: string; url: string }> {
    let ingests: TwitchIngest[];
    try {
      const response = await fetch(c.ingests_url, { signal: AbortSignal.timeout(15_000) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      ingests = ((await response.json()) as { ingests?: TwitchIngest[] }).ingests ?? [];
    } catch (e) {
      throw new PluginError("WE-PUB-003", `${PLUGIN_ID}: the list of Twitch ingest servers is unavailable: ${(e as Error).message}`, { retryable: true });
    }
    const chosen = chooseIngest(ingests, c.ingest_server);
    if (!chosen) throw new PluginError("WE-PLG-003", `${PLUGIN_ID}: no available Twitch ingest server named "${c.ingest_server}"; use "auto" or a name from ${c.ingests_url}`, { issues: [{ path: "ingest_server", message: "unknown server" }] });
    return chosen;
  }

  return {
    health() {
      const state = tokens.state();
      if (!c.client_id || !c.client_secret) return { status: "degraded" as const, detail: "client_id and client_secret are not set" };
      if (state.kind === "reconnect") return { status: "degraded" as const, detail: state.message };
      if (state.kind === "not_connected") return { status: "degraded" as const, detail: "no Twitch account connected" };
      return { status: "ok" as const };
    },
    async connect_url(p) {
      const url = authorizationUrl(client(), { redirectUri: required(p.redirect_uri, "redirect_uri"), state: required(p.state, "state"), codeChallenge: required(p.code_challenge, "code_challenge"), scopes: SCOPES, extra: { force_verify: "true" } });
      return { url };
    },
    async connect_complete(p) {
      const answer = await requestToken(client(), { grant_type: "authorization_code", code: required(p.code, "code"), code_verifier: required(p.code_verifier, "code_verifier"), redirect_uri: required(p.redirect_uri, "redirect_uri") });
      if (!answer.refresh_token) throw new PluginError("WE-PUB-003", `${PLUGIN_ID}: Twitch answered without a refresh token`);
      return { connected: true, credentials: { refresh_token: answer.refresh_token } };
    },
    async prepare_live() {
      client();
      const users = await helix<{ data: Array<{ id: string; login: string }> }>("read the connected user", "users");
      const user = users.data[0];
      if (!user) throw new PluginError("WE-PUB-003", `${PLUGIN_ID}: Twitch returned no user for the connected account`);
      const keys = await helix<{ data: Array<{ stream_key: string }> }>("read the stream key", `streams/key?broadcaster_id=${encodeURIComponent(user.id)}`);
      const key = keys.data[0]?.stream_key;
      if (!key) throw new PluginError("WE-PUB-003", `${PLUGIN_ID}: Twitch returned no stream key for ${user.login}`);
      const server = await ingestServer();
      return withCredentials({ url: server.url, key, watch_url: `https://www.twitch.tv/${encodeURIComponent(user.login)}` });
    },
    async end_live() {
      // A Twitch channel has no broadcast object to end: the stream ends when media stops.
      return withCredentials({ ended: false });
    },
    async upload_vod() {
      // Helix has no video upload (Twitch videos come from past broadcasts): say so instead of "unknown method".
      throw new PluginError("WE-PUB-005", "publisher-twitch does not upload files (Twitch has no video upload API); publish a job's output with publisher-youtube");
    },
  };
}

export default definePlugin({
  id: PLUGIN_ID,
  pillar: "publisher",
  version: "1.0.0",
  capabilities: ["live", "oauth"],
  config,
  secretFields: ["client_secret", "refresh_token"],
  create: ({ config: c }) => createTwitch(c),
});

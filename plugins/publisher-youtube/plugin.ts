/**
 * publisher-youtube: live destinations on YouTube (a broadcast and a stream created and bound per
 * `prepare_live`, ended by `end_live`) and VOD uploads (`upload_vod`: YouTube's resumable upload protocol, upload.ts)
 * for an account an admin connected through OAuth 2.0 (authorization code
 * + PKCE). The refresh token is a secret field (encrypted at rest by the kernel); access tokens live only in
 * this process's memory. When YouTube rotates the refresh token, the next result carries it in `credentials`
 * for the kernel to store (and strip: it never reaches an API response, a log or an event).
 */
import * as v from "valibot";
import type { CallContext, LiveIngest, PublisherPlugin, VodUploadParams, VodUploadResult } from "../../src/plugin-runtime/pillars.ts";
import { PluginError, definePlugin } from "../../src/plugin-runtime/sdk.ts";
import { type LiveBroadcast, type LiveStream, YouTubeApi } from "./api.ts";
import { type OAuthClient, authorizationUrl, requestToken } from "../../src/plugin-runtime/shared/oauth.ts";
import { TokenKeeper } from "../../src/plugin-runtime/shared/oauth-tokens.ts";
import { DEFAULT_CHUNK_BYTES, UPLOAD_UNIT, uploadVideo } from "./upload.ts";
import { chunkReader } from "./upload-source.ts";

export const PLUGIN_ID = "publisher-youtube";
/** Manage live broadcasts and upload videos; nothing else. */
export const SCOPES = ["https://www.googleapis.com/auth/youtube", "https://www.googleapis.com/auth/youtube.upload"] as const;

/** https://, or http:// on loopback (a local stand-in in tests). Pure. */
export function isEndpointUrl(value: string): boolean {
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
  /** OAuth client of a Google Cloud project with the YouTube Data API v3 enabled (docs/publishers.md). */
  client_id: v.optional(nonEmpty),
  client_secret: v.optional(nonEmpty),
  /** Written by the kernel when an admin connects the account (GET /v1/publishers/publisher-youtube/connect). */
  refresh_token: v.optional(nonEmpty),
  /** Privacy of the broadcasts it creates. */
  privacy: v.optional(v.picklist(["public", "unlisted", "private"], "must be public, unlisted or private"), "private"),
  /** rtmps (default) or rtmp ingest. */
  ingest: v.optional(v.picklist(["rtmps", "rtmp"], "must be rtmps or rtmp"), "rtmps"),
  api_base_url: v.optional(endpoint, "https://www.googleapis.com"),
  authorization_endpoint: v.optional(endpoint, "https://accounts.google.com/o/oauth2/v2/auth"),
  token_endpoint: v.optional(endpoint, "https://oauth2.googleapis.com/token"),
  /** Bytes per PUT of a VOD upload: a multiple of 256 KiB (YouTube's rule); what is lost to an interruption at most. */
  upload_chunk_bytes: v.optional(
    v.pipe(v.number(), v.integer(), v.minValue(UPLOAD_UNIT, "must be at least 262144 (256 KiB)"), v.maxValue(1024 * UPLOAD_UNIT, "must be at most 268435456 (256 MiB)"), v.check((n) => n % UPLOAD_UNIT === 0, "must be a multiple of 262144 (256 KiB)")),
    DEFAULT_CHUNK_BYTES,
  ),
});

type Config = v.InferOutput<typeof config>;

/** The result of every method, plus the rotated refresh token when there is one to store. */
type WithCredentials<T> = T & { credentials?: { refresh_token: string } };

export interface YouTubePublisher extends PublisherPlugin {
  connect_url(p: { redirect_uri: string; state: string; code_challenge: string }): Promise<{ url: string }>;
  connect_complete(p: { code: string; code_verifier: string; redirect_uri: string }): Promise<WithCredentials<{ connected: true }>>;
  prepare_live(p: { title?: string; description?: string }, ctx: CallContext): Promise<WithCredentials<LiveIngest>>;
  start_live(p: { broadcast_id: string }, ctx: CallContext): Promise<WithCredentials<{ started: true }>>;
  end_live(p: { broadcast_id?: string }, ctx: CallContext): Promise<WithCredentials<{ ended: boolean }>>;
  upload_vod(p: VodUploadParams, ctx: CallContext): Promise<WithCredentials<VodUploadResult>>;
}

export function createYouTube(c: Config, now?: () => number): YouTubePublisher {
  const client = (): OAuthClient => {
    if (!c.client_id || !c.client_secret) {
      throw new PluginError("WE-PLG-003", `${PLUGIN_ID}: set client_id and client_secret in the plugin settings (PUT /v1/plugins/${PLUGIN_ID}/config)`, {
        issues: [!c.client_id && { path: "client_id", message: "required" }, !c.client_secret && { path: "client_secret", message: "required" }].filter(Boolean),
      });
    }
    return { clientId: c.client_id, clientSecret: c.client_secret, authorizationEndpoint: c.authorization_endpoint, tokenEndpoint: c.token_endpoint, platform: "YouTube", pluginId: PLUGIN_ID };
  };
  let rotated: string | undefined;
  const tokens = new TokenKeeper({
    client,
    refreshToken: c.refresh_token,
    persist: async (refreshToken) => {
      rotated = refreshToken;
    },
    now,
  });
  const api = new YouTubeApi({ pluginId: PLUGIN_ID, baseUrl: c.api_base_url, tokens });
  const requireClient = () => void client();
  /** Hands a rotated refresh token to the kernel exactly once. */
  const withCredentials = <T extends object>(result: T): WithCredentials<T> => {
    if (!rotated) return result;
    const refresh_token = rotated;
    rotated = undefined;
    return { ...result, credentials: { refresh_token } };
  };
  const requireString = (value: unknown, name: string) => {
    if (typeof value !== "string" || !value) throw new PluginError("WE-REQ-001", `${PLUGIN_ID}: ${name} is required`);
    return value;
  };

  return {
    health() {
      const state = tokens.state();
      if (!c.client_id || !c.client_secret) return { status: "degraded" as const, detail: "client_id and client_secret are not set" };
      if (state.kind === "reconnect") return { status: "degraded" as const, detail: state.message };
      if (state.kind === "not_connected") return { status: "degraded" as const, detail: "no YouTube account connected" };
      return { status: "ok" as const };
    },
    async connect_url(p) {
      return {
        url: authorizationUrl(client(), {
          redirectUri: requireString(p.redirect_uri, "redirect_uri"),
          state: requireString(p.state, "state"),
          codeChallenge: requireString(p.code_challenge, "code_challenge"),
          scopes: SCOPES,
          // A refresh token is only issued for offline access, and only again on a fresh consent.
          extra: { access_type: "offline", prompt: "consent", include_granted_scopes: "true" },
        }),
      };
    },
    async connect_complete(p) {
      const answer = await requestToken(client(), {
        grant_type: "authorization_code",
        code: requireString(p.code, "code"),
        code_verifier: requireString(p.code_verifier, "code_verifier"),
        redirect_uri: requireString(p.redirect_uri, "redirect_uri"),
      });
      if (!answer.refresh_token) throw new PluginError("WE-PUB-003", `${PLUGIN_ID}: YouTube answered without a refresh token; remove WebEncode's access at myaccount.google.com/permissions and connect again`);
      return { connected: true, credentials: { refresh_token: answer.refresh_token } };
    },
    async prepare_live(p, ctx) {
      requireClient();
      const title = p.title?.trim() || `WebEncode live ${new Date().toISOString().slice(0, 16).replace("T", " ")}`;
      const broadcast = await api.call<LiveBroadcast>(
        "create the broadcast",
        "POST",
        "liveBroadcasts",
        { part: "snippet,status,contentDetails" },
        {
          snippet: { title, description: p.description ?? "", scheduledStartTime: new Date().toISOString() },
          status: { privacyStatus: c.privacy, selfDeclaredMadeForKids: false },
          // Goes live when media arrives and completes when it stops: the restream engine needs no extra call.
          contentDetails: { enableAutoStart: true, enableAutoStop: true },
        },
        ctx.signal,
      );
      const stream = await api.call<LiveStream>(
        "create the stream",
        "POST",
        "liveStreams",
        { part: "snippet,cdn,contentDetails" },
        { snippet: { title }, cdn: { ingestionType: "rtmp", resolution: "variable", frameRate: "variable" }, contentDetails: { isReusable: false } },
        ctx.signal,
      );
      await api.call("bind the stream to the broadcast", "POST", "liveBroadcasts/bind", { id: broadcast.id, streamId: stream.id, part: "id,contentDetails" }, undefined, ctx.signal);
      const info = stream.cdn?.ingestionInfo;
      const url = c.ingest === "rtmps" ? (info?.rtmpsIngestionAddress ?? info?.ingestionAddress) : info?.ingestionAddress;
      if (!url || !info?.streamName) throw new PluginError("WE-PUB-003", `${PLUGIN_ID}: YouTube created stream ${stream.id} without ingestion info`);
      return withCredentials({ url: url.replace(/\/+$/, ""), key: info.streamName, broadcast_id: broadcast.id, watch_url: `https://www.youtube.com/watch?v=${encodeURIComponent(broadcast.id)}` });
    },
    async start_live(p, ctx) {
      await api.call("start the broadcast", "POST", "liveBroadcasts/transition", { broadcastStatus: "live", id: requireString(p.broadcast_id, "broadcast_id"), part: "status" }, undefined, ctx.signal);
      return withCredentials({ started: true as const });
    },
    async end_live(p, ctx) {
      if (!p.broadcast_id) return withCredentials({ ended: false });
      await api.call("end the broadcast", "POST", "liveBroadcasts/transition", { broadcastStatus: "complete", id: p.broadcast_id, part: "status" }, undefined, ctx.signal);
      return withCredentials({ ended: true });
    },
    async upload_vod(p, ctx) {
      requireClient();
      const title = requireString(p.title, "title");
      const reader = chunkReader(PLUGIN_ID, p.source ?? { url: "" });
      const options = { pluginId: PLUGIN_ID, baseUrl: c.api_base_url, tokens, reader, chunkBytes: c.upload_chunk_bytes, signal: ctx.signal, progress: (x: unknown) => ctx.progress(x), isEndpointUrl };
      const result = await uploadVideo(options, { ...p, title, privacy: p.privacy ?? c.privacy });
      return withCredentials(result);
    },
  };
}

export default definePlugin({
  id: PLUGIN_ID,
  pillar: "publisher",
  version: "1.0.0",
  capabilities: ["live", "oauth", "upload"],
  config,
  secretFields: ["client_secret", "refresh_token"],
  create: ({ config: c }) => createYouTube(c),
});

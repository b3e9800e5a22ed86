/**
 * Local stand-ins for the platforms' documented OAuth 2.0 and API endpoints (the only mocks the publisher tests
 * use): a token endpoint (authorization_code with PKCE, refresh_token with optional rotation, invalid_grant
 * for revoked tokens) and the YouTube Data API v3 live calls the plugin makes, each checking the bearer token.
 */
import { createHash, randomBytes } from "node:crypto";
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";

export interface YouTubeStandIn {
  url: string;
  clientId: string;
  clientSecret: string;
  /** Issues a refresh token as if an admin had consented (what connect_complete would obtain). */
  grantRefreshToken(): string;
  /** An authorization code for `verifier`'s S256 challenge and `redirectUri`. */
  grantCode(verifier: string, redirectUri: string): string;
  revoke(refreshToken: string): void;
  /** Every access token issued so far stops working (as after a password change), though not yet expired. */
  expireAccessTokens(): void;
  /** The admin consents on the consent page `consentUrl`: answers the redirect back (redirect_uri?code=…&state=…). */
  consent(consentUrl: string): string;
  /** Each refresh answers a new refresh token and invalidates the old one. */
  rotate: boolean;
  /** Seconds an access token lives. */
  accessTtlS: number;
  /** The API answers 403 quotaExceeded while true. */
  quotaExhausted: boolean;
  tokenRequests: Array<Record<string, string>>;
  apiRequests: Array<{ method: string; path: string; query: Record<string, string>; body: unknown; token: string }>;
  broadcasts: Map<string, { status: string; streamId?: string; title: string; privacy: string }>;
  issuedAccessTokens(): string[];
  /** Resumable upload sessions (videos.insert, uploadType=resumable) by upload_id; `bytes` is what arrived. */
  uploads: Map<string, StandInUpload>;
  /** Videos whose upload completed, by id, with the bytes received. */
  videos: Map<string, { title: string; description: string; privacy: string; bytes: Uint8Array }>;
  /** Every request to the upload endpoints: start (POST), chunk or status (PUT). `status` 0 = connection cut. */
  uploadRequests: Array<{ kind: "start" | "chunk" | "status"; contentRange?: string; bytes: number; status: number }>;
  /**
   * Interrupts the next chunk that would take a session past `afterBytes` (once): "cut" keeps the bytes up to
   * there and drops the connection mid-body, "503" keeps them and answers 503 backendError.
   */
  interruptUpload(afterBytes: number, how: "cut" | "503"): void;
  stop(): Promise<void>;
}

export interface StandInUpload {
  total: number;
  contentType: string;
  title: string;
  description: string;
  privacy: string;
  chunks: Uint8Array[];
  bytes: number;
  videoId?: string;
}

const token = (prefix: string) => `${prefix}-${randomBytes(12).toString("hex")}`;

export function startYouTubeStandIn(): YouTubeStandIn {
  const refreshTokens = new Set<string>();
  const accessTokens = new Map<string, number>();
  const codes = new Map<string, { challenge: string; redirectUri: string }>();
  const streams = new Map<string, { key: string }>();
  let interruption: { afterBytes: number; how: "cut" | "503" } | undefined;
  const standIn: Omit<YouTubeStandIn, "url" | "stop"> = {
    clientId: "standin-client.apps.example",
    clientSecret: token("secret"),
    rotate: false,
    accessTtlS: 3600,
    quotaExhausted: false,
    tokenRequests: [],
    apiRequests: [],
    broadcasts: new Map(),
    grantRefreshToken() {
      const t = token("1//refresh");
      refreshTokens.add(t);
      return t;
    },
    grantCode(verifier, redirectUri) {
      const code = token("4/code");
      codes.set(code, { challenge: createHash("sha256").update(verifier).digest("base64url"), redirectUri });
      return code;
    },
    consent(consentUrl) {
      const params = new URL(consentUrl).searchParams;
      if (params.get("code_challenge_method") !== "S256" || params.get("client_id") !== standIn.clientId) throw new Error("stand-in consent page: bad request");
      const code = token("4/code");
      codes.set(code, { challenge: params.get("code_challenge")!, redirectUri: params.get("redirect_uri")! });
      const back = new URL(params.get("redirect_uri")!);
      back.searchParams.set("code", code);
      back.searchParams.set("state", params.get("state")!);
      return back.toString();
    },
    expireAccessTokens() {
      for (const access of accessTokens.keys()) accessTokens.set(access, 0);
    },
    revoke(refreshToken) {
      refreshTokens.delete(refreshToken);
    },
    issuedAccessTokens: () => [...accessTokens.keys()],
    uploads: new Map(),
    videos: new Map(),
    uploadRequests: [],
    interruptUpload(afterBytes, how) {
      interruption = { afterBytes, how };
    },
  };
  const validBearer = (header: string | null | undefined) => {
    const expiry = accessTokens.get(header?.replace(/^Bearer /, "") ?? "");
    return Boolean(expiry && expiry >= Date.now());
  };
  const json = (status: number, body: unknown) => Response.json(body, { status });
  const apiError = (status: number, reason: string, message: string) => json(status, { error: { code: status, message, errors: [{ reason, message, domain: "youtube.standin" }] } });
  const issue = (refresh?: string) => {
    const access = token("ya29");
    accessTokens.set(access, Date.now() + standIn.accessTtlS * 1000);
    return json(200, { access_token: access, expires_in: standIn.accessTtlS, token_type: "Bearer", scope: "https://www.googleapis.com/auth/youtube", ...(refresh ? { refresh_token: refresh } : {}) });
  };

  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const url = new URL(request.url);
      if (url.pathname === "/token" && request.method === "POST") {
        const form = Object.fromEntries(new URLSearchParams(await request.text()));
        standIn.tokenRequests.push(form);
        if (form.client_id !== standIn.clientId || form.client_secret !== standIn.clientSecret) return json(401, { error: "invalid_client", error_description: "The OAuth client was not found." });
        if (form.grant_type === "authorization_code") {
          const grant = codes.get(form.code ?? "");
          codes.delete(form.code ?? "");
          if (!grant || grant.redirectUri !== form.redirect_uri) return json(400, { error: "invalid_grant", error_description: "Bad Request" });
          if (createHash("sha256").update(form.code_verifier ?? "").digest("base64url") !== grant.challenge) return json(400, { error: "invalid_grant", error_description: "Invalid code verifier." });
          const refresh = token("1//refresh");
          refreshTokens.add(refresh);
          return issue(refresh);
        }
        if (form.grant_type === "refresh_token") {
          if (!refreshTokens.has(form.refresh_token ?? "")) return json(400, { error: "invalid_grant", error_description: "Token has been expired or revoked." });
          if (!standIn.rotate) return issue();
          refreshTokens.delete(form.refresh_token!);
          const next = token("1//refresh");
          refreshTokens.add(next);
          return issue(next);
        }
        return json(400, { error: "unsupported_grant_type", error_description: `Invalid grant_type: ${form.grant_type}` });
      }
      // videos.insert, resumable: step 1 answers the session URI (on the upload server below) in Location.
      if (url.pathname === "/upload/youtube/v3/videos" && request.method === "POST" && url.searchParams.get("uploadType") === "resumable") {
        const text = await request.text();
        const record = (status: number) => standIn.uploadRequests.push({ kind: "start", bytes: 0, status });
        if (!validBearer(request.headers.get("authorization"))) return record(401), apiError(401, "authError", "Request had invalid authentication credentials.");
        if (standIn.quotaExhausted) {
          record(403);
          return apiError(403, "quotaExceeded", 'The request cannot be completed because you have exceeded your <a href="/youtube/v3/getting-started#quota">quota</a>.');
        }
        const total = Number(request.headers.get("x-upload-content-length"));
        if (!Number.isSafeInteger(total) || total <= 0) return record(400), apiError(400, "invalidValue", "X-Upload-Content-Length is required");
        const meta = JSON.parse(text || "{}") as { snippet?: { title?: string; description?: string }; status?: { privacyStatus?: string } };
        if (!meta.snippet?.title) return record(400), apiError(400, "invalidTitle", "The request metadata specifies an invalid or empty video title.");
        const id = token("up");
        standIn.uploads.set(id, {
          total,
          contentType: request.headers.get("x-upload-content-type") ?? "",
          title: meta.snippet.title,
          description: meta.snippet.description ?? "",
          privacy: meta.status?.privacyStatus ?? "",
          chunks: [],
          bytes: 0,
        });
        record(200);
        return new Response(null, { status: 200, headers: { location: `${uploadBase()}/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status&upload_id=${id}` } });
      }
      if (url.pathname.startsWith("/youtube/v3/")) {
        const bearer = request.headers.get("authorization")?.replace(/^Bearer /, "") ?? "";
        const text = await request.text();
        const path = url.pathname.slice("/youtube/v3/".length);
        standIn.apiRequests.push({ method: request.method, path, query: Object.fromEntries(url.searchParams), body: text ? JSON.parse(text) : undefined, token: bearer });
        const expiry = accessTokens.get(bearer);
        if (!expiry || expiry < Date.now()) return apiError(401, "authError", "Request had invalid authentication credentials.");
        if (standIn.quotaExhausted) return apiError(403, "quotaExceeded", "The request cannot be completed because you have exceeded your quota.");
        const body = (text ? JSON.parse(text) : {}) as { snippet?: { title?: string }; status?: { privacyStatus?: string } };
        if (path === "liveBroadcasts" && request.method === "POST") {
          const id = token("bc");
          standIn.broadcasts.set(id, { status: "created", title: body.snippet?.title ?? "", privacy: body.status?.privacyStatus ?? "" });
          return json(200, { kind: "youtube#liveBroadcast", id, snippet: body.snippet, status: { lifeCycleStatus: "created", privacyStatus: body.status?.privacyStatus } });
        }
        if (path === "liveStreams" && request.method === "POST") {
          const id = token("st");
          const key = `${randomBytes(2).toString("hex")}-${randomBytes(2).toString("hex")}-${randomBytes(2).toString("hex")}`;
          streams.set(id, { key });
          return json(200, { kind: "youtube#liveStream", id, cdn: { ingestionType: "rtmp", ingestionInfo: { streamName: key, ingestionAddress: "rtmp://a.rtmp.youtube.com/live2", rtmpsIngestionAddress: "rtmps://a.rtmps.youtube.com/live2" } } });
        }
        if (path === "liveBroadcasts/bind" && request.method === "POST") {
          const broadcast = standIn.broadcasts.get(url.searchParams.get("id") ?? "");
          if (!broadcast) return apiError(404, "liveBroadcastNotFound", "Broadcast not found");
          if (!streams.has(url.searchParams.get("streamId") ?? "")) return apiError(404, "liveStreamNotFound", "Stream not found");
          broadcast.streamId = url.searchParams.get("streamId")!;
          broadcast.status = "ready";
          return json(200, { id: url.searchParams.get("id") });
        }
        if (path === "liveBroadcasts/transition" && request.method === "POST") {
          const broadcast = standIn.broadcasts.get(url.searchParams.get("id") ?? "");
          if (!broadcast) return apiError(404, "liveBroadcastNotFound", "Broadcast not found");
          const target = url.searchParams.get("broadcastStatus");
          if (target === "complete" && broadcast.status === "complete") return apiError(403, "redundantTransition", "The broadcast is already in the requested status.");
          broadcast.status = target === "live" ? "live" : target === "complete" ? "complete" : broadcast.status;
          return json(200, { id: url.searchParams.get("id"), status: { lifeCycleStatus: broadcast.status } });
        }
        return apiError(404, "notFound", `no ${request.method} ${path} in the stand-in`);
      }
      return new Response("not found", { status: 404 });
    },
  });
  // Steps 2 and 3 on a node:http server: unlike Bun.serve it can drop a connection in the middle of a body.
  const uploadServer = createServer((req, res) => void handleUploadPut(req, res));
  uploadServer.listen(0, "127.0.0.1");
  const uploadBase = () => `http://127.0.0.1:${(uploadServer.address() as { port: number }).port}`;
  const answer = (res: ServerResponse, status: number, headers: Record<string, string>, body?: unknown) => {
    res.writeHead(status, { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  };
  const heldRange = (up: StandInUpload): Record<string, string> => (up.bytes > 0 ? { range: `bytes=0-${up.bytes - 1}` } : {});
  const videoResource = (up: StandInUpload) => ({ kind: "youtube#video", id: up.videoId, snippet: { title: up.title, description: up.description }, status: { uploadStatus: "uploaded", privacyStatus: up.privacy } });
  async function handleUploadPut(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? "/", "http://standin");
    const up = standIn.uploads.get(url.searchParams.get("upload_id") ?? "");
    const range = req.headers["content-range"] ?? "";
    const status = /^bytes \*\/(\d+)$/.exec(range);
    const chunk = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(range);
    const log = { kind: status ? ("status" as const) : ("chunk" as const), contentRange: range, bytes: 0, status: 0 };
    standIn.uploadRequests.push(log);
    const done = (code: number, headers: Record<string, string> = {}, body?: unknown) => {
      log.status = code;
      req.resume();
      answer(res, code, headers, body);
    };
    if (req.method !== "PUT") return done(405);
    if (!validBearer(req.headers.authorization)) return done(401, {}, { error: { code: 401, message: "Request had invalid authentication credentials.", errors: [{ reason: "authError" }] } });
    if (!up) return done(404, {}, { error: { code: 404, message: "Upload session not found", errors: [{ reason: "notFound" }] } });
    if (status) return up.videoId ? done(200, {}, videoResource(up)) : done(308, heldRange(up));
    if (!chunk || Number(chunk[3]) !== up.total) return done(400, {}, { error: { code: 400, message: `invalid Content-Range: ${range}`, errors: [{ reason: "badContent" }] } });
    if (Number(chunk[1]) !== up.bytes) return done(400, {}, { error: { code: 400, message: `the chunk starts at ${chunk[1]}, the session holds ${up.bytes} bytes`, errors: [{ reason: "badContent" }] } });
    const cutAt = interruption && interruption.afterBytes > up.bytes && interruption.afterBytes <= Number(chunk[2]) ? interruption : undefined;
    if (cutAt) interruption = undefined;
    let cut = false;
    for await (const piece of req as AsyncIterable<Buffer>) {
      if (cut) continue;
      const room = (cutAt ? cutAt.afterBytes : up.total) - up.bytes;
      const keep = piece.subarray(0, Math.max(0, room));
      up.chunks.push(new Uint8Array(keep));
      up.bytes += keep.length;
      log.bytes += keep.length;
      if (cutAt && up.bytes >= cutAt.afterBytes && cutAt.how === "cut") {
        cut = true;
        req.socket.destroy();
        return;
      }
    }
    if (cutAt?.how === "503") return done(503, {}, { error: { code: 503, message: "Backend Error", errors: [{ reason: "backendError" }] } });
    if (up.bytes < up.total) return done(308, heldRange(up));
    up.videoId ??= token("vid");
    standIn.videos.set(up.videoId, { title: up.title, description: up.description, privacy: up.privacy, bytes: Buffer.concat(up.chunks) });
    return done(201, {}, videoResource(up));
  }
  return Object.assign(standIn as YouTubeStandIn, {
    url: `http://127.0.0.1:${server.port}`,
    stop: async () => {
      server.stop(true);
      uploadServer.closeAllConnections();
      await new Promise((resolve) => uploadServer.close(resolve));
    },
  });
}

export interface TwitchStandIn {
  url: string;
  clientId: string;
  clientSecret: string;
  streamKey: string;
  grantRefreshToken(): string;
  revoke(refreshToken: string): void;
  /** Helix answers 429 while true. */
  rateLimited: boolean;
  tokenRequests: Array<Record<string, string>>;
  stop(): Promise<void>;
}

/** Twitch's token endpoint (refresh tokens rotate on every refresh), Helix users + streams/key, and the ingest list. */
export function startTwitchStandIn(): TwitchStandIn {
  const refreshTokens = new Set<string>();
  const accessTokens = new Set<string>();
  const standIn: Omit<TwitchStandIn, "url" | "stop"> = {
    clientId: token("twitchclient"),
    clientSecret: token("twitchsecret"),
    streamKey: `live_123456_${randomBytes(10).toString("hex")}`,
    rateLimited: false,
    tokenRequests: [],
    grantRefreshToken() {
      const t = token("twrefresh");
      refreshTokens.add(t);
      return t;
    },
    revoke(refreshToken) {
      refreshTokens.delete(refreshToken);
    },
  };
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const url = new URL(request.url);
      if (url.pathname === "/oauth2/token" && request.method === "POST") {
        const form = Object.fromEntries(new URLSearchParams(await request.text()));
        standIn.tokenRequests.push(form);
        if (form.client_id !== standIn.clientId || form.client_secret !== standIn.clientSecret) return Response.json({ status: 403, message: "invalid client secret" }, { status: 403 });
        if (form.grant_type !== "refresh_token" || !refreshTokens.has(form.refresh_token ?? "")) return Response.json({ error: "Bad Request", status: 400, message: "Invalid refresh token" }, { status: 400 });
        refreshTokens.delete(form.refresh_token!);
        const next = token("twrefresh");
        refreshTokens.add(next);
        const access = token("twaccess");
        accessTokens.add(access);
        return Response.json({ access_token: access, refresh_token: next, expires_in: 14_000, scope: ["channel:read:stream_key"], token_type: "bearer" });
      }
      if (url.pathname === "/ingests") {
        return Response.json({
          ingests: [
            { _id: 1, availability: 1, default: false, name: "EU: Frankfurt, DE", priority: 2, url_template: "rtmp://fra05.contribute.live-video.net/app/{stream_key}" },
            { _id: 2, availability: 1, default: true, name: "US West: Seattle, WA", priority: 1, url_template: "rtmp://sea02.contribute.live-video.net/app/{stream_key}" },
            { _id: 3, availability: 0, default: false, name: "Closed", priority: 0, url_template: "rtmp://closed.contribute.live-video.net/app/{stream_key}" },
          ],
        });
      }
      if (url.pathname.startsWith("/helix/")) {
        const bearer = request.headers.get("authorization")?.replace(/^Bearer /, "") ?? "";
        if (!accessTokens.has(bearer) || request.headers.get("client-id") !== standIn.clientId) return Response.json({ error: "Unauthorized", status: 401, message: "Invalid OAuth token" }, { status: 401 });
        if (standIn.rateLimited) return Response.json({ error: "Too Many Requests", status: 429, message: "Too Many Requests" }, { status: 429 });
        if (url.pathname === "/helix/users") return Response.json({ data: [{ id: "123456", login: "standin_streamer" }] });
        if (url.pathname === "/helix/streams/key" && url.searchParams.get("broadcaster_id") === "123456") return Response.json({ data: [{ stream_key: standIn.streamKey }] });
        return Response.json({ error: "Not Found", status: 404, message: "no such endpoint in the stand-in" }, { status: 404 });
      }
      return new Response("not found", { status: 404 });
    },
  });
  return Object.assign(standIn as TwitchStandIn, { url: `http://127.0.0.1:${server.port}`, stop: async () => void server.stop(true) });
}

/**
 * publisher-youtube's settings pointed at `standIn` (client, API, consent and token endpoints), as the plugin
 * tests and the kernel's PUT /v1/plugins/publisher-youtube/config take them; `extra` adds e.g. refresh_token.
 */
export function youtubeStandInSettings(standIn: YouTubeStandIn, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    client_id: standIn.clientId,
    client_secret: standIn.clientSecret,
    api_base_url: standIn.url,
    authorization_endpoint: `${standIn.url}/auth`,
    token_endpoint: `${standIn.url}/token`,
    ...extra,
  };
}

/** The error a plugin call rejects with (its code, message and details); throws when the call succeeds instead. */
export async function callFailure(p: Promise<unknown>): Promise<{ code: string; message: string; details?: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    return e as { code: string; message: string; details?: Record<string, unknown> };
  }
  throw new Error("expected the call to fail");
}

/**
 * Completes the OpenAPI document that @elysiajs/openapi generates from the routes: every operation gets its
 * success response (schema and example) and its error responses (the envelope, envelope.ts), request bodies
 * get realistic examples, `POST /v1/files` a file picker, and wildcard paths a named `{key}` parameter.
 * Done here, once, on the generated document (a pure function), so route files stay about behaviour;
 * a route missing from RESPONSES still gets a generic 200 and the error responses.
 */
import { toJsonSchema } from "@valibot/to-json-schema";
import { Elysia } from "elysia";
import { profileSchema } from "../../media/profile-spec.ts";
import { EXAMPLE_UPLOAD_KEY, EXAMPLES, JOB_REQUEST_EXAMPLE, PROFILE_REQUEST_EXAMPLE, SCHEMAS, STREAM_DESTINATION_REQUEST_EXAMPLE } from "./openapi-schemas.ts";
import { destinationCreateSchema, destinationPatchSchema } from "../live/destinations-rules.ts";
import { RESTREAM_REQUEST_EXAMPLE } from "./openapi-schemas.ts";
import { PUBLISH_REQUEST_EXAMPLE } from "./openapi-schemas.ts";
import { restreamRequestSchema } from "../restream/request.ts";

type Json = Record<string, any>;

interface Success {
  status: number;
  description: string;
  /** A name in SCHEMAS; none for 204/202. */
  schema?: string;
  /** Content type other than JSON (SSE, the stored object). */
  type?: string;
  /** Extra error statuses this operation answers besides the defaults. */
  errors?: number[];
}

const ok = (schema: string | undefined, description: string, status = 200, errors: number[] = []): Success => ({ status, description, schema, errors });

/** Success response per operation, keyed "METHOD path" as the document spells the path. */
export const RESPONSES: Record<string, Success> = {
  "GET /v1/health": ok("Health", "The process is up"),
  "GET /v1/system/health": ok("Readiness", "Ready (503 with the same body when a dependency fails)", 200, [503]),
  "GET /v1/jobs": ok("JobList", "Jobs, newest first"),
  "POST /v1/jobs": ok("Job", "Created (200 with `Idempotent-Replayed: true` when an Idempotency-Key repeats)", 201, [503]),
  "GET /v1/jobs/{id}": ok("JobDetail", "The job with tasks, attempts and timeline"),
  "DELETE /v1/jobs/{id}": ok(undefined, "Deleted with its outputs", 204, [409]),
  "GET /v1/jobs/{id}/outputs": ok("OutputList", "Outputs with signed URLs"),
  "GET /v1/jobs/{id}/logs": ok("JobLogs", "Log entries and attempts"),
  "POST /v1/jobs/{id}/cancel": ok("Job", "Cancelled", 200, [409]),
  "POST /v1/jobs/{id}/retry": ok("Job", "Queued again", 200, [409]),
  "POST /v1/jobs/{id}/publish": ok("Publication", "Accepted: the upload runs in the kernel; GET …/publications shows its progress and outcome", 202, [409, 422]),
  "GET /v1/jobs/{id}/publications": ok("PublicationList", "The job's publications, newest first"),
  "GET /v1/files": ok("UploadList", "Uploads, newest first"),
  "POST /v1/files": ok("UploadCreated", "Stored; use `key` as a job's source_url", 201, [413]),
  "DELETE /v1/files/{key}": ok(undefined, "Deleted", 204, [409]),
  "GET /v1/events": { status: 200, description: "An event stream", schema: "EventStream", type: "text/event-stream" },
  "POST /v1/events/tokens": ok("EventToken", "A stream token", 201),
  "GET /v1/profiles": ok("ProfileList", "Built-in and custom profiles"),
  "POST /v1/profiles": ok("ProfileWithEncoder", "Created", 201, [409]),
  "GET /v1/profiles/{id}": ok("Profile", "The profile"),
  "PUT /v1/profiles/{id}": ok("ProfileWithEncoder", "Updated", 200, [409]),
  "DELETE /v1/profiles/{id}": ok(undefined, "Deleted", 204, [409]),
  "GET /v1/workers": ok("WorkerList", "Workers"),
  "GET /v1/workers/{id}": ok("Worker", "The worker"),
  "POST /v1/workers/{id}/drain": ok("Worker", "Draining"),
  "POST /v1/workers/{id}/undrain": ok("Worker", "Taking work again"),
  "GET /v1/plugins": ok("PluginList", "Plugins"),
  "GET /v1/plugins/{id}": ok("Plugin", "The plugin"),
  "PUT /v1/plugins/{id}/config": ok("Plugin", "Configured", 200, [422]),
  "POST /v1/plugins/{id}/enable": ok("Plugin", "Enabled"),
  "POST /v1/plugins/{id}/disable": ok("Plugin", "Disabled"),
  "GET /v1/publishers/{id}/connect": ok(undefined, "Redirect (302) to the provider's consent page; `Location` carries state and the PKCE challenge", 302, [404]),
  "GET /v1/publishers/{id}/callback": ok("PublisherConnected", "The account is connected; the refresh token is stored encrypted and never returned", 200, [400, 502]),
  "POST /v1/plugins/{id}/reload": ok("PluginReload", "Reloaded here (from → to) and announced to the other kernels and workers", 200, [409]),
  "POST /v1/auth/login": ok("Tokens", "Logged in"),
  "GET /v1/auth/providers": ok("SignInProviders", "How to sign in"),
  "POST /v1/auth/refresh": ok("Tokens", "New tokens"),
  "GET /v1/auth/whoami": ok("Principal", "The caller"),
  "GET /v1/users": ok("UserList", "Users"),
  "POST /v1/users": ok("User", "Created", 201, [409]),
  "GET /v1/users/{id}": ok("User", "The user"),
  "PUT /v1/users/{id}": ok("User", "Updated"),
  "DELETE /v1/users/{id}": ok(undefined, "Deleted", 204),
  "GET /v1/webhooks": ok("WebhookList", "Webhooks"),
  "POST /v1/webhooks": ok("Webhook", "Created (the secret is shown once)", 201),
  "GET /v1/webhooks/{id}": ok("Webhook", "The webhook"),
  "PUT /v1/webhooks/{id}": ok("Webhook", "Updated"),
  "DELETE /v1/webhooks/{id}": ok(undefined, "Deleted", 204),
  "POST /v1/webhooks/{id}/unmute": ok("Webhook", "Unmuted"),
  "GET /v1/webhooks/{id}/deliveries": ok("DeliveryList", "Deliveries, newest first"),
  "POST /v1/webhooks/{id}/deliveries/{deliveryId}/redeliver": ok(undefined, "Queued for delivery now", 202, [409]),
  "GET /v1/streams": ok("StreamList", "Streams, newest first (keys are never shown)"),
  "POST /v1/streams": ok("StreamWithKey", "Created (the key is shown once)", 201),
  "GET /v1/streams/{id}": ok("Stream", "The stream"),
  "PUT /v1/streams/{id}": ok("Stream", "Updated"),
  "DELETE /v1/streams/{id}": ok(undefined, "Deleted", 204, [409]),
  "POST /v1/streams/{id}/key/rotate": ok("StreamWithKey", "A new key (shown once); the old one no longer works"),
  "POST /v1/streams/{id}/stop": ok("Stream", "Stopped", 200, [409]),
  "GET /v1/streams/{id}/stats": ok("StreamStats", "Live telemetry"),
  "GET /v1/streams/{id}/sessions": ok("StreamSessionList", "Sessions, newest first"),
  "GET /v1/restreams": ok("RestreamList", "Restreams, newest first (keys are never shown)"),
  "POST /v1/restreams": ok("Restream", "Created: started now, or scheduled (keys are never returned)", 201, [422]),
  "GET /v1/restreams/{id}": ok("Restream", "The restream with per-destination state"),
  "DELETE /v1/restreams/{id}": ok(undefined, "Deleted (stopped first when running)", 204),
  "POST /v1/restreams/{id}/start": ok("Restream", "Started", 200, [409]),
  "POST /v1/restreams/{id}/stop": ok("Restream", "Stopped", 200, [409]),
  "GET /v1/streams/{id}/playback": ok("PlaybackLink", "The playback URL (for a signed stream with a new token)"),
  "GET /v1/streams/{id}/destinations": ok("StreamDestinationList", "Destinations with their live state"),
  "POST /v1/streams/{id}/destinations": ok("StreamDestination", "Created (the key is never returned)", 201, [422]),
  "GET /v1/streams/{id}/destinations/{destId}": ok("StreamDestination", "The destination with its live state"),
  "PATCH /v1/streams/{id}/destinations/{destId}": ok("StreamDestination", "Updated", 200, [422]),
  "DELETE /v1/streams/{id}/destinations/{destId}": ok(undefined, "Deleted", 204),
  "GET /live/{stream_id}/master.m3u8": { status: 200, description: "The live master playlist (404 WE-STR-002 until every rung has its first segments)", schema: "Object", type: "application/vnd.apple.mpegurl" },
  "GET /live/{stream_id}/{rung}/{file}": { status: 200, description: "A rung's live playlist (index.m3u8) or a segment (video/mp2t)", schema: "Object", type: "application/vnd.apple.mpegurl" },
  "GET /v1/api-keys": ok("ApiKeyList", "API keys (never the keys themselves)"),
  "POST /v1/api-keys": ok("ApiKey", "Created (the key is shown once)", 201),
  "DELETE /v1/api-keys/{id}": ok(undefined, "Revoked", 204),
  "GET /v1/audit": ok("AuditList", "Audit entries, newest first"),
  "GET /v1/storage/storage-fs/t/{token}/{key}": { status: 200, description: "The object (206 for a Range request)", schema: "Object", type: "application/octet-stream", errors: [416] },
};

/** Routes that need no credentials (auth/policy.ts): no 401/403 for them. */
const PUBLIC = /^(GET \/v1\/health|GET \/v1\/system\/health|POST \/v1\/auth\/(login|refresh)|GET \/v1\/storage\/)/;

const ERRORS: Record<number, [string, string, string]> = {
  400: ["Invalid request (body, query or path)", "WE-JOB-001", "invalid body: profiles: name at least one profile"],
  401: ["No or invalid credentials", "WE-AUTH-001", "missing credentials: send Authorization: Bearer <API key or token>"],
  403: ["The caller's role may not do this", "WE-AUTH-004", "operator role required (you are viewer)"],
  404: ["Not found", "WE-JOB-004", "job 0b5c7a52-3f1e-4c6e-9d2a-1f0e8a7b6c5d not found"],
  409: ["Conflicts with the resource's state", "WE-JOB-010", "job 0b5c7a52-3f1e-4c6e-9d2a-1f0e8a7b6c5d is processing; cancel it before deleting"],
  413: ["Body too large", "WE-REQ-003", "upload too large: 30000000000 bytes, the limit is 21474836480 (UPLOAD_MAX_SIZE)"],
  416: ["Range not satisfiable", "WE-REQ-007", "range not satisfiable: bytes=999999- of a 1000-byte object"],
  422: ["Rejected by the plugin", "WE-PLG-003", "invalid plugin configuration: bucket is required"],
  429: ["Rate limited (see Retry-After)", "WE-SYS-005", "too many requests; retry after 1 s"],
  500: ["Internal error", "WE-SYS-001", "internal error; the request id is in the server log"],
  502: ["The platform a publisher talks to refused or failed", "WE-PUB-003", "publisher-youtube: YouTube answered 500: backendError"],
  503: ["Unavailable (starting, stopping, or a dependency is down)", "WE-SYS-004", "the kernel is shutting down; retry on another kernel"],
};

/** `components.responses`, one per error status, all the envelope. */
function errorResponses(): Json {
  return Object.fromEntries(
    Object.entries(ERRORS).map(([status, [description, code, message]]) => [
      `Error${status}`,
      {
        description,
        content: { "application/json": { schema: { $ref: "#/components/schemas/Error" }, example: { error: { code, message, request_id: "7d0c4b1e-2a9f-4f51-8c43-5e2a1d9b0f77" } } } },
      },
    ]),
  );
}

function errorStatuses(key: string, op: Json, extra: number[]): number[] {
  const s = new Set<number>([429, 500, ...extra]);
  if (!PUBLIC.test(key)) [401, 403].forEach((x) => s.add(x));
  const params = (op.parameters ?? []) as Json[];
  if (op.requestBody || params.some((p) => p.in === "query" || p.in === "path")) s.add(400);
  if (params.some((p) => p.in === "path")) s.add(404);
  return [...s].sort((a, b) => a - b);
}

function successResponse(success: Success): Json {
  if (!success.schema) return { description: success.description };
  const media: Json = { schema: { $ref: `#/components/schemas/${success.schema}` } };
  if (EXAMPLES[success.schema] !== undefined) media.example = EXAMPLES[success.schema];
  return { description: success.description, content: { [success.type ?? "application/json"]: media } };
}

const KEY_PARAM = {
  name: "key",
  in: "path",
  required: true,
  description: "The storage key as POST /v1/files returned it; its slashes may be sent as they are or as %2F",
  schema: { type: "string" },
  example: EXAMPLE_UPLOAD_KEY,
};

const UPLOAD_BODY = {
  required: true,
  description: "The file: multipart field `file` (what the file picker sends), or the raw bytes with `?filename=`",
  content: {
    "multipart/form-data": { schema: { type: "object", properties: { file: { type: "string", format: "binary", description: "the video file" } }, required: ["file"] } },
    "application/octet-stream": { schema: { type: "string", format: "binary" } },
  },
};

/**
 * A JSON request body from the route's own schema: the generator leaves `content` empty when a route has a
 * parse hook (the kernel's body guards), which hides the schema and leaves Try-it-out nothing to send.
 */
function jsonBody(body: Json, schema: Json | undefined, example?: unknown): Json {
  const generated = body.content?.["application/json"]?.schema;
  const s = schema ?? generated;
  if (!s) return body;
  return { ...body, content: { "application/json": { schema: s, ...(example !== undefined ? { example } : {}) } } };
}

/** "METHOD /path" as the document spells it: `:id` → `{id}`, a trailing `*` → `{key}`. Pure. */
export function operationKey(method: string, path: string): string {
  return `${method.toUpperCase()} ${path.replace(/:([^/]+)/g, "{$1}").replace(/\/\*$/, "/{key}")}`;
}

interface RouteLike {
  method: string;
  path: string;
  hooks?: { body?: unknown };
}

/** JSON Schemas of the routes' valibot body schemas, by operation key. */
export function bodySchemas(routes: readonly RouteLike[]): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const r of routes) {
    const body = r.hooks?.body as { "~standard"?: { vendor?: string } } | undefined;
    if (body?.["~standard"]?.vendor !== "valibot") continue;
    const { $schema: _draft, ...schema } = toJsonSchema(body as never, { typeMode: "input", errorMode: "ignore" }) as Json;
    out[operationKey(r.method, r.path)] = schema;
  }
  return out;
}

const BODY_EXAMPLES: Record<string, unknown> = {
  "POST /v1/restreams": RESTREAM_REQUEST_EXAMPLE,
  "POST /v1/jobs": JOB_REQUEST_EXAMPLE,
  "POST /v1/jobs/{id}/publish": PUBLISH_REQUEST_EXAMPLE,
  "POST /v1/profiles": PROFILE_REQUEST_EXAMPLE,
  "PUT /v1/profiles/{id}": PROFILE_REQUEST_EXAMPLE,
  "POST /v1/streams/{id}/destinations": STREAM_DESTINATION_REQUEST_EXAMPLE,
  "PATCH /v1/streams/{id}/destinations/{destId}": { enabled: false },
};

/** Routes that take a loosely typed body and validate it themselves: their real schema. */
const PROFILE_BODY = (() => {
  const { $schema: _draft, ...schema } = toJsonSchema(profileSchema as never, { typeMode: "input", errorMode: "ignore" }) as Json;
  return schema;
})();
const jsonSchemaOf = (schema: unknown): Json => {
  const { $schema: _draft, ...rest } = toJsonSchema(schema as never, { typeMode: "input", errorMode: "ignore" }) as Json;
  return rest;
};
const BODY_OVERRIDES: Record<string, Json> = {
  "POST /v1/profiles": PROFILE_BODY,
  // Checked by planRestream (WE-STR-005 for a destination, WE-STR-001 otherwise): the real rules, for the document.
  "POST /v1/restreams": jsonSchemaOf(restreamRequestSchema),
  "PUT /v1/profiles/{id}": PROFILE_BODY,
  // Checked by the domain (WE-STR-005), so the routes take any object: the real rules, for the document.
  "POST /v1/streams/{id}/destinations": jsonSchemaOf(destinationCreateSchema),
  "PATCH /v1/streams/{id}/destinations/{destId}": jsonSchemaOf(destinationPatchSchema),
};

/** The generated document, completed (pure; the input is not modified). */
export function completeDocument(doc: Json, routeBodies: Record<string, Json> = {}): Json {
  const bodies = { ...routeBodies, ...BODY_OVERRIDES };
  const paths: Json = {};
  for (const [rawPath, item] of Object.entries((doc.paths ?? {}) as Json)) {
    const wildcard = rawPath.endsWith("/*");
    const path = wildcard ? `${rawPath.slice(0, -2)}/{key}` : rawPath;
    const outItem: Json = {};
    for (const [method, rawOp] of Object.entries(item as Json)) {
      const key = `${method.toUpperCase()} ${path}`;
      const op: Json = { ...(rawOp as Json) };
      if (wildcard) op.parameters = [...((op.parameters ?? []) as Json[]).filter((p) => p.name !== "*"), KEY_PARAM];
      if (key === "POST /v1/files") op.requestBody = UPLOAD_BODY;
      else if (op.requestBody) op.requestBody = jsonBody(op.requestBody, bodies[key], BODY_EXAMPLES[key]);
      const success = RESPONSES[key] ?? ok(undefined, "OK");
      op.responses = {
        ...(op.responses ?? {}),
        [String(success.status)]: successResponse(success),
        ...Object.fromEntries(errorStatuses(key, op, success.errors ?? []).map((s) => [String(s), { $ref: `#/components/responses/Error${s}` }])),
      };
      outItem[method] = op;
    }
    paths[path] = outItem;
  }
  const components = (doc.components ?? {}) as Json;
  return {
    ...doc,
    paths,
    components: { ...components, schemas: { ...(components.schemas ?? {}), ...SCHEMAS }, responses: { ...(components.responses ?? {}), ...errorResponses() } },
  };
}

/**
 * Wraps the openapi plugin so that the document it serves at `specPath` is completed. The hook is registered
 * before the plugin's routes, so it applies to them, and it is local: no other route sees it.
 */
export function withCompletedDocument(plugin: Elysia<any, any, any, any, any, any, any>, specPath: string) {
  const docs = new Elysia({ name: "openapi-doc" });
  // Routes are all registered once the server runs; the schemas are converted on the first request, once.
  let bodies: Record<string, Json> | undefined;
  return docs
    .onAfterHandle(({ path, responseValue }) => {
      if (path !== specPath || !responseValue || typeof responseValue !== "object") return;
      bodies ??= bodySchemas((docs as unknown as { getGlobalRoutes(): RouteLike[] }).getGlobalRoutes());
      return completeDocument(responseValue as Json, bodies);
    })
    .use(plugin);
}

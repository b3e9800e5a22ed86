/**
 * The kernel's HTTP API (Elysia). Cross-cutting rules live here, once: request ids, the error envelope,
 * body size limits, HTTP metrics, and the OpenAPI document with an offline Swagger UI. Each resource's
 * routes are an Elysia plugin in their own file.
 */
import { openapi } from "@elysiajs/openapi";
import { withCompletedDocument } from "./openapi-doc.ts";
import { toJsonSchema } from "@valibot/to-json-schema";
import { Elysia } from "elysia";
import { errorMessage } from "../../core/errors.ts";
import { VERSION } from "../../core/version.ts";
import type { KernelContext } from "../context.ts";
import { allowedMethods } from "./allowed-methods.ts";
import { envelope, mapError } from "./envelope.ts";
import { healthRoutes } from "./health.ts";
import { swaggerAssetRoutes, SWAGGER_ASSET_PREFIX } from "./swagger-assets.ts";
import { fileRoutes } from "./files.ts";
import { httpGuards } from "./guards.ts";
import { bodyLimitParser } from "./body-limit.ts";
import { pathOf, urlTargetProblem } from "./url-guard.ts";
import { jobRoutes } from "./jobs.ts";
import { pluginRoutes } from "./plugins.ts";
import { publisherRoutes } from "./publishers.ts";
import { jobPublishRoutes } from "./job-publish.ts";
import { profileRoutes } from "./profiles.ts";
import { storageUrlRoutes } from "./storage-urls.ts";
import { workerRoutes } from "./workers.ts";
import { eventRoutes } from "./events.ts";
import { authRoutes } from "./auth.ts";
import { userRoutes } from "./users.ts";
import { webhookRoutes } from "./webhooks.ts";
import { apiKeyRoutes } from "./api-keys.ts";
import { streamRoutes } from "./streams.ts";
import { streamDestinationRoutes } from "./stream-destinations.ts";
import { streamInternalRoutes } from "./streams-internal.ts";
import { restreamApi } from "./restreams.ts";
import { auditRoutes } from "./audit.ts";
import { livePlaybackLinkRoutes, livePlaybackRoutes } from "./live-playback.ts";
import { LIVE_INTERNAL_PREFIX, liveIngestInternalRoutes } from "./live-ingest-internal.ts";
import { uiRoutes } from "./ui.ts";
import { oidcSignIn } from "./ui-oidc.ts";
import { authHook, principalOf } from "../auth/middleware.ts";
import { AUDITED_METHODS, recordAudit } from "../auth/audit.ts";
import { clientIp } from "./rate-limit.ts";
import { requestIdOf, requestIds } from "./request-id.ts";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

type RouteTable = ReadonlyArray<{ method: string; path: string }>;

export function createApp(ctx: KernelContext) {
  // The route table, read when a request finds no route (405 for a known path); filled in once the app is built.
  let table: RouteTable = [];
  const app = buildApp(ctx, () => table);
  table = app.routes.map((r) => ({ method: r.method, path: r.path }));
  return app;
}

function buildApp(ctx: KernelContext, routes: () => RouteTable) {
  return new Elysia({ normalize: true, serve: serveOptions(ctx) })
    .onRequest(requestHook(ctx))
    // MAX_BODY_SIZE while reading, for chunked bodies too (body-limit.ts).
    .onParse({ as: "global" }, bodyLimitParser(ctx.config.MAX_BODY_SIZE, isUploadRoute))
    // CORS, rate limiting (before authentication), JSON depth limit: guards.ts.
    .use(httpGuards(ctx, requestIdOf))
    .onError({ as: "global" }, errorHook(ctx, routes))
    // Authentication and authorization (policy table: auth/policy.ts), after routing, before validation.
    .onTransform({ as: "global" }, authHook(ctx))
    .onAfterResponse({ as: "global" }, afterResponseHook(ctx))
    // The generated document completed with responses, examples and the upload file picker (openapi-doc.ts).
    .use(withCompletedDocument(openapi(openapiOptions()), "/swagger/json"))
    .use(swaggerAssetRoutes())
    .use(healthRoutes(ctx))
    .use(workerRoutes(ctx))
    .use(pluginRoutes(ctx))
    .use(jobRoutes(ctx))
    .use(publisherRoutes(ctx))
    .use(jobPublishRoutes(ctx))
    .use(eventRoutes(ctx))
    .use(fileRoutes(ctx))
    .use(profileRoutes(ctx))
    .use(authRoutes(ctx))
    .use(userRoutes(ctx))
    .use(webhookRoutes(ctx))
    .use(streamRoutes(ctx))
    .use(streamDestinationRoutes(ctx))
    .use(storageUrlRoutes(ctx))
    .use(apiKeyRoutes(ctx))
    .use(auditRoutes(ctx))
    // Live playback (public or ?token=) and the live transcode's segment pushes (internal token).
    .use(livePlaybackRoutes(ctx))
    .use(livePlaybackLinkRoutes(ctx))
    .use(liveIngestInternalRoutes(ctx))
    .use(streamInternalRoutes(ctx))
    .use(restreamApi(ctx))
    // The web dashboard at / (its own client routes only; ui.ts).
    .use(uiRoutes(() => oidcSignIn(ctx).origins()));
}

interface HookSet {
  headers: Record<string, string | number>;
  status?: number | string;
}

function serveOptions({ metrics, logger }: KernelContext) {
  return {
    // Never Bun's HTML error page (it shows source and stack traces outside production mode).
    development: false,
    // The last resort, when a hook or the error hook itself throws: still the envelope, never Bun's text.
    error(error: unknown) {
      const id = crypto.randomUUID();
      metrics.errors.inc({ source: "http", code: "WE-SYS-001" });
      logger.error({ request_id: id, error: errorMessage(error) }, "request failed outside the error hook");
      return Response.json(envelope("WE-SYS-001", "internal error; the request id is in the server log", id), { status: 500, headers: { "x-request-id": id } });
    },
  };
}

/**
 * A request answered from onRequest (bad URL, body too large) skips Elysia's afterResponse hooks, so it is
 * counted and audited here: a hostile state-changing attempt is what the audit log is for, even though no
 * route (and no principal) was reached. The path is its target.
 */
function refusedBeforeRouting(ctx: KernelContext, request: Request, status: number): void {
  ctx.metrics.httpRequests.inc({ method: request.method, route: "unmatched", status: String(status) });
  if (!AUDITED_METHODS.has(request.method)) return;
  void recordAudit(ctx, {
    principal: undefined,
    method: request.method,
    route: "(refused before routing)",
    params: { id: pathOf(request.url) },
    status,
    clientIp: requestIds.get(request)?.ip ?? null,
    userAgent: request.headers.get("user-agent"),
    requestId: requestIdOf(request),
  });
}

/** The request id, start time and client address; a bad URL or a declared oversize body is refused here. */
function requestHook(ctx: KernelContext) {
  const { config } = ctx;
  return ({ request, set, server }: { request: Request; set: HookSet; server: Parameters<typeof clientIp>[1] }) => {
    const given = request.headers.get("x-request-id");
    const id = given && REQUEST_ID.test(given) ? given : crypto.randomUUID();
    // The client address is read now: after the response the socket may be gone (the audit entry needs it).
    requestIds.set(request, { id, start: performance.now(), ip: server ? clientIp(request, server, config.TRUSTED_PROXIES) : null });
    set.headers["x-request-id"] = id;
    const bad = urlTargetProblem(request.url);
    if (bad) {
      set.status = 400;
      refusedBeforeRouting(ctx, request, 400);
      return envelope("WE-REQ-001", `invalid request URL: ${bad}`, id);
    }
    const length = Number(request.headers.get("content-length") ?? 0);
    if (length > config.MAX_BODY_SIZE && !isUploadRoute(pathOf(request.url))) {
      set.status = 413;
      refusedBeforeRouting(ctx, request, 413);
      return envelope("WE-REQ-003", `request body too large: ${length} bytes, the limit is ${config.MAX_BODY_SIZE} (MAX_BODY_SIZE)`, id);
    }
  };
}

/** Whatever was thrown, as the one error envelope (envelope.ts); 5xx are logged and counted. */
function errorHook({ metrics, logger }: KernelContext, routes: () => RouteTable) {
  return ({ code, error, request, set }: { code: unknown; error: unknown; request: Request; set: HookSet }) => {
    const id = requestIdOf(request);
    // From the URL, not Elysia's `path`: for an unknown method (PROPFIND) that lost its first segment.
    const path = pathOf(request.url);
    const methods = code === "NOT_FOUND" ? allowedMethods(routes(), path) : [];
    const mapped = mapError(String(code), error, path, id, { method: request.method, methods });
    if (mapped.status === 405 && methods.length) set.headers.allow = methods.join(", ");
    if (mapped.status >= 500) {
      metrics.errors.inc({ source: "http", code: mapped.body.error.code });
      logger.error({ request_id: id, error, path, code: mapped.body.error.code }, "request failed");
    }
    set.status = mapped.status;
    // A 503 is temporary by definition (a plugin restarting, the database away, shutting down): say when to retry.
    if (mapped.status === 503) set.headers["retry-after"] = String(retryAfterOf(mapped.body.error.details));
    set.headers["x-request-id"] = id;
    set.headers["content-type"] = "application/json";
    return mapped.body;
  };
}

/** The audit entry of a state-changing call, and the HTTP metrics. */
function afterResponseHook(ctx: KernelContext) {
  const { metrics } = ctx;
  return ({ request, route, set, params, responseValue }: { request: Request; route: string; set: HookSet; params: unknown; responseValue: unknown }) => {
    const started = requestIds.get(request)?.start;
    const status = String(typeof set.status === "number" ? set.status : 200);
    if (route && AUDITED_METHODS.has(request.method)) {
      void recordAudit(ctx, {
        principal: principalOf(request),
        method: request.method,
        route,
        params: (params ?? {}) as Record<string, string>,
        createdId: createdIdOf(responseValue),
        status: Number(status),
        clientIp: requestIds.get(request)?.ip ?? null,
        userAgent: request.headers.get("user-agent"),
        requestId: requestIdOf(request),
      });
    }
    const pattern = route || "unmatched";
    metrics.httpRequests.inc({ method: request.method, route: pattern, status });
    if (started !== undefined) metrics.httpDuration.observe({ method: request.method, route: pattern }, (performance.now() - started) / 1000);
  };
}

function openapiOptions() {
  return {
    path: "/swagger" as const,
    specPath: "/swagger/json" as const,
    provider: "swagger-ui" as const,
    documentation: {
      info: {
        title: "WebEncode API",
        version: VERSION,
        description:
          "Distributed video transcoding: jobs, profiles, workers, plugins. Every route except health, metrics and this description needs `Authorization: Bearer <API key or session token>` (Authorize button); roles: docs/security.md.",
      },
      components: { securitySchemes: { bearer: { type: "http" as const, scheme: "bearer", description: "An API key (we_…), an auth-basic session token or an OIDC access token" } } },
      security: [{ bearer: [] }],
    },
    exclude: { paths: [/^\/swagger/] },
    swagger: {
      cdn: `${SWAGGER_ASSET_PREFIX}/swagger-ui-bundle.js`,
      theme: `${SWAGGER_ASSET_PREFIX}/swagger-ui.css`,
      autoDarkMode: false,
      // The plugin's default spec URL is relative ("swagger/json"): from "/swagger/" (which Elysia also
      // serves) it resolves to /swagger/swagger/json and the page stays blank. Absolute, like the assets.
      // (`url` is left out of the option's type but is spread into the page's SwaggerUIBundle call.)
      ...({ url: "/swagger/json" } as object),
    },
    mapJsonSchema: { valibot: (s: never) => toJsonSchema(s, { typeMode: "input", errorMode: "ignore" }) },
  };
}

/** The id a create call answered with (`{ id: … }`), for the audit entry's target. */
function createdIdOf(value: unknown): string | undefined {
  const id = value && typeof value === "object" ? (value as { id?: unknown }).id : undefined;
  return typeof id === "string" || typeof id === "number" ? String(id) : undefined;
}

/** Seconds a 503's client should wait: the error's own hint, or a short default. */
function retryAfterOf(details: Record<string, unknown> | undefined): number {
  const hint = details?.retry_after_s;
  return typeof hint === "number" && Number.isFinite(hint) && hint > 0 ? Math.ceil(hint) : 2;
}

/** Upload routes stream large bodies and enforce their own limit (UPLOAD_MAX_SIZE; live segments: delivery's). */
function isUploadRoute(path: string): boolean {
  return path === "/v1/files" || path.startsWith(LIVE_INTERNAL_PREFIX);
}

export type App = ReturnType<typeof createApp>;

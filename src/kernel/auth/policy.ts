/**
 * THE authorization table: every route the kernel serves, the least role that may call it, and the action
 * name recorded in the audit log. Roles nest (viewer < operator < admin, principal.ts).
 *
 *   public   no credentials (health, the API description, signed storage URLs which carry their own proof)
 *   viewer   read anything
 *   operator create and manage jobs, uploads, streams, restreams
 *   admin    profiles, plugins, workers, users, API keys, webhooks, audit, system settings
 *
 * A route missing here is refused for everyone (fail closed), and test/integration/auth-matrix.test.ts fails
 * for every registered route without an entry or answering differently from this table.
 */
import type { Role } from "./principal.ts";
import { UI_PAGE_PATHS } from "../api/ui.ts";

export type Need = Role | "public";

export interface Access {
  role: Need;
  /** "<resource>.<verb>": what the audit log records for state-changing calls. */
  action: string;
}

export const POLICY: Record<string, Access> = {
  // health, metrics (GET /metrics may require viewer: METRICS_REQUIRE_AUTH), API description
  "GET /v1/health": { role: "public", action: "system.liveness" },
  "GET /v1/system/health": { role: "public", action: "system.readiness" },
  "GET /metrics": { role: "public", action: "system.metrics" },
  "GET /swagger": { role: "public", action: "api.docs" },
  "GET /swagger/json": { role: "public", action: "api.spec" },
  "GET /swagger/assets/:name": { role: "public", action: "api.docs" },
  // Signed, expiring, prefix-scoped download URLs: the signature is the credential.
  "GET /v1/storage/storage-fs/t/:token/*": { role: "public", action: "storage.read" },
  // Live playback: public streams need nothing, signed ones carry ?token= (checked by live delivery).
  "GET /live/:stream_id/master.m3u8": { role: "public", action: "live.playback" },
  "GET /live/:stream_id/:rung/:file": { role: "public", action: "live.playback" },
  // A playback link (with a fresh token for a signed stream) for anyone who may see the stream.
  "GET /v1/streams/:id/playback": { role: "viewer", action: "streams.playback" },
  // The live transcode's segment pushes: the session's internal token is the credential (checked by the route).
  "PUT /internal/live/:session_id/:rung/:file": { role: "public", action: "live.push" },
  "DELETE /internal/live/:session_id/:rung/:file": { role: "public", action: "live.push" },
  // The live transcode's source pull from the ingesting kernel: same token (src/kernel/api/streams-internal.ts).
  "GET /internal/live/:session_id/source.flv": { role: "public", action: "live.source" },
  // The restream task's destinations (keys opened) and resume position: its restream token is the credential
  // (checked by the route, src/kernel/restream/internal.ts).
  "GET /internal/restreams/:id/claim": { role: "public", action: "restreams.claim" },
  // The web dashboard's page and files (src/kernel/api/ui.ts): public like Swagger UI; the page signs in itself.
  ...Object.fromEntries(UI_PAGE_PATHS.map((path) => [`GET ${path}`, { role: "public" as const, action: "ui.page" }])),
  "GET /ui/assets/:name": { role: "public", action: "ui.asset" },

  // jobs and uploads
  "GET /v1/jobs": { role: "viewer", action: "jobs.list" },
  "GET /v1/jobs/:id": { role: "viewer", action: "jobs.get" },
  "GET /v1/jobs/:id/logs": { role: "viewer", action: "jobs.logs" },
  "GET /v1/jobs/:id/outputs": { role: "viewer", action: "jobs.outputs" },
  "POST /v1/jobs": { role: "operator", action: "jobs.create" },
  "POST /v1/jobs/:id/cancel": { role: "operator", action: "jobs.cancel" },
  "POST /v1/jobs/:id/retry": { role: "operator", action: "jobs.retry" },
  "DELETE /v1/jobs/:id": { role: "operator", action: "jobs.delete" },
  "POST /v1/files": { role: "operator", action: "files.upload" },
  "GET /v1/files": { role: "viewer", action: "files.list" },
  "DELETE /v1/files/*": { role: "operator", action: "files.delete" },

  // events (Server-Sent Events)
  "GET /v1/events": { role: "viewer", action: "events.stream" },
  "POST /v1/events/tokens": { role: "viewer", action: "events.token" },

  // profiles
  "GET /v1/profiles": { role: "viewer", action: "profiles.list" },
  "GET /v1/profiles/:id": { role: "viewer", action: "profiles.get" },
  "POST /v1/profiles": { role: "admin", action: "profiles.create" },
  "PUT /v1/profiles/:id": { role: "admin", action: "profiles.update" },
  "DELETE /v1/profiles/:id": { role: "admin", action: "profiles.delete" },

  // workers
  "GET /v1/workers": { role: "viewer", action: "workers.list" },
  "GET /v1/workers/:id": { role: "viewer", action: "workers.get" },
  "POST /v1/workers/:id/drain": { role: "admin", action: "workers.drain" },
  "POST /v1/workers/:id/undrain": { role: "admin", action: "workers.undrain" },

  // plugins
  "GET /v1/plugins": { role: "viewer", action: "plugins.list" },
  "GET /v1/plugins/:id": { role: "viewer", action: "plugins.get" },
  "PUT /v1/plugins/:id/config": { role: "admin", action: "plugins.configure" },
  "POST /v1/plugins/:id/enable": { role: "admin", action: "plugins.enable" },
  "POST /v1/plugins/:id/disable": { role: "admin", action: "plugins.disable" },
  "POST /v1/plugins/:id/reload": { role: "admin", action: "plugins.reload" },
  // publishers (docs/publishers.md): the callback is reached by the provider's redirect, authorized by its sealed state
  "GET /v1/publishers/:id/connect": { role: "admin", action: "publishers.connect_start" },
  "GET /v1/publishers/:id/callback": { role: "public", action: "publishers.connect" },
  // a completed job's output uploaded to a publisher's platform (docs/publishers.md); the publish is audited
  "POST /v1/jobs/:id/publish": { role: "operator", action: "jobs.publish" },
  "GET /v1/jobs/:id/publications": { role: "viewer", action: "jobs.publications" },

  // webhooks (docs/webhooks.md)
  "GET /v1/webhooks": { role: "admin", action: "webhooks.list" },
  "POST /v1/webhooks": { role: "admin", action: "webhooks.create" },
  "GET /v1/webhooks/:id": { role: "admin", action: "webhooks.get" },
  "PUT /v1/webhooks/:id": { role: "admin", action: "webhooks.update" },
  "DELETE /v1/webhooks/:id": { role: "admin", action: "webhooks.delete" },
  "POST /v1/webhooks/:id/unmute": { role: "admin", action: "webhooks.unmute" },
  "GET /v1/webhooks/:id/deliveries": { role: "admin", action: "webhooks.deliveries" },
  "POST /v1/webhooks/:id/deliveries/:deliveryId/redeliver": { role: "admin", action: "webhooks.redeliver" },

  // live streams (docs/live.md): the key is revealed by create and rotate only (both audited)
  "GET /v1/streams": { role: "viewer", action: "streams.list" },
  "POST /v1/streams": { role: "operator", action: "streams.create" },
  "GET /v1/streams/:id": { role: "viewer", action: "streams.get" },
  "PUT /v1/streams/:id": { role: "operator", action: "streams.update" },
  "DELETE /v1/streams/:id": { role: "operator", action: "streams.delete" },
  "POST /v1/streams/:id/key/rotate": { role: "operator", action: "streams.key_rotate" },
  "POST /v1/streams/:id/stop": { role: "operator", action: "streams.stop" },
  "GET /v1/streams/:id/stats": { role: "viewer", action: "streams.stats" },
  "GET /v1/streams/:id/sessions": { role: "viewer", action: "streams.sessions" },
  // restreams (docs/restream.md): keys are write-only; create, start, stop and delete are audited
  "GET /v1/restreams": { role: "viewer", action: "restreams.list" },
  "POST /v1/restreams": { role: "operator", action: "restreams.create" },
  "GET /v1/restreams/:id": { role: "viewer", action: "restreams.get" },
  "DELETE /v1/restreams/:id": { role: "operator", action: "restreams.delete" },
  "POST /v1/restreams/:id/start": { role: "operator", action: "restreams.start" },
  "POST /v1/restreams/:id/stop": { role: "operator", action: "restreams.stop" },
  // a live stream's restream destinations (docs/restream.md): keys are write-only
  "GET /v1/streams/:id/destinations": { role: "viewer", action: "stream_destinations.list" },
  "POST /v1/streams/:id/destinations": { role: "operator", action: "stream_destinations.create" },
  "GET /v1/streams/:id/destinations/:destId": { role: "viewer", action: "stream_destinations.get" },
  "PATCH /v1/streams/:id/destinations/:destId": { role: "operator", action: "stream_destinations.update" },
  "DELETE /v1/streams/:id/destinations/:destId": { role: "operator", action: "stream_destinations.delete" },

  // API keys, audit
  "GET /v1/api-keys": { role: "admin", action: "api_keys.list" },
  "POST /v1/api-keys": { role: "admin", action: "api_keys.create" },
  "DELETE /v1/api-keys/:id": { role: "admin", action: "api_keys.revoke" },
  "GET /v1/audit": { role: "admin", action: "audit.list" },
  "GET /v1/auth/whoami": { role: "viewer", action: "auth.whoami" },
  // password login (auth-basic): public, they are how a user gets credentials
  "POST /v1/auth/login": { role: "public", action: "auth.login" },
  // how to sign in (the dashboard's sign-in page, before anyone is signed in): public
  "GET /v1/auth/providers": { role: "public", action: "auth.providers" },
  "POST /v1/auth/refresh": { role: "public", action: "auth.refresh" },
  // password users (auth-basic)
  "GET /v1/users": { role: "admin", action: "users.list" },
  "GET /v1/users/:id": { role: "admin", action: "users.get" },
  "POST /v1/users": { role: "admin", action: "users.create" },
  "PUT /v1/users/:id": { role: "admin", action: "users.update" },
  "DELETE /v1/users/:id": { role: "admin", action: "users.delete" },
};

/** The policy of a registered route pattern; undefined = not in the table (refused). */
export function accessFor(method: string, route: string): Access | undefined {
  return POLICY[`${method.toUpperCase()} ${route}`] ?? (method.toUpperCase() === "HEAD" ? POLICY[`GET ${route}`] : undefined);
}

/**
 * The HTTP guards as one plugin, used right after the request-id hook (app.ts): CORS first, so an allowed
 * page can read even a 429; then rate limiting, before authentication (a later hook), so guessing keys is
 * throttled like any other request; then the JSON depth limit on parsed bodies, before validation.
 */
import { Elysia } from "elysia";
import type { KernelContext } from "../context.ts";
import { corsHook } from "./cors.ts";
import { jsonDepthHook } from "./json-limits.ts";
import { rateLimitHook } from "./rate-limit.ts";

export function httpGuards(ctx: KernelContext, requestId: (r: Request) => string) {
  const { config } = ctx;
  const limit = rateLimitHook(config, requestId);
  // No name: Elysia deduplicates named plugins, and every kernel (tests run several per process) needs its own buckets.
  const guards = new Elysia().onRequest(corsHook(config.CORS_ORIGINS, requestId, config.MEDIA_CORS_ORIGINS));
  return (limit ? guards.onRequest(limit) : guards).onTransform({ as: "global" }, jsonDepthHook(config.JSON_MAX_DEPTH));
}

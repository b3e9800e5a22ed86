/**
 * `/v1/publishers/:id/connect` and `/callback`: an admin connects a publisher plugin's platform account
 * (OAuth 2.0 authorization code + PKCE; src/kernel/publishers/connect.ts, docs/publishers.md). The callback is
 * public because the provider redirects the admin's browser there without WebEncode credentials; the sealed
 * `state` (minted for an admin by `connect`, ten minutes) is what authorizes it.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { principalOf } from "../auth/middleware.ts";
import type { KernelContext } from "../context.ts";
import { beginConnect, completeConnect } from "../publishers/connect.ts";
import { requestIds } from "./request-id.ts";

const idParams = v.object({ id: v.pipe(v.string(), v.regex(/^publisher-[a-z0-9._-]{1,54}$/, "must be a publisher plugin id (publisher-…)")) });
const short = v.optional(v.pipe(v.string(), v.maxLength(4096)));
const callbackQuery = v.object({ code: short, state: short, error: short, error_description: short, scope: short });

export function publisherRoutes(ctx: KernelContext) {
  return new Elysia({ prefix: "/v1/publishers", detail: { tags: ["publishers"] } } as never)
    .get(
      "/:id/connect",
      async ({ params, request }) => {
        const url = await beginConnect(ctx, params.id, principalOf(request)!);
        return new Response(null, { status: 302, headers: { location: url, "cache-control": "no-store" } });
      },
      { params: idParams, detail: { summary: "Start connecting the publisher's platform account: 302 to the provider's consent page (state + PKCE)" } },
    )
    .get(
      "/:id/callback",
      async ({ params, query, request }) => {
        const info = requestIds.get(request);
        return completeConnect(ctx, params.id, query, { requestId: info?.id ?? "", clientIp: info?.ip ?? null, userAgent: request.headers.get("user-agent") });
      },
      { params: idParams, query: callbackQuery, detail: { summary: "Where the provider returns the admin: exchanges the code, stores the refresh token encrypted (never returned)" } },
    );
}

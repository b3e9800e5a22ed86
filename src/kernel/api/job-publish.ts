/**
 * `POST /v1/jobs/:id/publish` (a completed job's output uploaded to a publisher's platform, 202 with the
 * publication) and `GET /v1/jobs/:id/publications`. The work is in src/kernel/publishers/publish.ts;
 * docs/publishers.md, "Publishing a job's output".
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { principalOf } from "../auth/middleware.ts";
import type { KernelContext } from "../context.ts";
import { jobPublications, publishJobOutput } from "../publishers/publish.ts";
import { limitParam, offsetParam, page } from "./pagination.ts";

const jobId = v.object({ id: v.pipe(v.string(), v.uuid("job ids are UUIDs")) });
// YouTube's own limits on a video's title and description (it refuses '<' and '>' in both).
const noAngles = (what: string) => v.regex(/^[^<>]*$/, `${what} cannot contain < or >`);

export const publishRequestSchema = v.object({
  publisher: v.pipe(v.string(), v.regex(/^publisher-[a-z0-9._-]{1,54}$/, "publisher is a publisher plugin id (publisher-…)")),
  account: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(200))),
  output: v.optional(
    v.union(
      [v.pipe(v.string(), v.minLength(1), v.maxLength(64)), v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(999))],
      "output is an output id, a profile name, or an index among the job's video files (from 0)",
    ),
  ),
  title: v.pipe(v.string(), v.trim(), v.minLength(1, "title is required"), v.maxLength(100, "title is at most 100 characters"), noAngles("title")),
  description: v.optional(v.pipe(v.string(), v.maxLength(5000, "description is at most 5000 characters"), noAngles("description"))),
  privacy: v.optional(v.picklist(["private", "unlisted", "public"], "privacy is private, unlisted or public")),
});

const listQuery = v.object({ limit: limitParam, offset: offsetParam });

export function jobPublishRoutes(ctx: KernelContext) {
  return new Elysia({ prefix: "/v1/jobs", detail: { tags: ["jobs"] } } as never)
    .post(
      "/:id/publish",
      async ({ params, body, request, set }) => {
        const publication = await publishJobOutput(ctx, params.id, body, principalOf(request));
        set.status = 202;
        return publication;
      },
      { params: jobId, body: publishRequestSchema, detail: { summary: "Upload a completed job's output to a publisher's platform (resumable; 202, then GET …/publications)" } },
    )
    .get(
      "/:id/publications",
      async ({ params, query }) => {
        const { limit, offset } = page(query);
        return { items: await jobPublications(ctx, params.id, limit, offset), limit, offset };
      },
      { params: jobId, query: listQuery, detail: { summary: "The job's publications, newest first: uploading, completed (video id and URL) or failed (error)" } },
    );
}

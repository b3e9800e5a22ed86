/**
 * The pure parts of VOD publishing: which output is uploaded (src/kernel/publishers/publish-output.ts), what a
 * failed run leaves (publish-run.ts outcomeOf: released, resumed later, failed), and the API view that never
 * shows the platform's session.
 */
import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { publishRequestSchema } from "../../src/kernel/api/job-publish.ts";
import { PUBLISH_REQUEST_EXAMPLE } from "../../src/kernel/api/openapi-schemas.ts";
import { AppError } from "../../src/core/errors.ts";
import type { outputs } from "../../src/db/schema.ts";
import { chooseOutput } from "../../src/kernel/publishers/publish-output.ts";
import { MAX_RUNS, outcomeOf } from "../../src/kernel/publishers/publish-run.ts";
import { publicationView } from "../../src/kernel/publishers/publish.ts";
import type { PublicationRow } from "../../src/kernel/publishers/publish-store.ts";

type Output = typeof outputs.$inferSelect;
let n = 0;
const output = (kind: string, profile: string, height: number | null, bitrate: number | null = null): Output => ({
  id: `00000000-0000-4000-8000-00000000000${n++}`,
  jobId: "job",
  kind,
  profile,
  storagePlugin: "storage-fs",
  storageKey: `jobs/job/output/${profile}.${kind}`,
  storagePrefix: null,
  sizeBytes: 1000,
  durationS: 2,
  width: null,
  height,
  bitrate,
  videoCodec: null,
  audioCodec: null,
  details: {},
  createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n)),
});

function refusal(fn: () => unknown): AppError {
  try {
    fn();
  } catch (e) {
    return e as AppError;
  }
  throw new Error("expected a refusal");
}

describe("chooseOutput", () => {
  const small = output("mp4", "360p_h264", 360);
  const big = output("mp4", "720p_h264", 720);
  const hls = output("hls", "hls", null);
  const rows = [small, hls, big];

  test("default: the largest picture; by profile, id or index (oldest first)", () => {
    expect(chooseOutput("j", rows, undefined)).toBe(big);
    expect(chooseOutput("j", rows, "360p_h264")).toBe(small);
    expect(chooseOutput("j", rows, big.id)).toBe(big);
    expect(chooseOutput("j", rows, 0)).toBe(small);
    expect(chooseOutput("j", rows, 1)).toBe(big);
  });

  test("refusals name the choices; an HLS-only job is not publishable", () => {
    expect(refusal(() => chooseOutput("j", rows, 2)).message).toBe(
      `job j has 2 video file(s); output 2 is out of range (count from 0): its video files: 360p_h264 (mp4, id ${small.id}), 720p_h264 (mp4, id ${big.id})`,
    );
    expect(refusal(() => chooseOutput("j", rows, hls.id)).message).toStartWith(`output ${hls.id} of job j is hls, not one video file;`);
    expect(refusal(() => chooseOutput("j", rows, "1080p_h264")).code).toBe("WE-JOB-001");
    const hlsOnly = refusal(() => chooseOutput("j", [hls], undefined));
    expect(hlsOnly.code).toBe("WE-PUB-004");
    expect(hlsOnly.details).toEqual({ kinds: ["hls"] });
  });
});

describe("outcomeOf (what a failed upload run leaves)", () => {
  test("stopping releases it; transient failures are resumed later while runs are left; the rest fail", () => {
    expect(outcomeOf({ runs: 1 }, new AppError("WE-PUB-002", "quota"), true)).toEqual({ status: "released" });
    expect(outcomeOf({ runs: 1 }, new AppError("WE-PUB-002", "quota"), false)).toEqual({ status: "failed", errorCode: "WE-PUB-002", errorMessage: "quota" });
    expect(outcomeOf({ runs: 1 }, new AppError("WE-PUB-001", "reconnect", { reconnect: true }), false).status).toBe("failed");
    expect(outcomeOf({ runs: 2 }, new AppError("WE-PUB-003", "503", { retryable: true }), false)).toEqual({ status: "retry", errorCode: "WE-PUB-003", errorMessage: "503", retryInMs: 30_000 });
    expect(outcomeOf({ runs: MAX_RUNS }, new AppError("WE-PUB-003", "503", { retryable: true }), false).status).toBe("failed");
    expect(outcomeOf({ runs: 1 }, new AppError("WE-PUB-003", "refused", { retryable: false }), false).status).toBe("failed");
    expect(outcomeOf({ runs: 1 }, new AppError("WE-PLG-004", "exited"), false).status).toBe("retry");
    expect(outcomeOf({ runs: 1 }, new AppError("WE-PLG-004", "no such method", { rpc_code: -32601 }), false).status).toBe("failed");
    expect(outcomeOf({ runs: 1 }, new Error("boom"), false)).toEqual({ status: "failed", errorCode: "WE-SYS-001", errorMessage: "internal error during the upload; the kernel log has the details" });
  });
});

test("the publication view never shows the session or the lease", () => {
  const row = {
    id: "p",
    jobId: "j",
    outputId: "o",
    publisher: "publisher-youtube",
    account: null,
    title: "t",
    description: "",
    privacy: "private",
    status: "uploading",
    bytesTotal: 10,
    bytesConfirmed: 5,
    sessionSealed: "wesec:v1:secret",
    platformVideoId: null,
    url: null,
    errorCode: null,
    errorMessage: null,
    runs: 1,
    leaseOwner: "kernel-a",
    leaseExpiresAt: new Date(),
    createdBy: "key:x",
    createdAt: new Date(),
    updatedAt: new Date(),
    finishedAt: null,
  } satisfies PublicationRow;
  const view = JSON.stringify(publicationView(row));
  expect(view).not.toContain("wesec");
  expect(view).not.toContain("kernel-a");
  expect(publicationView(row).error).toBeNull();
});

test("the OpenAPI example body is valid for the route", () => {
  expect(v.safeParse(publishRequestSchema, PUBLISH_REQUEST_EXAMPLE).success).toBe(true);
});

/**
 * The pure parts of restream jobs (issue 16): the tick's decision per row (start at start_at, stop at stop_at,
 * follow a job that ended), a new restream's status, the failed/recovered events derived from two reports, the
 * resume position in a (looping) file, the restream token, and the live input's Authorization header.
 */
import { describe, expect, test } from "bun:test";
import { createSecretBox } from "../../src/core/secret-box.ts";
import { filePosition, restreamInputArgs } from "../../src/media/restream/args.ts";
import { destinationChanges, initialStatus, tickAction, type ScheduleRow } from "../../src/kernel/restream/schedule.ts";
import { signRestreamToken, verifyRestreamToken } from "../../src/kernel/restream/token.ts";
import { isStreamingTask, leaseTtlMsFor, LIVE_LEASE_TTL_MS, taskDeadlineMs } from "../../src/core/topology.ts";
import { failuresAfter } from "../../src/kernel/orchestrator/results.ts";
import { warmupMs } from "../../src/worker/tasks/restream-task.ts";

const now = Date.UTC(2026, 0, 31, 20, 0, 0);
const at = (offsetMs: number) => new Date(now + offsetMs);
const row = (patch: Partial<ScheduleRow>): ScheduleRow => ({ status: "scheduled", startAt: null, stopAt: null, jobStatus: null, ...patch });

describe("tickAction", () => {
  test.each([
    ["scheduled, start_at to come", row({ startAt: at(1) }), { do: "none" }],
    ["scheduled, start_at now", row({ startAt: at(0) }), { do: "start" }],
    ["scheduled, start_at passed", row({ startAt: at(-500) }), { do: "start" }],
    ["scheduled without start_at", row({}), { do: "start" }],
    ["scheduled whose stop_at passed before it started", row({ startAt: at(-5000), stopAt: at(-1) }), { do: "end", status: "stopped" }],
    ["live, stop_at to come", row({ status: "live", stopAt: at(1), jobStatus: "processing" }), { do: "none" }],
    ["live, stop_at now", row({ status: "live", stopAt: at(0), jobStatus: "processing" }), { do: "stop", reason: "stop_at" }],
    ["starting, stop_at passed", row({ status: "starting", stopAt: at(-1), jobStatus: "processing" }), { do: "stop", reason: "stop_at" }],
    ["live, its job completed (input ended)", row({ status: "live", jobStatus: "completed" }), { do: "end", status: "completed" }],
    ["live, its job failed", row({ status: "live", jobStatus: "failed" }), { do: "end", status: "failed" }],
    ["live, its job completed at stop_at (the worker stopped itself)", row({ status: "live", stopAt: at(-10), jobStatus: "completed" }), { do: "end", status: "stopped" }],
    ["live, its job cancelled", row({ status: "live", jobStatus: "cancelled" }), { do: "end", status: "stopped" }],
    ["stopped", row({ status: "stopped", stopAt: at(-1), jobStatus: "cancelled" }), { do: "none" }],
    ["completed", row({ status: "completed", jobStatus: "completed" }), { do: "none" }],
  ] as const)("%s", (_name, input, expected) => {
    expect(tickAction(input, now)).toEqual(expected as never);
  });

  test("with a lead, a scheduled restream is started that long before start_at (the worker waits for start_at)", () => {
    expect(tickAction(row({ startAt: at(3_000) }), now, 3_000)).toEqual({ do: "start" });
    expect(tickAction(row({ startAt: at(3_001) }), now, 3_000)).toEqual({ do: "none" });
  });

  test("the worker starts its processes ahead of start_at by twice its probe's time, within bounds", () => {
    expect(warmupMs(null)).toBe(700);
    expect(warmupMs(100)).toBe(700);
    expect(warmupMs(1_200)).toBe(2_400);
    expect(warmupMs(9_000)).toBe(5_000);
  });

  test("a new restream is scheduled only for a start_at in the future", () => {
    expect(initialStatus(null, now)).toBe("starting");
    expect(initialStatus(at(-1), now)).toBe("starting");
    expect(initialStatus(at(1), now)).toBe("scheduled");
  });
});

describe("destinationChanges", () => {
  const r = (id: string, status: string, last_error: string | null = null) => ({ id, status, last_error });
  test("failed once per outage, recovered when live again", () => {
    expect(destinationChanges([], [r("d1", "connecting")])).toEqual([]);
    expect(destinationChanges([r("d1", "live")], [r("d1", "retrying", "Connection refused")])).toEqual([
      { type: "restream.destination.failed", destination_id: "d1", error: "Connection refused", terminal: false },
    ]);
    // Still retrying (the next attempts): no new event.
    expect(destinationChanges([r("d1", "retrying", "a")], [r("d1", "retrying", "b")])).toEqual([]);
    expect(destinationChanges([r("d1", "retrying", "a")], [r("d1", "live")])).toEqual([{ type: "restream.destination.recovered", destination_id: "d1", error: null, terminal: false }]);
  });

  test("a refusal before ever being live fails at once; retrying → failed is the terminal event", () => {
    expect(destinationChanges([], [r("d2", "failed", "Server error: unknown stream key")])).toEqual([
      { type: "restream.destination.failed", destination_id: "d2", error: "Server error: unknown stream key", terminal: true },
    ]);
    expect(destinationChanges([r("d2", "retrying", "x")], [r("d2", "failed", "denied")])).toEqual([{ type: "restream.destination.failed", destination_id: "d2", error: "denied", terminal: true }]);
    expect(destinationChanges([r("d2", "failed", "denied")], [r("d2", "failed", "denied")])).toEqual([]);
  });

  test("a reconnect attempt seen between two reports (connecting with the last error) is still the same outage", () => {
    // retrying → connecting → live: recovered.
    expect(destinationChanges([r("d1", "connecting", "Connection refused")], [r("d1", "live", "Connection refused")])).toEqual([{ type: "restream.destination.recovered", destination_id: "d1", error: null, terminal: false }]);
    // retrying → connecting → retrying: no second failure.
    expect(destinationChanges([r("d1", "connecting", "Connection refused")], [r("d1", "retrying", "Connection refused")])).toEqual([]);
    // A first connection (no error yet) going live is no recovery.
    expect(destinationChanges([r("d1", "connecting")], [r("d1", "live")])).toEqual([]);
  });

  test("stopped is not a failure", () => {
    expect(destinationChanges([r("d1", "live")], [r("d1", "stopped")])).toEqual([]);
  });
});

describe("filePosition (where a resumed attempt starts)", () => {
  test("a looping file folds the elapsed time into its duration", () => {
    expect(filePosition(0, 3.2, 4, true)).toBe(3.2);
    expect(filePosition(0, 9.5, 4, true)).toBe(1.5);
    expect(filePosition(3, 2, 4, true)).toBe(1);
  });
  test("a file played once stops at its end; an unknown duration is not folded", () => {
    expect(filePosition(2, 10, 4, false)).toBe(4);
    expect(filePosition(2, 10, null, true)).toBe(12);
    expect(filePosition(-1, -1, 4, true)).toBe(0);
  });
  test("the input reader seeks there, and loops", () => {
    expect(restreamInputArgs({ kind: "file", source: "/m/a.mp4", loop: true, startSeconds: 1.5 })).toEqual([
      "-hide_banner", "-nostdin", "-loglevel", "warning", "-re", "-stream_loop", "-1", "-ss", "1.5",
      "-i", "/m/a.mp4", "-map", "0:v:0?", "-map", "0:a:0?", "-c", "copy", "-f", "flv", "pipe:1",
    ]);
  });
  test("a live input carries the session's token as an Authorization header", () => {
    const argv = restreamInputArgs({ kind: "live", source: "http://k/internal/live/s/source.flv", token: "wlt1.t" });
    expect(argv.slice(argv.indexOf("-headers"), argv.indexOf("-headers") + 4)).toEqual(["-headers", "Authorization: Bearer wlt1.t\r\n", "-i", "http://k/internal/live/s/source.flv"]);
    expect(argv).not.toContain("-re");
  });
});

describe("restream token", () => {
  const box = createSecretBox("a".repeat(64));
  const id = "6f1c2a4e-8d0b-4c3e-9a57-2b1d0e9f4c11";
  test("good for its restream until it expires", () => {
    const token = signRestreamToken(box, id, new Date(now + 60_000));
    expect(verifyRestreamToken(box, token, id, now)).toEqual({ ok: true });
    expect(verifyRestreamToken(box, token, "7f1c2a4e-8d0b-4c3e-9a57-2b1d0e9f4c11", now)).toEqual({ ok: false, reason: "wrong_restream" });
    expect(verifyRestreamToken(box, token, id, now + 61_000)).toEqual({ ok: false, reason: "expired" });
    expect(verifyRestreamToken(createSecretBox("b".repeat(64)), token, id, now)).toEqual({ ok: false, reason: "bad_signature" });
    expect(verifyRestreamToken(box, null, id, now)).toEqual({ ok: false, reason: "missing" });
    expect(verifyRestreamToken(box, "wrt1.x", id, now)).toEqual({ ok: false, reason: "malformed" });
  });
});

describe("streaming tasks (one rule for live and restream)", () => {
  test("short lease, far deadline", () => {
    for (const type of ["live", "restream"]) {
      expect(isStreamingTask(type)).toBe(true);
      expect(leaseTtlMsFor(type, 30_000)).toBe(LIVE_LEASE_TTL_MS);
      expect(taskDeadlineMs(type, 0)).toBe(7 * 24 * 3600_000);
    }
    // Consecutive failures: an attempt that ran a minute or longer starts the count again (a worker death).
    const now = Date.now();
    expect(failuresAfter({ type: "restream", failures: 4, startedAt: new Date(now - 61_000) }, now)).toBe(1);
    expect(failuresAfter({ type: "restream", failures: 4, startedAt: new Date(now - 1_000) }, now)).toBe(5);
    expect(failuresAfter({ type: "video", failures: 1, startedAt: new Date(now - 61_000) }, now)).toBe(2);
    expect(isStreamingTask("video")).toBe(false);
    expect(leaseTtlMsFor("video", 30_000)).toBe(30_000);
  });
});

describe("the OpenAPI example of POST /v1/restreams", () => {
  test("passes the request rules", async () => {
    const { RESTREAM_REQUEST_EXAMPLE } = await import("../../src/kernel/api/openapi-schemas.ts");
    const { planRestream } = await import("../../src/kernel/restream/request.ts");
    const plan = planRestream(RESTREAM_REQUEST_EXAMPLE, createSecretBox("c".repeat(64)));
    expect(plan.destinations.length).toBe(2);
    expect(plan.startAt?.toISOString()).toBe("2026-01-31T20:00:00.000Z");
  });
});

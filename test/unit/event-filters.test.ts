/**
 * GET /v1/events building blocks that can be pure: filter parsing and matching, Last-Event-ID parsing, the
 * SSE wire format, the progress throttle (pure, and the publisher on the in-process bus), and the cursor
 * that reads events in id order without skipping one that commits late.
 */
import { describe, expect, test } from "bun:test";
import { MemoryBus } from "../../src/bus/memory.ts";
import { JOB_PROGRESS_SUBJECT } from "../../src/bus/subjects.ts";
import { AppError } from "../../src/core/errors.ts";
import { createLogger } from "../../src/core/logger.ts";
import { advance, type Cursor } from "../../src/kernel/events/cursor.ts";
import { matches, parseLastEventId, parseTypes, throttleDelay, typeMatches } from "../../src/kernel/events/filters.ts";
import { createProgressPublisher, type JobProgressUpdate } from "../../src/kernel/events/progress.ts";
import { formatComment, formatEvent, SseClient } from "../../src/kernel/events/sse.ts";
import type { StoredEvent } from "../../src/kernel/events/store.ts";

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof AppError ? e.code : `not an AppError: ${String(e)}`;
  }
  return undefined;
}

describe("types filter", () => {
  test("exact types and trailing-* prefixes", () => {
    const t = parseTypes("job.completed, task.*,worker.drain*");
    expect(t).toEqual({ exact: ["job.completed"], prefixes: ["task.", "worker.drain"] });
    expect(typeMatches(t, "job.completed")).toBe(true);
    expect(typeMatches(t, "job.completed2")).toBe(false);
    expect(typeMatches(t, "job.failed")).toBe(false);
    expect(typeMatches(t, "task.leased")).toBe(true);
    expect(typeMatches(t, "task")).toBe(false);
    expect(typeMatches(t, "worker.draining")).toBe(true);
    expect(typeMatches(t, "worker.undrained")).toBe(false);
  });

  test("absent, empty and * mean every type", () => {
    for (const raw of [undefined, "", "  ", "*", "job.created,*"]) {
      const t = parseTypes(raw);
      expect(t).toBeUndefined();
      expect(typeMatches(t, "anything.at_all")).toBe(true);
    }
  });

  test("bad patterns are WE-REQ-001 naming the pattern", () => {
    for (const raw of ["job completed", "job.*.x", "*.completed", "Job.Created", "job.", "a".repeat(65), "x;drop"]) {
      expect(codeOf(() => parseTypes(raw))).toBe("WE-REQ-001");
    }
    try {
      parseTypes("job.ok,bad pattern");
    } catch (e) {
      expect((e as Error).message).toContain('"bad pattern"');
    }
    expect(codeOf(() => parseTypes(Array.from({ length: 33 }, (_, i) => `t${i}`).join(",")))).toBe("WE-REQ-001");
  });

  test("job_id, stream_id and types all have to match", () => {
    const f = { jobId: "j1", types: parseTypes("job.*") };
    expect(matches(f, { type: "job.completed", job_id: "j1", stream_id: null })).toBe(true);
    expect(matches(f, { type: "job.completed", job_id: "j2", stream_id: null })).toBe(false);
    expect(matches(f, { type: "task.completed", job_id: "j1", stream_id: null })).toBe(false);
    expect(matches(f, { type: "worker.joined", job_id: null, stream_id: null })).toBe(false);
    expect(matches({ streamId: "s" }, { type: "stream.started", job_id: null, stream_id: "s" })).toBe(true);
    expect(matches({ streamId: "s" }, { type: "stream.started", job_id: null, stream_id: "t" })).toBe(false);
    expect(matches({}, { type: "plugin.state_changed", job_id: null, stream_id: null })).toBe(true);
  });
});

describe("Last-Event-ID", () => {
  test("header wins over the query; absent = live only", () => {
    expect(parseLastEventId(null, undefined)).toBeUndefined();
    expect(parseLastEventId("", undefined)).toBeUndefined();
    expect(parseLastEventId("42", "7")).toBe(42);
    expect(parseLastEventId(null, "7")).toBe(7);
    expect(parseLastEventId(" 0 ", undefined)).toBe(0);
  });

  test("anything but a non-negative integer is WE-REQ-001", () => {
    for (const bad of ["-1", "1.5", "abc", "1e3", "9".repeat(16)]) {
      expect(codeOf(() => parseLastEventId(bad, undefined))).toBe("WE-REQ-001");
      expect(codeOf(() => parseLastEventId(null, bad))).toBe("WE-REQ-001");
    }
  });
});

describe("SSE wire format", () => {
  test("stored events carry id:, event: and one data: line", () => {
    const text = formatEvent({ id: 12, type: "job.completed", job_id: "j", stream_id: null, worker_id: null, data: { note: "two\nlines" }, created_at: "2026-01-01T00:00:00.000Z" });
    expect(text).toBe(`id: 12\nevent: job.completed\ndata: {"id":12,"type":"job.completed","job_id":"j","stream_id":null,"worker_id":null,"data":{"note":"two\\nlines"},"created_at":"2026-01-01T00:00:00.000Z"}\n\n`);
  });

  test("progress (not stored) has no id: line, so it never moves the client's Last-Event-ID", () => {
    const text = formatEvent({ id: null, type: "job.progress", job_id: "j", stream_id: null, worker_id: null, data: { progress: 5 }, created_at: "x" });
    expect(text.startsWith("event: job.progress\ndata: ")).toBe(true);
    expect(text).not.toContain("id: ");
  });

  test("comments cannot be split into fields", () => {
    expect(formatComment("a\nb\r\nc")).toBe(": a b c\n\n");
  });
});

describe("progress throttle", () => {
  test("throttleDelay: first update at once, then one per interval", () => {
    expect(throttleDelay(undefined, 1000, 250)).toBe(0);
    expect(throttleDelay(1000, 1000, 250)).toBe(250);
    expect(throttleDelay(1000, 1100, 250)).toBe(150);
    expect(throttleDelay(1000, 1250, 250)).toBe(0);
    expect(throttleDelay(1000, 5000, 250)).toBe(0);
  });

  test("publisher: a burst of 200 updates for one job gives ≤ ~4/s and ends with the latest value; jobs are independent", async () => {
    const bus = new MemoryBus({ presenceTtlMs: 10_000 });
    const got: Array<JobProgressUpdate & { at: number }> = [];
    bus.subscribe<JobProgressUpdate>(JOB_PROGRESS_SUBJECT, (p) => got.push({ ...p, at: Date.now() }));
    const pub = createProgressPublisher(bus, createLogger("test", "silent"), 250);
    try {
      const start = Date.now();
      for (let i = 1; i <= 200; i++) {
        pub.publish({ job_id: "a", progress: i / 2, eta_seconds: 200 - i });
        if (i === 1) pub.publish({ job_id: "b", progress: 1, eta_seconds: null });
        await Bun.sleep(5);
      }
      const elapsed = Date.now() - start;
      await Bun.sleep(400);
      const a = got.filter((p) => p.job_id === "a");
      expect(a.at(-1)).toMatchObject({ progress: 100, eta_seconds: 0 });
      // One at once, then at most one per 250 ms (plus the trailing one).
      expect(a.length).toBeLessThanOrEqual(Math.ceil(elapsed / 250) + 2);
      expect(a.length).toBeGreaterThanOrEqual(2);
      for (let i = 1; i < a.length; i++) expect(a[i]!.at - a[i - 1]!.at).toBeGreaterThanOrEqual(240);
      for (let i = 1; i < a.length; i++) expect(a[i]!.progress).toBeGreaterThan(a[i - 1]!.progress);
      expect(got.filter((p) => p.job_id === "b")).toEqual([expect.objectContaining({ job_id: "b", progress: 1 })]);
    } finally {
      pub.stop();
      await bus.close();
    }
  });
});

describe("cursor: id order without skipping late commits", () => {
  const rows = (...ids: number[]) => ids.map((id) => ({ id }));
  const snap = (xmin: number, xmax: number) => ({ xmin: BigInt(xmin), xmax: BigInt(xmax) });
  const start: Cursor = { last: 10, marks: [] };

  test("contiguous ids are delivered at once, whatever is running", () => {
    const r = advance(start, rows(11, 12, 13), snap(100, 105), false, 0, 60_000);
    expect(r.deliver.map((e) => e.id)).toEqual([11, 12, 13]);
    expect(r.cursor).toEqual({ last: 13, marks: [] });
  });

  test("a gap holds back what follows until every transaction running at the read has ended; a late commit is then delivered first", () => {
    // 11 is taken by a transaction still running (xid 100); 12 and 13 committed.
    let r = advance(start, rows(12, 13), snap(100, 105), false, 0, 60_000);
    expect(r.deliver).toEqual([]);
    expect(r.cursor.last).toBe(10);
    expect(r.cursor.marks).toEqual([{ upTo: 13, xmax: 105n, at: 0 }]);
    // Still running: nothing moves.
    r = advance(r.cursor, rows(12, 13, 14), snap(100, 106), false, 250, 60_000);
    expect(r.deliver).toEqual([]);
    // It committed: 11 shows up, everything goes out in order.
    r = advance(r.cursor, rows(11, 12, 13, 14), snap(106, 107), false, 500, 60_000);
    expect(r.deliver.map((e) => e.id)).toEqual([11, 12, 13, 14]);
    expect(r.cursor).toEqual({ last: 14, marks: [] });
  });

  test("a rolled-back id is skipped once the transactions have ended", () => {
    let r = advance(start, rows(12), snap(100, 105), false, 0, 60_000);
    expect(r.deliver).toEqual([]);
    r = advance(r.cursor, rows(12, 13), snap(105, 106), false, 250, 60_000);
    expect(r.deliver.map((e) => e.id)).toEqual([12, 13]);
    expect(r.cursor.last).toBe(13);
  });

  test("ids after the mark's range wait for their own proof", () => {
    // Gap at 11 seen up to 12 (xmax 105); later 14 arrives with 13 missing (xmax 110).
    let r = advance(start, rows(12), snap(100, 105), false, 0, 60_000);
    r = advance(r.cursor, rows(12, 14), snap(100, 110), false, 250, 60_000);
    expect(r.deliver).toEqual([]);
    // The first range settles (11 rolled back), the second not yet: 12 goes, 14 waits for 13.
    r = advance(r.cursor, rows(12, 14), snap(105, 111), false, 500, 60_000);
    expect(r.deliver.map((e) => e.id)).toEqual([12]);
    expect(r.cursor.last).toBe(12);
    r = advance(r.cursor, rows(13, 14), snap(111, 111), false, 750, 60_000);
    expect(r.deliver.map((e) => e.id)).toEqual([13, 14]);
  });

  test("nothing running at all: every gap below the newest id is final", () => {
    const r = advance(start, rows(12, 15), snap(200, 200), false, 0, 60_000);
    expect(r.deliver.map((e) => e.id)).toEqual([12, 15]);
    expect(r.cursor).toEqual({ last: 15, marks: [] });
  });

  test("a truncated read never jumps past the last row read", () => {
    const c: Cursor = { last: 10, marks: [{ upTo: 50, xmax: 100n, at: 0 }] };
    const r = advance(c, rows(12, 13), snap(100, 120), true, 10, 60_000);
    expect(r.deliver.map((e) => e.id)).toEqual([12, 13]);
    expect(r.cursor.last).toBe(13);
    const r2 = advance(c, rows(12, 13), snap(100, 120), false, 10, 60_000);
    expect(r2.cursor.last).toBe(50);
  });

  test("a gap older than maxWait is given up on (and reported)", () => {
    let r = advance(start, rows(12), snap(100, 105), false, 0, 1_000);
    r = advance(r.cursor, rows(12), snap(100, 106), false, 500, 1_000);
    expect(r.deliver).toEqual([]);
    r = advance(r.cursor, rows(12), snap(100, 106), false, 1_500, 1_000);
    expect(r.deliver.map((e) => e.id)).toEqual([12]);
    expect(r.abandoned).toEqual([{ upTo: 12, xmax: 105n, at: 0 }]);
  });
});

describe("SSE client stream", () => {
  const limits = { highWaterBytes: 1024, maxBacklogBytes: 8 * 1024, maxHeldEvents: 50, retryMs: 1500 };
  const ev = (id: number, type = "job.created"): StoredEvent => ({ id, type, job_id: "j", stream_id: null, worker_id: null, data: {}, created_at: "2026-01-01T00:00:00.000Z" });
  const idsIn = (text: string) => [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));

  async function drain(stream: ReadableStream<Uint8Array>): Promise<string> {
    return new Response(stream).text();
  }

  test("live events held during the replay go out after it: in order, none twice, filtered", async () => {
    const c = new SseClient((e) => e.type !== "task.leased", 5, limits);
    c.pushLive(ev(7));
    c.pushLive(ev(8, "task.leased")); // filtered out
    c.pushLive(ev(9));
    c.pushVolatile({ ...ev(0, "job.progress"), id: null }); // dropped during the replay
    c.sendStored(ev(5)); // already known to the client (≤ Last-Event-ID)
    c.sendStored(ev(6));
    c.sendStored(ev(7));
    c.goLive();
    c.pushLive(ev(9)); // a duplicate from a slow poll
    c.pushLive(ev(10));
    c.pushVolatile({ ...ev(0, "job.progress"), id: null });
    c.close("done");
    const text = await drain(c.stream);
    expect(text.startsWith("retry: 1500\n\n")).toBe(true);
    expect(idsIn(text)).toEqual([6, 7, 9, 10]);
    expect(text.match(/event: job.progress/g)?.length).toBe(1);
  });

  test("a client that does not read is disconnected once its backlog passes the limit, and says why", async () => {
    const c = new SseClient(() => true, 0, limits);
    let reason: string | undefined;
    c.whenClosed((r) => (reason = r));
    c.goLive();
    for (let i = 1; i <= 1000 && !c.closed; i++) c.pushLive({ ...ev(i), data: { pad: "x".repeat(200) } });
    expect(c.closed).toBe(true);
    expect(reason).toBe("slow");
    const text = await drain(c.stream);
    expect(text).toContain(": disconnected: this client reads too slowly");
    expect(text.length).toBeLessThan(1024 + 8 * 1024 + 2048);
    c.pushLive(ev(5000)); // after the close: ignored, no throw
  });

  test("too many live events held during a long replay also disconnect", () => {
    const c = new SseClient(() => true, 0, limits);
    for (let i = 1; i <= 51; i++) c.pushLive(ev(i));
    expect(c.closeReason).toBe("slow");
  });

  test("the reader cancelling (client gone) closes the client and runs its close callbacks once", async () => {
    const c = new SseClient(() => true, 0, limits);
    const reasons: string[] = [];
    c.whenClosed((r) => reasons.push(r));
    await c.stream.cancel();
    c.close("shutdown");
    expect(reasons).toEqual(["client"]);
  });
});

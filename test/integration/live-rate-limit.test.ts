/**
 * The live transcode's pushes are not rate limited per client address (issue 15): a worker host running
 * several live transcodes PUTs a segment and a playlist per rung every segment duration from one address.
 * A real kernel with a tiny limit (1/s, burst 2): 30 segment PUTs with the session's token are all stored,
 * while the same address's ordinary API calls, and live pushes without a token, get 429.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { signLiveToken } from "../../src/kernel/live/token.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";

let kernel: TestKernel;
const SESSION = crypto.randomUUID();

beforeAll(async () => {
  kernel = await startTestKernel({ env: { RATE_LIMIT_RPS: "1", RATE_LIMIT_BURST: "2" } });
});

afterAll(async () => {
  await kernel?.stop();
});

const segmentPut = (n: number, authorization?: string) =>
  fetch(`${kernel.url}/internal/live/${SESSION}/240p/e1_${n}.ts`, {
    method: "PUT",
    headers: authorization ? { authorization } : {},
    body: new Uint8Array(188 * 10).fill(0x47),
  });

test("segment PUTs with the session's token are never throttled; the same address's other requests are", async () => {
  const token = signLiveToken(kernel.handle.ctx.secrets, SESSION, new Date(Date.now() + 3600_000));
  const statuses: number[] = [];
  for (let n = 0; n < 30; n++) statuses.push((await segmentPut(n, `Bearer ${token}`)).status);
  expect(statuses).toEqual(Array(30).fill(204));

  // The same client address on the API: the bucket (burst 2) is spent within a few calls.
  const api: number[] = [];
  for (let i = 0; i < 5; i++) api.push((await kernel.fetch("/v1/jobs")).status);
  expect(api).toContain(429);

  // Live pushes without a token count like any request (no free pass for guessing).
  const untokened: Response[] = [];
  for (let n = 0; n < 5; n++) untokened.push(await segmentPut(100 + n));
  const refused = untokened.find((r) => r.status === 429);
  expect(refused).toBeDefined();
  expect(((await refused!.json()) as { error: { code: string } }).error.code).toBe("WE-SYS-005");

  // A forged token skips the limiter but not the route's check: 401, nothing stored.
  const forged = await segmentPut(200, `Bearer wlt1.${SESSION}.9999999999.${"A".repeat(43)}`);
  expect(forged.status).toBe(401);
  // Still accepted with the real token after all that.
  expect((await segmentPut(31, `Bearer ${token}`)).status).toBe(204);
});

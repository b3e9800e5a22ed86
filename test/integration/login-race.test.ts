/**
 * The login throttle under concurrency (issue 12, item 4): 100 logins sent at once — wrong passwords, the
 * right one last — must not get past LOGIN_MAX_FAILURES password checks. Each check that reaches the auth
 * plugin answers 401 (wrong) or 200 (right); the throttle answers 429 without asking the plugin, so the
 * number of non-429 answers is the number of password checks. Before the fix every request checked the
 * count before any failure was recorded: 99 × 401 and a 200 with tokens.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";

const LIMIT = 5;
let k: TestKernel;
beforeAll(async () => {
  k = await startTestKernel({ env: { LOGIN_MAX_FAILURES: String(LIMIT), LOGIN_FAILURE_WINDOW: "10m" } });
  const r = await k.fetch("/v1/users", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "racer", password: "right-password-123", roles: ["viewer"] }) });
  expect(r.status).toBe(201);
});
afterAll(async () => {
  await k?.stop();
});

const login = (password: string) =>
  fetch(`${k.url}/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "racer", password }) });

test("100 concurrent logins: at most LOGIN_MAX_FAILURES password checks, the right password after them gets 429, no tokens", async () => {
  const wrong = Array.from({ length: 99 }, (_, i) => login(`wrong-${i}`));
  const right = login("right-password-123");
  const all = await Promise.all([...wrong, right]);
  const bodies = await Promise.all(all.map(async (r) => ({ status: r.status, text: await r.text() })));
  const count = (s: number) => bodies.filter((b) => b.status === s).length;
  expect(count(401)).toBeLessThanOrEqual(LIMIT);
  expect(count(401) + count(200)).toBeLessThanOrEqual(LIMIT);
  expect(count(429)).toBeGreaterThanOrEqual(100 - LIMIT);
  expect(count(401) + count(429)).toBe(100);
  expect(bodies.some((b) => b.text.includes("access_token"))).toBe(false);
  expect(bodies[99]!.status).toBe(429);
  expect(JSON.parse(bodies[99]!.text).error.code).toBe("WE-SYS-005");
  // And afterwards, still refused for the right password.
  const later = await login("right-password-123");
  expect(later.status).toBe(429);
});

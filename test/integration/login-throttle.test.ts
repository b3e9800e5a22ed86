/**
 * Password guessing through the API: after LOGIN_MAX_FAILURES wrong passwords a client gets 429 WE-SYS-005
 * with Retry-After — even with the right password — while another client (told apart by X-Forwarded-For from
 * a trusted proxy) can still log in as the same user.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";

let k: TestKernel;
beforeAll(async () => {
  k = await startTestKernel({ env: { LOGIN_MAX_FAILURES: "3", LOGIN_FAILURE_WINDOW: "10m", TRUSTED_PROXIES: "127.0.0.1/32" } });
  const r = await k.fetch("/v1/users", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "carol", password: "right-password-123", roles: ["viewer"] }) });
  expect(r.status).toBe(201);
});
afterAll(async () => {
  await k?.stop();
});

const login = (password: string, client: string) =>
  k.fetch("/v1/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "", "x-forwarded-for": client },
    body: JSON.stringify({ username: "carol", password }),
  });

test("three wrong passwords, then 429 with Retry-After even for the right one; another client is unaffected", async () => {
  for (let i = 0; i < 3; i++) expect((await login("wrong", "203.0.113.7")).status).toBe(401);
  const blocked = await login("right-password-123", "203.0.113.7");
  expect(blocked.status).toBe(429);
  const body = (await blocked.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe("WE-SYS-005");
  expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(500);
  expect(Number(blocked.headers.get("retry-after"))).toBeLessThanOrEqual(600);
  const other = await login("right-password-123", "198.51.100.9");
  expect(other.status).toBe(200);
  expect(((await other.json()) as { access_token: string }).access_token).toBeString();
});

const refresh = (token: string, client: string) =>
  k.fetch("/v1/auth/refresh", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "", "x-forwarded-for": client },
    body: JSON.stringify({ refresh_token: token }),
  });

test("invalid refresh tokens are throttled the same way: three 401s, then 429 even for a valid token; another client refreshes", async () => {
  const signedIn = await login("right-password-123", "192.0.2.50");
  expect(signedIn.status).toBe(200);
  const { refresh_token: valid } = (await signedIn.json()) as { refresh_token: string };
  for (let i = 0; i < 3; i++) {
    const r = await refresh(`not-a-token-${i}`, "192.0.2.44");
    expect(r.status).toBe(401);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("WE-AUTH-001");
  }
  const blocked = await refresh(valid, "192.0.2.44");
  expect(blocked.status).toBe(429);
  expect(((await blocked.json()) as { error: { code: string } }).error.code).toBe("WE-SYS-005");
  expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(500);
  // The valid token was not spent by the refused call: another client can still use it.
  const other = await refresh(valid, "192.0.2.50");
  expect(other.status).toBe(200);
  expect(((await other.json()) as { access_token: string }).access_token).toBeString();
});

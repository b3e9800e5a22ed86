/**
 * Credentials for test kernels: every test kernel is started with ADMIN_API_KEY = TEST_ADMIN_KEY (the first
 * admin key) and a fixed SECRET_KEY, and the fetch helpers send the admin key unless a test sets its own
 * Authorization header (or `authorization: ""` for an anonymous call).
 */
export const TEST_ADMIN_KEY = "we_testadmin_0123456789abcdefghijklmnopqrstuv";
export const TEST_SECRET_KEY = "test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz";

/** Kernel variables every test kernel gets (sources and webhooks on loopback are what tests serve). */
export const TEST_KERNEL_SECURITY_ENV: Record<string, string> = {
  ADMIN_API_KEY: TEST_ADMIN_KEY,
  SECRET_KEY: TEST_SECRET_KEY,
  OUTBOUND_ALLOW_CIDRS: "127.0.0.0/8,::1/128",
  RATE_LIMIT_RPS: "0",
  // Test kernels run side by side: RTMP ingest stays off unless a test gives it a free port.
  LIVE_RTMP_PORT: "0",
};

/** Adds `Authorization: Bearer <key>` unless the request already names one; an empty value means anonymous. */
export function withAuth(init: RequestInit | undefined, key: string = TEST_ADMIN_KEY): RequestInit {
  const headers = new Headers(init?.headers);
  if (!headers.has("authorization")) headers.set("authorization", `Bearer ${key}`);
  else if (headers.get("authorization") === "") headers.delete("authorization");
  return { ...init, headers };
}

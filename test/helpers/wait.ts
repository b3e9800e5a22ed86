/**
 * Waiting on conditions instead of fixed sleeps: a test is as fast as the system allows and fails with a
 * message naming what never happened.
 */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())));
  }
}

/**
 * Asserts that something does NOT happen for `ms` (e.g. no redelivery after term): polls so it fails as
 * soon as the condition turns true rather than only at the end.
 */
export async function holdsFor(cond: () => boolean, ms: number, what: string, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!cond()) throw new Error(`expected ${what} to hold for ${ms} ms; it stopped holding`);
    await Bun.sleep(intervalMs);
  }
  if (!cond()) throw new Error(`expected ${what} to hold for ${ms} ms; it stopped holding`);
}

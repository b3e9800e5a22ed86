import { describe, expect, test } from "bun:test";
import { LoginThrottle } from "../../src/kernel/auth/login-throttle.ts";

describe("LoginThrottle", () => {
  const make = () => {
    let now = 1_000_000;
    const t = new LoginThrottle({ maxFailures: 3, windowMs: 60_000, now: () => now });
    return { t, advance: (ms: number) => (now += ms) };
  };

  test("blocks a (client, user) after maxFailures until the oldest failure leaves the window", () => {
    const { t, advance } = make();
    for (let i = 0; i < 3; i++) {
      expect(t.blockedForMs("1.1.1.1", "alice")).toBe(0);
      t.fail("1.1.1.1", "alice");
      advance(10_000);
    }
    // failures at 0 s, 10 s, 20 s; now 30 s: the first leaves the window at 60 s
    expect(t.blockedForMs("1.1.1.1", "alice")).toBe(30_000);
    expect(t.blockedForMs("1.1.1.1", "ALICE")).toBe(30_000); // usernames are case-insensitive
    expect(t.blockedForMs("2.2.2.2", "alice")).toBe(0); // nobody else is locked out
    expect(t.blockedForMs("1.1.1.1", "bob")).toBe(0);
    advance(30_000);
    expect(t.blockedForMs("1.1.1.1", "alice")).toBe(0);
  });

  test("a client guessing many usernames is blocked by the per-IP limit (4 × maxFailures)", () => {
    const { t } = make();
    for (let i = 0; i < 12; i++) t.fail("3.3.3.3", `user${i}`);
    expect(t.blockedForMs("3.3.3.3", "someone-new")).toBeGreaterThan(0);
    expect(t.blockedForMs("4.4.4.4", "someone-new")).toBe(0);
  });

  test("success clears the user's count from that client, not the per-IP count", () => {
    const { t } = make();
    t.fail("1.1.1.1", "alice");
    t.fail("1.1.1.1", "alice");
    t.succeed("1.1.1.1", "alice");
    t.fail("1.1.1.1", "alice");
    t.fail("1.1.1.1", "alice");
    expect(t.blockedForMs("1.1.1.1", "alice")).toBe(0);
  });

  test("memory stays bounded", () => {
    let now = 0;
    const t = new LoginThrottle({ maxFailures: 3, windowMs: 60_000, now: () => now, maxKeys: 100 });
    for (let i = 0; i < 1000; i++) t.fail(`10.0.${i >> 8}.${i & 255}`, "x");
    expect((t as unknown as { failures: Map<string, unknown> }).failures.size).toBeLessThanOrEqual(100);
    now += 1;
  });
});

describe("LoginThrottle.attempt (reserve before the password check)", () => {
  const make = () => new LoginThrottle({ maxFailures: 3, windowMs: 60_000, now: () => 1_000_000 });

  test("attempts in flight count: the fourth concurrent one is refused before any has failed", () => {
    const t = make();
    const slots = [1, 2, 3, 4].map(() => t.attempt("1.1.1.1", "alice"));
    expect(slots.slice(0, 3).every((s) => "succeeded" in s)).toBe(true);
    expect("succeeded" in slots[3]!).toBe(false);
    expect(slots[3]!.waitMs).toBe(60_000);
  });

  test("a success or a cancelled check gives its slot back; a success also clears the user's failures", () => {
    const t = make();
    const a = t.attempt("1.1.1.1", "alice");
    const b = t.attempt("1.1.1.1", "alice");
    const c = t.attempt("1.1.1.1", "alice");
    expect(t.blockedForMs("1.1.1.1", "alice")).toBeGreaterThan(0);
    if (!("succeeded" in c)) throw new Error("expected a reservation");
    c.cancelled();
    c.cancelled(); // settling twice changes nothing
    expect(t.blockedForMs("1.1.1.1", "alice")).toBe(0);
    if (!("succeeded" in a) || !("succeeded" in b)) throw new Error("expected reservations");
    a.succeeded();
    expect(t.blockedForMs("1.1.1.1", "alice")).toBe(0);
    for (let i = 0; i < 3; i++) expect("succeeded" in t.attempt("1.1.1.1", "alice")).toBe(true);
    expect("succeeded" in t.attempt("1.1.1.1", "alice")).toBe(false);
  });
});

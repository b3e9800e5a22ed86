/** Token bucket math with an injected clock, bounded memory, and which address counts as the client. */
import { describe, expect, test } from "bun:test";
import { clientIp, isRateLimitExempt, RateLimiter, rateLimitHook, rateLimitKey, takeToken } from "../../src/kernel/api/rate-limit.ts";

describe("takeToken", () => {
  test("a new client starts with a full bucket", () => {
    const t = takeToken(undefined, 0, 2, 3);
    expect(t).toEqual({ bucket: { tokens: 2, at: 0 }, allowed: true, retryAfterS: 0 });
  });

  test("the burst is spent, then refused with a whole-second Retry-After", () => {
    let b = undefined;
    const results: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      const t = takeToken(b, 0, 2, 3);
      b = t.bucket;
      results.push(t.allowed);
    }
    expect(results).toEqual([true, true, true, false]);
    const refused = takeToken(b, 0, 2, 3);
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterS).toBe(1); // 1 token at 2/s = 0.5 s, rounded up
  });

  test("refills at the rate, never above the burst", () => {
    const empty = { tokens: 0, at: 1000 };
    expect(takeToken(empty, 1499, 2, 3).allowed).toBe(false); // 0.998 tokens
    expect(takeToken(empty, 1500, 2, 3).allowed).toBe(true); // exactly 1 token after 0.5 s
    const later = takeToken(empty, 1_000_000, 2, 3);
    expect(later.bucket.tokens).toBe(2); // capped at 3, minus the one taken
  });

  test("Retry-After covers the whole wait at slow rates", () => {
    // 0.25 tokens at 0.1/s needs 7.5 s: 8 whole seconds.
    expect(takeToken({ tokens: 0.25, at: 0 }, 0, 0.1, 1).retryAfterS).toBe(8);
  });

  test("a clock that goes backwards adds no tokens", () => {
    expect(takeToken({ tokens: 0, at: 5000 }, 1000, 2, 3).allowed).toBe(false);
  });
});

describe("RateLimiter", () => {
  test("clients have separate buckets", () => {
    let now = 0;
    const rl = new RateLimiter({ rps: 1, burst: 2, now: () => now });
    expect([rl.take("a").allowed, rl.take("a").allowed, rl.take("a").allowed]).toEqual([true, true, false]);
    expect(rl.take("b").allowed).toBe(true);
    now = 1000;
    expect(rl.take("a").allowed).toBe(true);
    expect(rl.take("a")).toEqual({ allowed: false, retryAfterS: 1 });
  });

  test("idle clients are forgotten once their bucket would be full again", () => {
    let now = 0;
    const rl = new RateLimiter({ rps: 10, burst: 20, now: () => now }); // full again after 2 s
    for (let i = 0; i < 50; i++) rl.take(`client-${i}`);
    expect(rl.size).toBe(50);
    now = 1999;
    rl.take("late");
    expect(rl.size).toBe(51);
    now = 2000;
    rl.take("late");
    expect(rl.size).toBe(1); // the 50 idle ones went; "late" was touched again and stays
  });

  test("memory is capped: past maxClients the least recently seen client goes", () => {
    const rl = new RateLimiter({ rps: 1, burst: 1, maxClients: 3, now: () => 0 });
    rl.take("a");
    rl.take("b");
    rl.take("c");
    expect(rl.take("a").allowed).toBe(false); // a is now the most recent
    rl.take("d"); // evicts b
    expect(rl.size).toBe(3);
    expect(rl.take("a").allowed).toBe(false); // a kept its (empty) bucket
    expect(rl.take("b").allowed).toBe(true); // b starts over
  });

  test("refuses nonsense settings", () => {
    expect(() => new RateLimiter({ rps: 0, burst: 1 })).toThrow(/rps/);
  });
});

/** A socket peer as Bun's server.requestIP reports it. */
const peer = (address: string) => ({ requestIP: () => ({ address, family: address.includes(":") ? "IPv6" : "IPv4", port: 40000 }) as never });
const req = (xff?: string) => new Request("http://kernel/v1/jobs", { headers: xff ? { "x-forwarded-for": xff } : {} });

describe("clientIp", () => {
  test("without trusted proxies the socket peer is the client, X-Forwarded-For is ignored", () => {
    expect(clientIp(req("6.6.6.6"), peer("203.0.113.7"), [])).toBe("203.0.113.7");
  });

  test("a spoofed X-Forwarded-For from an untrusted peer is ignored", () => {
    expect(clientIp(req("10.0.0.1, 6.6.6.6"), peer("203.0.113.7"), ["10.0.0.0/8"])).toBe("203.0.113.7");
  });

  test("behind a trusted proxy the right-most untrusted address wins", () => {
    // The client claimed 6.6.6.6; the edge proxy (10.0.0.2) appended the real peer 198.51.100.9.
    expect(clientIp(req("6.6.6.6, 198.51.100.9, 10.0.0.2"), peer("10.0.0.5"), ["10.0.0.0/8"])).toBe("198.51.100.9");
  });

  test("several X-Forwarded-For headers count as one list", () => {
    const r = new Request("http://kernel/", { headers: [["x-forwarded-for", "6.6.6.6"], ["x-forwarded-for", "198.51.100.9"]] });
    expect(clientIp(r, peer("10.0.0.5"), ["10.0.0.0/8"])).toBe("198.51.100.9");
  });

  test("a trusted peer without the header is itself the client", () => {
    expect(clientIp(req(), peer("10.0.0.5"), ["10.0.0.0/8"])).toBe("10.0.0.5");
  });

  test("all hops trusted: the left-most (innermost) one", () => {
    expect(clientIp(req("10.1.1.1, 10.2.2.2"), peer("10.0.0.5"), ["10.0.0.0/8"])).toBe("10.1.1.1");
  });

  test("garbage in the chain stops the walk at the last verified address", () => {
    expect(clientIp(req("198.51.100.9, not-an-ip"), peer("10.0.0.5"), ["10.0.0.0/8"])).toBe("10.0.0.5");
  });

  test("ports and brackets in X-Forwarded-For entries, IPv6 proxies", () => {
    expect(clientIp(req("198.51.100.9:5555"), peer("10.0.0.5"), ["10.0.0.0/8"])).toBe("198.51.100.9");
    expect(clientIp(req("[2001:db8::7]:443"), peer("fd00::1"), ["fd00::/8"])).toBe("2001:db8::7");
  });

  test("an IPv4-mapped peer matches an IPv4 CIDR and is reported as IPv4", () => {
    expect(clientIp(req("198.51.100.9"), peer("::ffff:127.0.0.1"), ["127.0.0.0/8"])).toBe("198.51.100.9");
    expect(clientIp(req(), peer("::ffff:203.0.113.7"), [])).toBe("203.0.113.7");
  });

  test("no socket (app.handle) is 'unknown'", () => {
    expect(clientIp(req("6.6.6.6"), null, ["0.0.0.0/0"])).toBe("unknown");
  });
});

describe("rateLimitKey", () => {
  test("IPv4 per address, IPv6 per /64", () => {
    expect(rateLimitKey("203.0.113.7")).toBe("203.0.113.7");
    expect(rateLimitKey("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(rateLimitKey("2001:db8:1:2:bbbb::9")).toBe(rateLimitKey("2001:db8:1:2:aaaa::1"));
    expect(rateLimitKey("unknown")).toBe("unknown");
  });
});

describe("rateLimitHook", () => {
  const config = { RATE_LIMIT_RPS: 1, RATE_LIMIT_BURST: 1, TRUSTED_PROXIES: [] as string[] };
  const call = (hook: NonNullable<ReturnType<typeof rateLimitHook>>, path: string) => {
    const set = { headers: {} as Record<string, string | number>, status: undefined as number | string | undefined };
    const body = hook({ request: new Request(`http://kernel${path}`), server: peer("203.0.113.7"), set });
    return { body, set };
  };

  test("off when RATE_LIMIT_RPS=0", () => {
    expect(rateLimitHook({ ...config, RATE_LIMIT_RPS: 0 }, () => "id")).toBeUndefined();
  });

  test("429 envelope with Retry-After; health and metrics exempt", () => {
    const hook = rateLimitHook(config, () => "req-1", () => 0)!;
    expect(call(hook, "/v1/jobs").body).toBeUndefined();
    const refused = call(hook, "/v1/jobs");
    expect(refused.set.status).toBe(429);
    expect(refused.set.headers["retry-after"]).toBe("1");
    expect(refused.body).toMatchObject({ error: { code: "WE-SYS-005", request_id: "req-1", details: { retry_after_s: 1 } } });
    for (const p of ["/v1/health", "/v1/system/health", "/metrics", "/v1/health/"]) expect(call(hook, p).body).toBeUndefined();
  });
});

describe("isRateLimitExempt", () => {
  test("monitoring, and live worker routes only with a session token", () => {
    expect(isRateLimitExempt("/metrics", null)).toBe(true);
    expect(isRateLimitExempt("/internal/live/s/240p/e1_3.ts", "Bearer wlt1.s.1.mac")).toBe(true);
    expect(isRateLimitExempt("/internal/live/s/source.flv", "bearer wlt1.s.1.mac")).toBe(true);
    expect(isRateLimitExempt("/internal/live/s/240p/e1_3.ts", null)).toBe(false);
    expect(isRateLimitExempt("/internal/live/s/240p/e1_3.ts", "Bearer wk_apikey")).toBe(false);
    expect(isRateLimitExempt("/v1/jobs", "Bearer wlt1.s.1.mac")).toBe(false);
  });
});

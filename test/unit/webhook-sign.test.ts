/**
 * Webhook signatures and the retry schedule (pure). The signature vectors were computed independently with
 * `printf '<timestamp>.<body>' | openssl dgst -sha256 -hmac '<secret>'`, so a change in what is signed (the
 * contract receivers rely on) fails here.
 */
import { describe, expect, test } from "bun:test";
import { nominalDelayMs, RETRY_CAP_MS, retryDelayMs } from "../../src/kernel/webhooks/backoff.ts";
import { generateSecret, signPayload, verifySignature } from "../../src/kernel/webhooks/sign.ts";

const SECRET = "whsec_test-secret-0123456789";
const BODY = '{"event_id":42,"type":"job.completed","created_at":"2026-01-31T12:00:00.000Z","data":{}}';

describe("signPayload", () => {
  test("HMAC-SHA256 of '<timestamp>.<body>' in hex, prefixed sha256= (openssl vectors)", () => {
    expect(signPayload(SECRET, 1700000000, BODY)).toBe("sha256=b3e2588a8037538f3077e6edc44759e2ced198343233f52da867e6127803eda2");
    expect(signPayload(SECRET, 1700000000, "")).toBe("sha256=ceeb66098a83d16586844261fa3ca98ce4c9e21eed515dd59415671be39fdbcd");
    // Secret and body are taken as UTF-8 bytes.
    expect(signPayload("k\u00e9y-0123456789abcdef", 1700000000, '{"name":"caf\u00e9"}')).toBe("sha256=2dfaf75b1c47b92a38e046f3d01a532292824781d10092e07ebb8c74fe1a26e7");
  });

  test("the timestamp is part of what is signed: another timestamp, another signature", () => {
    expect(signPayload(SECRET, 1700000001, BODY)).not.toBe(signPayload(SECRET, 1700000000, BODY));
  });
});

describe("verifySignature (the receiver's side)", () => {
  const now = 1700000000;
  const sig = signPayload(SECRET, now, BODY);

  test("accepts the sender's signature within the tolerance", () => {
    expect(verifySignature(SECRET, { timestamp: String(now), signature: sig }, BODY, now + 299)).toEqual({ ok: true });
  });

  test("rejects a changed body, a wrong secret, a swapped timestamp, missing headers", () => {
    const bad = [
      verifySignature(SECRET, { timestamp: String(now), signature: sig }, BODY.replace("42", "43"), now),
      verifySignature("whsec_other-secret-0123456789", { timestamp: String(now), signature: sig }, BODY, now),
      verifySignature(SECRET, { timestamp: String(now + 1), signature: sig }, BODY, now),
      verifySignature(SECRET, { timestamp: null, signature: sig }, BODY, now),
      verifySignature(SECRET, { timestamp: String(now), signature: null }, BODY, now),
      verifySignature(SECRET, { timestamp: "17e8", signature: sig }, BODY, now),
      verifySignature(SECRET, { timestamp: String(now), signature: sig.slice(0, -1) }, BODY, now),
    ];
    for (const r of bad) expect(r.ok).toBe(false);
  });

  test("rejects a replay: a valid signature older than the tolerance", () => {
    const r = verifySignature(SECRET, { timestamp: String(now), signature: sig }, BODY, now + 301);
    expect(r).toEqual({ ok: false, reason: `timestamp ${now} is more than 300 s from now` });
  });
});

test("generated secrets: prefixed, 32 random bytes, never the same twice", () => {
  const a = generateSecret();
  const b = generateSecret();
  expect(a).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
  expect(a).not.toBe(b);
});

describe("retry schedule", () => {
  test("nominal delays double from the base and stop at the cap", () => {
    expect([1, 2, 3, 4, 5].map((n) => nominalDelayMs(n, 5000))).toEqual([5000, 10_000, 20_000, 40_000, 80_000]);
    expect(nominalDelayMs(10, 5000)).toBe(2_560_000);
    expect(nominalDelayMs(11, 5000)).toBe(RETRY_CAP_MS);
    expect(nominalDelayMs(5000, 5000)).toBe(RETRY_CAP_MS); // 2^4999 is Infinity: still the cap
    expect(nominalDelayMs(0, 5000)).toBe(5000); // below 1 counts as the first retry
  });

  test("jitter keeps every delay within [nominal/2, nominal]", () => {
    for (let n = 1; n <= 40; n++) {
      const nominal = nominalDelayMs(n, 5000);
      expect(retryDelayMs(n, { baseMs: 5000, random: () => 0 })).toBe(nominal / 2);
      expect(retryDelayMs(n, { baseMs: 5000, random: () => 0.999999 })).toBeLessThanOrEqual(nominal);
      for (let i = 0; i < 20; i++) {
        const d = retryDelayMs(n, { baseMs: 5000 });
        expect(d).toBeGreaterThanOrEqual(nominal / 2);
        expect(d).toBeLessThanOrEqual(nominal);
      }
    }
    // Out-of-range random values are clamped rather than producing negative or oversized delays.
    expect(retryDelayMs(1, { baseMs: 1000, random: () => -5 })).toBe(500);
    expect(retryDelayMs(1, { baseMs: 1000, random: () => 7 })).toBe(1000);
  });

  test("the defaults give about 30 attempts in the 24 h window, none more than an hour apart", () => {
    let t = 0;
    let attempts = 1; // the first attempt is immediate
    while (t + nominalDelayMs(attempts, 5000) <= 24 * 3600_000) {
      t += nominalDelayMs(attempts, 5000);
      attempts++;
    }
    expect(attempts).toBeGreaterThanOrEqual(25);
    expect(attempts).toBeLessThanOrEqual(35);
  });

  test("a custom cap and a tiny base (test speed) are honoured", () => {
    expect(nominalDelayMs(20, 50, 800)).toBe(800);
    expect(retryDelayMs(1, { baseMs: 50, random: () => 0.5 })).toBe(38);
  });
});

import { describe, expect, test } from "bun:test";
import { createSecretBox } from "../../src/core/secret-box.ts";
import { bearerToken, signLiveToken, verifyLiveToken } from "../../src/kernel/live/token.ts";

const box = createSecretBox("k".repeat(40));
const session = "3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b";
const other = "00000000-1111-4222-8333-444444444444";
const now = Date.UTC(2026, 11, 5, 3, 0, 0);
const later = new Date(now + 60_000);

describe("live token", () => {
  test("a token verifies for its session until it expires", () => {
    const token = signLiveToken(box, session, later);
    expect(token.startsWith(`wlt1.${session}.`)).toBe(true);
    expect(verifyLiveToken(box, token, session, now)).toEqual({ ok: true, expiresAt: new Date(Math.floor(later.getTime() / 1000) * 1000) });
    expect(verifyLiveToken(box, token, session, later.getTime())).toEqual({ ok: false, reason: "expired" });
  });

  test("another session's token, a changed expiry or another key is refused", () => {
    const token = signLiveToken(box, session, later);
    expect(verifyLiveToken(box, token, other, now)).toEqual({ ok: false, reason: "wrong_session" });
    const [v, s, expiry, mac] = token.split(".");
    expect(verifyLiveToken(box, [v, s, String(Number(expiry) + 3600), mac].join("."), session, now)).toEqual({ ok: false, reason: "bad_signature" });
    expect(verifyLiveToken(createSecretBox("x".repeat(40)), token, session, now)).toEqual({ ok: false, reason: "bad_signature" });
  });

  test("a token signed with SECRET_KEY_PREVIOUS still verifies during a key rotation", () => {
    const token = signLiveToken(createSecretBox("o".repeat(40)), session, later);
    expect(verifyLiveToken(createSecretBox("n".repeat(40), "o".repeat(40)), token, session, now).ok).toBe(true);
  });

  test("malformed tokens are refused without a MAC check", () => {
    for (const bad of ["", "wlt1", `wlt2.${session}.1.${"a".repeat(43)}`, `wlt1.not-a-uuid.1.${"a".repeat(43)}`, `wlt1.${session}.x.${"a".repeat(43)}`, `wlt1.${session}.1.short`])
      expect(verifyLiveToken(box, bad, session, now)).toEqual({ ok: false, reason: "malformed" });
    expect(() => signLiveToken(box, "../etc", later)).toThrow(/UUID/);
  });

  test("bearerToken reads the Authorization header", () => {
    expect(bearerToken("Bearer abc.def")).toBe("abc.def");
    expect(bearerToken("bearer  abc ")).toBe("abc");
    expect(bearerToken("Basic abc")).toBeNull();
    expect(bearerToken(undefined)).toBeNull();
  });
});

describe("live internal URLs", () => {
  test("LIVE_INTERNAL_URL wins over the loopback API port; trailing slashes are dropped", async () => {
    const { liveInternalBase, livePushUrl, liveSourceUrl } = await import("../../src/kernel/live/internal-url.ts");
    expect(liveInternalBase({}, 8080)).toBe("http://127.0.0.1:8080");
    const base = liveInternalBase({ LIVE_INTERNAL_URL: "http://10.0.0.5:8080/" }, 8080);
    expect(base).toBe("http://10.0.0.5:8080");
    expect(liveSourceUrl(base, session)).toBe(`http://10.0.0.5:8080/internal/live/${session}/source.flv`);
    expect(livePushUrl(base, session)).toBe(`http://10.0.0.5:8080/internal/live/${session}`);
  });
});

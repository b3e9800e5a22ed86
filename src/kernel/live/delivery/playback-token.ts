/**
 * Playback tokens for streams that are not public: `?token=wlp1.<stream id>.<expiry s>.<mac>` on the playback
 * URLs, the MAC being HMAC-SHA256 under a key derived from the kernel secret (SecretBox.mac, purpose
 * "live-playback") over `<stream id>.<expiry>`. Every kernel shares SECRET_KEY, so any kernel verifies a
 * token another one minted. A token names the stream, never its key, and is good for every rung and segment
 * of it until it expires (players fetch many URLs: the token is carried in each, playlist.ts `withQuery`).
 * Pure: no clock, no I/O.
 */
import type { SecretBox } from "../../../core/secret-box.ts";

const VERSION = "wlp1";
const PURPOSE = "live-playback";
const STREAM_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Default lifetime of a minted playback token: a viewing session (the player keeps it while it plays). */
export const PLAYBACK_TOKEN_TTL_MS = 6 * 3600 * 1000;

export type PlaybackTokenCheck = { ok: true; expiresAt: Date } | { ok: false; reason: "malformed" | "wrong_stream" | "expired" | "bad_signature" };

export function signPlaybackToken(box: Pick<SecretBox, "mac">, streamId: string, expiresAt: Date): string {
  if (!STREAM_ID.test(streamId)) throw new Error(`playback token: invalid stream id ${JSON.stringify(streamId)}`);
  const expirySeconds = Math.floor(expiresAt.getTime() / 1000);
  return `${VERSION}.${streamId}.${expirySeconds}.${box.mac(PURPOSE, `${streamId}.${expirySeconds}`)}`;
}

export function verifyPlaybackToken(box: Pick<SecretBox, "macMatches">, token: string, streamId: string, nowMs: number): PlaybackTokenCheck {
  const parts = token.split(".");
  if (parts.length !== 4) return { ok: false, reason: "malformed" };
  const [version = "", tokenStream = "", expiryText = "", mac = ""] = parts;
  if (version !== VERSION || !STREAM_ID.test(tokenStream) || !/^\d{1,12}$/.test(expiryText) || !/^[A-Za-z0-9_-]{43}$/.test(mac))
    return { ok: false, reason: "malformed" };
  if (tokenStream !== streamId) return { ok: false, reason: "wrong_stream" };
  if (!box.macMatches(PURPOSE, `${tokenStream}.${expiryText}`, mac)) return { ok: false, reason: "bad_signature" };
  const expiresAt = new Date(Number(expiryText) * 1000);
  if (expiresAt.getTime() <= nowMs) return { ok: false, reason: "expired" };
  return { ok: true, expiresAt };
}

/**
 * Viewers of a stream: distinct playback sessions seen in the last 30 s. A player fetches its media playlist
 * every target duration (1–2 s for live), so a viewer who stopped watching drops out within the window. A
 * playback session is its token when the stream is signed (one per viewer as minted), else a hash of client
 * address and User-Agent (two browsers behind one NAT count twice, two tabs of one browser once).
 * Counted per kernel, in memory: behind a load balancer each kernel counts the viewers it serves.
 */
import { createHash } from "node:crypto";

export const VIEWER_WINDOW_MS = 30_000;

export class ViewerCounter {
  private readonly seen = new Map<string, Map<string, number>>();

  constructor(private readonly windowMs: number = VIEWER_WINDOW_MS) {}

  /** Records a playback request of `streamId` by the viewer `viewerKey` at `nowMs`. */
  touch(streamId: string, viewerKey: string, nowMs: number): void {
    let viewers = this.seen.get(streamId);
    if (!viewers) this.seen.set(streamId, (viewers = new Map()));
    viewers.set(viewerKey, nowMs);
  }

  /** Distinct viewers of `streamId` in the window ending at `nowMs`; forgets the older ones. */
  count(streamId: string, nowMs: number): number {
    const viewers = this.seen.get(streamId);
    if (!viewers) return 0;
    for (const [key, at] of viewers) if (nowMs - at > this.windowMs) viewers.delete(key);
    if (viewers.size === 0) this.seen.delete(streamId);
    return viewers.size;
  }
}

/** The key of a playback session: the token, or a hash of address and User-Agent (nothing personal is kept). */
export function viewerKeyOf(token: string | null, clientIp: string | null, userAgent: string | null): string {
  if (token) return `t:${createHash("sha256").update(token).digest("base64url").slice(0, 22)}`;
  return `a:${createHash("sha256").update(`${clientIp ?? "?"}\n${userAgent ?? ""}`).digest("base64url").slice(0, 22)}`;
}

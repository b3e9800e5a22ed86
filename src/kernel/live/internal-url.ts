/**
 * Where workers reach this kernel's internal live endpoints. LIVE_INTERNAL_URL when set (workers on other
 * hosts need an address they can route to); otherwise the loopback address of the API port, which is right
 * for standalone mode and its embedded worker. The token (token.ts) authenticates every request, so the
 * endpoints may sit on the public listener.
 */
export function liveInternalBase(config: { LIVE_INTERNAL_URL?: string | undefined }, listeningPort: number): string {
  return (config.LIVE_INTERNAL_URL ?? `http://127.0.0.1:${listeningPort}`).replace(/\/+$/, "");
}

/** `GET` this for the session's FLV (L2 serves it). */
export const liveSourceUrl = (base: string, sessionId: string) => `${base}/internal/live/${sessionId}/source.flv`;
/** The worker PUTs `${pushUrl}/<rung>/<file>` (the delivery module serves it). */
export const livePushUrl = (base: string, sessionId: string) => `${base}/internal/live/${sessionId}`;

/**
 * The session manager's decisions as pure functions (unit-tested): what to do with a publish for a stream
 * that this kernel already holds, and whether a dropped publisher ends the session now or after the grace.
 */
import type { IngestEndReason } from "./ingest-types.ts";

/** A publisher that sent nothing for this long is presumed gone (its TCP connection may not know yet). */
export const STALE_PUBLISHER_MS = 2_000;

export type DuplicateVerdict = "refuse" | "replace" | "resume";

/**
 * A publish for a stream with an open session here: the connected publisher is healthy → refuse (already
 * live); it has sent nothing for STALE_PUBLISHER_MS (a reconnect whose old socket has not timed out yet) →
 * replace it; no publisher (within the reconnect grace) → resume the session.
 */
export function duplicateVerdict(current: { connected: boolean; lastDataAt: number }, now: number): DuplicateVerdict {
  if (!current.connected) return "resume";
  return now - current.lastDataAt >= STALE_PUBLISHER_MS ? "replace" : "refuse";
}

/** End reasons after which the publisher may come back within the grace; the others end the session at once. */
const RESUMABLE: ReadonlySet<IngestEndReason> = new Set(["publisher_closed", "idle_timeout", "protocol_error"]);

export function endsAtOnce(reason: IngestEndReason): boolean {
  return !RESUMABLE.has(reason);
}


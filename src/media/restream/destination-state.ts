/**
 * A restream destination's state machine. One FFmpeg per destination goes through
 * `connecting → live → retrying → connecting → …` until the restream stops (`stopped`) or the platform refuses
 * for good (`failed`: a bad key or a revoked authorization — retrying would only be refused again). Pure:
 * the runner applies events and reports the resulting snapshot; transitions that make no sense are ignored so
 * a late event from a killed process cannot resurrect a stopped destination.
 */

export type DestinationStatus = "connecting" | "live" | "retrying" | "failed" | "stopped";

export interface DestinationState {
  status: DestinationStatus;
  /** Connection attempts after the first (a restart after a failure counts; the first start does not). */
  reconnects: number;
  /** Failures in a row since the destination was last live; drives the backoff. */
  consecutiveFailures: number;
  lastError: string | null;
  /** Epoch ms when the current live period began; null when not live. */
  liveSince: number | null;
  /** Epoch ms of the next attempt while retrying. */
  retryAt: number | null;
}

export type DestinationEvent =
  | { type: "started"; at: number }
  | { type: "progressed"; at: number }
  | { type: "failed"; at: number; error: string; terminal: boolean; retryInMs: number }
  | { type: "stopped"; at: number };

export function initialDestinationState(): DestinationState {
  return { status: "connecting", reconnects: 0, consecutiveFailures: 0, lastError: null, liveSince: null, retryAt: null };
}

export function isFinal(status: DestinationStatus): boolean {
  return status === "failed" || status === "stopped";
}

export function nextDestinationState(state: DestinationState, event: DestinationEvent): DestinationState {
  if (isFinal(state.status)) return state;
  switch (event.type) {
    case "started":
      // A start after a failure is a reconnect; the very first start is not.
      if (state.status !== "retrying") return { ...state, status: "connecting", retryAt: null };
      return { ...state, status: "connecting", reconnects: state.reconnects + 1, retryAt: null };
    case "progressed":
      if (state.status === "live") return state;
      if (state.status !== "connecting") return state;
      return { ...state, status: "live", liveSince: event.at, consecutiveFailures: 0 };
    case "failed":
      if (event.terminal) return { ...state, status: "failed", lastError: event.error, liveSince: null, retryAt: null };
      return {
        ...state,
        status: "retrying",
        lastError: event.error,
        liveSince: null,
        consecutiveFailures: state.consecutiveFailures + 1,
        retryAt: event.at + event.retryInMs,
      };
    case "stopped":
      return { ...state, status: "stopped", liveSince: null, retryAt: null };
  }
}

/** Seconds live in the current period (0 when not live). */
export function uptimeSeconds(state: DestinationState, now: number): number {
  return state.liveSince === null ? 0 : Math.max(0, Math.round((now - state.liveSince) / 1000));
}

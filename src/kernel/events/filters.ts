/**
 * What a GET /v1/events client asked for, and the progress throttle. Pure: parsed and matched the same way for
 * live events (in memory) and for the replay after a reconnect (turned into SQL by store.ts).
 */
import { AppError } from "../../core/errors.ts";

export interface EventFilter {
  jobId?: string;
  streamId?: string;
  /** Exact types ("job.completed") and prefixes ("task.*" → "task."); undefined = every type. */
  types?: TypePatterns;
}

export interface TypePatterns {
  exact: string[];
  prefixes: string[];
}

/** The fields a filter looks at (a stored event or a progress update). */
export interface Filterable {
  type: string;
  job_id: string | null;
  stream_id: string | null;
}

const PATTERN_RE = /^(\*|[a-z][a-z0-9_]*(\.[a-z0-9_]+)*(\.\*|\*)?)$/;
const MAX_PATTERNS = 32;

/**
 * `types=job.completed,task.*`: a comma-separated list of event types; a pattern ending in `*` matches every
 * type starting with what precedes it (`*` alone: everything). Throws WE-REQ-001 naming the bad pattern.
 */
export function parseTypes(raw: string | undefined): TypePatterns | undefined {
  if (raw === undefined || raw.trim() === "") return undefined;
  const list = raw.split(",").map((s) => s.trim()).filter(Boolean);
  if (list.length > MAX_PATTERNS) throw new AppError("WE-REQ-001", `types: at most ${MAX_PATTERNS} patterns, got ${list.length}`, { in: "query", issues: [{ path: "types", message: "too many patterns" }] });
  const out: TypePatterns = { exact: [], prefixes: [] };
  for (const p of list) {
    if (p.length > 64 || !PATTERN_RE.test(p)) {
      throw new AppError("WE-REQ-001", `types: ${JSON.stringify(p.slice(0, 70))} is not an event type or pattern (e.g. job.completed, task.*, *)`, {
        in: "query",
        issues: [{ path: "types", message: `invalid pattern ${JSON.stringify(p.slice(0, 70))}` }],
      });
    }
    if (p === "*") return undefined;
    if (p.endsWith("*")) out.prefixes.push(p.slice(0, -1));
    else out.exact.push(p);
  }
  return out;
}

export function typeMatches(types: TypePatterns | undefined, type: string): boolean {
  if (!types) return true;
  return types.exact.includes(type) || types.prefixes.some((p) => type.startsWith(p));
}

export function matches(filter: EventFilter, item: Filterable): boolean {
  if (filter.jobId !== undefined && item.job_id !== filter.jobId) return false;
  if (filter.streamId !== undefined && item.stream_id !== filter.streamId) return false;
  return typeMatches(filter.types, item.type);
}

/**
 * `Last-Event-ID` header or `last_event_id` query parameter (the header wins: it is what EventSource sends on
 * its own reconnects). Undefined = start live; otherwise a non-negative event id. Throws WE-REQ-001.
 */
export function parseLastEventId(header: string | null, query: string | undefined): number | undefined {
  const raw = (header ?? query)?.trim();
  if (raw === undefined || raw === "") return undefined;
  if (!/^\d{1,15}$/.test(raw)) {
    throw new AppError("WE-REQ-001", `Last-Event-ID must be an event id (a non-negative integer); got ${JSON.stringify(raw.slice(0, 40))}`, {
      in: header !== null ? "header" : "query",
      issues: [{ path: header !== null ? "last-event-id" : "last_event_id", message: "not an event id" }],
    });
  }
  return Number(raw);
}

/**
 * Throttle: how long to wait before the next update may go out, given when the last one did (0 = now).
 * Updates that arrive while waiting are coalesced into the latest (the caller sends it when the wait ends),
 * so a client never misses the final value of a burst.
 */
export function throttleDelay(lastSentAt: number | undefined, now: number, intervalMs: number): number {
  if (lastSentAt === undefined) return 0;
  return Math.max(0, lastSentAt + intervalMs - now);
}

/**
 * Per-client rate limiting: a token bucket per client IP (RATE_LIMIT_RPS refill per second, RATE_LIMIT_BURST
 * capacity; RATE_LIMIT_RPS=0 turns it off). It runs in onRequest, before routing and before authentication,
 * so password/key guessing is throttled like everything else. Health endpoints and /metrics are exempt:
 * monitoring must keep working while a client is being throttled. So are the live transcode's pushes and
 * source pulls (`/internal/live/…` with a session token): one worker host with several live transcodes
 * PUTs a segment and a playlist per rung per segment duration from one address, well past any per-client
 * rate meant for users, and a 429 there loses a segment for every viewer. They carry their own credential
 * (an HMAC token per session, checked by the route before a byte of the body is read), so a flood of forged
 * tokens costs one MAC comparison each and reaches nothing.
 *
 * Limits are per kernel process (buckets live in memory): behind a load balancer with N kernels a client
 * gets up to N× the rate. Memory is bounded: idle buckets (already refilled to full) are dropped, and past
 * MAX_CLIENTS the least recently seen client is forgotten.
 */
import type { Server } from "elysia/universal";
import { cidrContains, formatIp, parseIp } from "../../core/outbound-address.ts";
import { envelope } from "./envelope.ts";

// ---- the bucket (pure) -------------------------------------------------------------------------------

export interface Bucket {
  tokens: number;
  /** When `tokens` was last computed, in milliseconds of the limiter's clock. */
  at: number;
}

export interface Take {
  bucket: Bucket;
  allowed: boolean;
  /** Whole seconds until one token is available again (0 when allowed). */
  retryAfterS: number;
}

/** Refills `bucket` (undefined = a new client, full) up to `now` and takes one token if there is one. Pure. */
export function takeToken(bucket: Bucket | undefined, now: number, rps: number, burst: number): Take {
  const elapsedS = bucket ? Math.max(0, now - bucket.at) / 1000 : 0;
  const tokens = bucket ? Math.min(burst, bucket.tokens + elapsedS * rps) : burst;
  if (tokens >= 1) return { bucket: { tokens: tokens - 1, at: now }, allowed: true, retryAfterS: 0 };
  // Retry-After is whole seconds (RFC 9110); round up so a client that obeys it is admitted.
  return { bucket: { tokens, at: now }, allowed: false, retryAfterS: Math.max(1, Math.ceil((1 - tokens) / rps)) };
}

// ---- the limiter (bounded map of buckets) ------------------------------------------------------------

export interface RateLimiterOptions {
  rps: number;
  burst: number;
  /** Most clients tracked at once; beyond it the least recently seen is forgotten (it starts over, full). */
  maxClients?: number;
  /** Milliseconds, monotonic; injectable for tests. */
  now?: () => number;
}

export const MAX_CLIENTS = 100_000;

export class RateLimiter {
  /** Insertion order = order of last use (a touched bucket is re-inserted), so the oldest come first. */
  private readonly buckets = new Map<string, Bucket>();
  private readonly rps: number;
  private readonly burst: number;
  private readonly maxClients: number;
  private readonly now: () => number;
  /** A bucket untouched this long has refilled completely: forgetting it changes nothing. */
  private readonly idleMs: number;

  constructor(opts: RateLimiterOptions) {
    if (!(opts.rps > 0) || !(opts.burst >= 1)) throw new Error("RateLimiter: rps must be > 0 and burst >= 1");
    this.rps = opts.rps;
    this.burst = opts.burst;
    this.maxClients = opts.maxClients ?? MAX_CLIENTS;
    this.now = opts.now ?? (() => performance.now());
    this.idleMs = (opts.burst / opts.rps) * 1000;
  }

  take(key: string): { allowed: boolean; retryAfterS: number } {
    const now = this.now();
    this.evictIdle(now);
    const previous = this.buckets.get(key);
    const t = takeToken(previous, now, this.rps, this.burst);
    if (previous) this.buckets.delete(key);
    this.buckets.set(key, t.bucket);
    if (this.buckets.size > this.maxClients) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    return { allowed: t.allowed, retryAfterS: t.retryAfterS };
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Drops full-again buckets from the old end; stops at the first recent one, so this is O(evicted). */
  private evictIdle(now: number): void {
    for (const [key, b] of this.buckets) {
      if (now - b.at < this.idleMs) return;
      this.buckets.delete(key);
    }
  }
}

// ---- who is the client -------------------------------------------------------------------------------

/** Whether a (canonical) address is one of the trusted proxies. */
function isTrusted(ip: string, trustedProxies: readonly string[]): boolean {
  return trustedProxies.some((cidr) => cidrContains(cidr, ip));
}

/**
 * The client's IP address: the socket peer, unless the peer is a trusted proxy (TRUSTED_PROXIES), in which
 * case X-Forwarded-For is read from the right and the first address that is not a trusted proxy wins
 * (addresses further left were written by the client and can be anything). An X-Forwarded-For from an
 * untrusted peer is ignored entirely. "unknown" when there is no socket (app.handle() in tests).
 */
export function clientIp(request: Request, server: Pick<Server, "requestIP"> | null | undefined, trustedProxies: readonly string[]): string {
  const peerText = server?.requestIP(request)?.address;
  const peerBytes = peerText ? parseIp(peerText) : null;
  if (!peerBytes) return peerText || "unknown";
  // Canonical text: "::ffff:10.0.0.5" from a dual-stack socket becomes "10.0.0.5".
  const peer = formatIp(peerBytes);
  if (trustedProxies.length === 0 || !isTrusted(peer, trustedProxies)) return peer;
  const header = request.headers.get("x-forwarded-for");
  if (!header) return peer;
  const hops = header.split(",");
  let nearest = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const ip = parseForwarded(hops[i]!);
    // Garbage in the chain: the last address we could verify is the best we know.
    if (ip === undefined) return nearest;
    if (!isTrusted(ip, trustedProxies)) return ip;
    nearest = ip;
  }
  // Every hop is a trusted proxy: the request started inside the trusted network.
  return nearest;
}

/** One X-Forwarded-For entry ("1.2.3.4", "1.2.3.4:5678", "2001:db8::1", "[2001:db8::1]:5678") in canonical text. */
function parseForwarded(entry: string): string | undefined {
  const s = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(s);
  const v4port = /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(s);
  const bytes = parseIp(bracketed ? bracketed[1]! : v4port ? v4port[1]! : s);
  return bytes ? formatIp(bytes) : undefined;
}

/**
 * The bucket key for an address: IPv6 clients are grouped by /64, the block a single host or subscriber
 * usually gets, so rotating through one's own addresses does not multiply the allowance.
 */
export function rateLimitKey(ip: string): string {
  const bytes = parseIp(ip);
  if (!bytes || !formatIp(bytes).includes(":")) return ip;
  return `${formatIp(new Uint8Array([...bytes.subarray(0, 8), 0, 0, 0, 0, 0, 0, 0, 0]))}/64`;
}

// ---- the hook ----------------------------------------------------------------------------------------

/** Monitoring endpoints: never throttled. */
const EXEMPT = new Set(["/v1/health", "/v1/system/health", "/metrics"]);

/** The worker-only live routes (src/kernel/api/live-ingest-internal.ts, streams-internal.ts). */
const LIVE_INTERNAL_PREFIX = "/internal/live/";

/**
 * Whether a request is never throttled: monitoring, or a worker's live push/pull that presents a session
 * token (`Bearer wlt1.…`, src/kernel/live/token.ts; the route verifies it). A request to the live routes
 * without such a token is counted like any other. Pure.
 */
export function isRateLimitExempt(path: string, authorization: string | null): boolean {
  if (EXEMPT.has(path)) return true;
  return path.startsWith(LIVE_INTERNAL_PREFIX) && /^Bearer\s+wlt1\./i.test(authorization ?? "");
}

export interface RateLimitSettings {
  RATE_LIMIT_RPS: number;
  RATE_LIMIT_BURST: number;
  TRUSTED_PROXIES: readonly string[];
}

interface HookContext {
  request: Request;
  server: Pick<Server, "requestIP"> | null;
  set: { status?: number | string; headers: Record<string, string | number> };
}

/**
 * An onRequest handler that answers 429 (WE-SYS-005, with Retry-After) when the client's bucket is empty;
 * undefined when rate limiting is off. `requestId` gives the id the request-id hook assigned.
 */
export function rateLimitHook(config: RateLimitSettings, requestId: (r: Request) => string, now?: () => number) {
  if (config.RATE_LIMIT_RPS === 0) return undefined;
  const limiter = new RateLimiter({ rps: config.RATE_LIMIT_RPS, burst: config.RATE_LIMIT_BURST, now });
  return ({ request, server, set }: HookContext) => {
    const path = new URL(request.url).pathname.replace(/(.)\/$/, "$1");
    if (isRateLimitExempt(path, request.headers.get("authorization"))) return;
    const ip = clientIp(request, server, config.TRUSTED_PROXIES);
    const { allowed, retryAfterS } = limiter.take(rateLimitKey(ip));
    if (allowed) return;
    set.status = 429;
    set.headers["retry-after"] = String(retryAfterS);
    return envelope("WE-SYS-005", `too many requests: the limit is ${config.RATE_LIMIT_RPS} per second (burst ${config.RATE_LIMIT_BURST}) per client; retry after ${retryAfterS} s`, requestId(request), {
      retry_after_s: retryAfterS,
    });
  };
}

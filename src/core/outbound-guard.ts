/**
 * The outbound-request policy (docs/security.md, "Outbound requests"): every URL the platform fetches or
 * calls back on a user's behalf — job sources, webhooks — goes through here first. Only http(s); every
 * address the host resolves to must be public or covered by OUTBOUND_ALLOW_CIDRS; redirects are followed
 * by hand so that each hop is checked the same way. The address rules themselves are in outbound-address.ts.
 *
 * Known limit: the check resolves the name, then fetch() resolves it again to connect. A name whose DNS
 * answer changes in between (rebinding) can still reach a refused address; the window is one lookup wide.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { AppError } from "./errors.ts";
import { type AddressKind, type Classification, formatIp, isAllowed, parseIp } from "./outbound-address.ts";

export { type AddressKind, type Classification, cidrContains, classifyAddress, formatIp, isAllowed, parseCidr, parseIp } from "./outbound-address.ts";

export type RefusalReason = "invalid-url" | "scheme" | "address" | "unresolvable" | "too-many-redirects";

/** A URL the policy will not let the platform request. `message` says what to change. */
export class OutboundRefused extends Error {
  constructor(
    readonly reason: RefusalReason,
    message: string,
    readonly host?: string,
    readonly address?: string,
    readonly kind?: AddressKind,
  ) {
    super(message);
    this.name = "OutboundRefused";
  }
}

/** fetch() did not finish within the time given (connect, headers and whatever body was read so far). */
export class OutboundTimeout extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OutboundTimeout";
  }
}

/** Resolves a host name to every address it has (injectable so callers can pin or count lookups). */
export type Lookup = (host: string) => Promise<string[]>;

const systemLookup: Lookup = async (host) => (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address);

export interface CheckOptions {
  /** OUTBOUND_ALLOW_CIDRS: private networks this installation trusts. */
  allowCidrs: readonly string[];
  /** How the URL is named in messages: "source_url", "webhook url". Default "URL". */
  what?: string;
  lookup?: Lookup;
  /** Longest wait for DNS (default 5 s). */
  dnsTimeoutMs?: number;
  /** Set by guardedFetch for redirect targets: messages then say "… redirects to <url>; …". */
  redirected?: boolean;
}

/** A URL fit for a message: credentials and query (signatures, tokens) left out. */
export function redactUrl(target: URL | string): string {
  let url: URL;
  try {
    url = typeof target === "string" ? new URL(target) : target;
  } catch {
    return "(not a valid URL)";
  }
  const creds = url.username || url.password ? "***@" : "";
  if (url.protocol !== "http:" && url.protocol !== "https:") return `${url.protocol}//${creds}${url.host}${url.pathname}`.slice(0, 200);
  return `${url.protocol}//${creds}${url.host}${url.pathname}${url.search ? "?…" : ""}`.slice(0, 200);
}

const KIND_TEXT: Record<AddressKind, [string, string]> = {
  loopback: ["a loopback", "loopback addresses"],
  private: ["a private", "private networks"],
  "link-local": ["a link-local", "link-local addresses"],
  metadata: ["a cloud metadata", "cloud metadata endpoints"],
  unspecified: ["an unspecified", "unspecified addresses"],
  multicast: ["a multicast", "multicast addresses"],
  broadcast: ["a broadcast", "broadcast addresses"],
  reserved: ["a reserved", "reserved addresses"],
};

function advice(cls: Classification, address: string): string {
  const [, plural] = KIND_TEXT[cls.kind];
  if (cls.kind === "metadata") return `requests to ${plural} are refused unless OUTBOUND_ALLOW_CIDRS names that exact address (${address}/${address.includes(":") ? 128 : 32})`;
  return `outbound requests to ${plural} are refused unless OUTBOUND_ALLOW_CIDRS includes them`;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new OutboundTimeout(`${what}: no DNS answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

/**
 * Checks that `url` may be requested: http or https, and every address its host resolves to allowed (one
 * bad answer among several is enough to refuse: the connection could use any of them). Credentials in the
 * URL are allowed but never appear in messages. Throws OutboundRefused (or OutboundTimeout for slow DNS).
 */
export async function checkOutboundUrl(url: string, opts: CheckOptions): Promise<{ url: URL; addresses: string[] }> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new OutboundRefused("invalid-url", `${opts.what ?? "URL"} is not a valid URL`);
  }
  // "source_url http://x/…" or "source_url redirects to http://x/…;" — then what is wrong with it.
  const what = opts.redirected ? `${opts.what ?? "URL"} redirects to ${redactUrl(u)};` : (opts.what ?? "URL");
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    const named = opts.redirected ? `${what} the` : `${what} ${redactUrl(u)} uses the`;
    throw new OutboundRefused("scheme", `${named} ${u.protocol} scheme ${opts.redirected ? "is refused" : ""}; only http:// and https:// URLs are fetched`.replace(" ;", ";"));
  }
  const host = u.hostname;
  if (!host) throw new OutboundRefused("invalid-url", `${what} ${opts.redirected ? "the URL" : redactUrl(u)} has no host`);
  // The URL parser already turned every IPv4 spelling (2130706433, 0x7f.1, 127.1) into a dotted quad.
  const literal = parseIp(host);
  let addresses: string[];
  if (literal) addresses = [formatIp(literal)];
  else {
    try {
      addresses = await withTimeout((opts.lookup ?? systemLookup)(host.replace(/\.$/, "") || host), opts.dnsTimeoutMs ?? 5_000, `${what} host "${host}"`);
    } catch (e) {
      if (e instanceof OutboundTimeout) throw e;
      const code = (e as { code?: unknown }).code;
      throw new OutboundRefused("unresolvable", `${what} host "${host}" does not resolve${typeof code === "string" ? ` (${code})` : ""}; check the host name`, host);
    }
    if (addresses.length === 0) throw new OutboundRefused("unresolvable", `${what} host "${host}" has no addresses; check the host name`, host);
  }
  for (const address of addresses) {
    const parsed = parseIp(address);
    if (!parsed) throw new OutboundRefused("unresolvable", `${what} host "${host}" resolved to something that is not an IP address`, host);
    const canonical = formatIp(parsed);
    const verdict = isAllowed(canonical, opts.allowCidrs);
    if (verdict.allowed) continue;
    const cls = verdict.class!;
    const article = KIND_TEXT[cls.kind][0];
    const subject = literal ? `${what} address ${canonical} is ${article} address` : `${what} host "${host}" resolves to ${canonical}, ${article} address`;
    throw new OutboundRefused("address", `${subject}; ${advice(cls, canonical)}`, host, canonical, cls.kind);
  }
  return { url: u, addresses: addresses.map((a) => formatIp(parseIp(a)!)) };
}

export interface GuardedFetchOptions extends CheckOptions {
  /** Whole exchange: every hop's connect and headers, and the body while it is read. */
  timeoutMs: number;
  /** Redirects followed at most (default 5); one more is refused. */
  maxRedirects?: number;
  /** Called with each URL once it passed the check, before it is requested. */
  onChecked?(checked: { url: URL; addresses: string[] }): void;
}

export interface GuardedResult {
  response: Response;
  /** The URL that answered (after redirects). */
  url: URL;
  addresses: string[];
  redirects: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Like guardedFetch, and also says where the answer came from (the final URL and its addresses). */
export async function guardedFetchDetailed(url: string, init: RequestInit = {}, opts: GuardedFetchOptions): Promise<GuardedResult> {
  const what = opts.what ?? "URL";
  const max = opts.maxRedirects ?? 5;
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
  let method = (init.method ?? "GET").toUpperCase();
  let body = init.body;
  const headers = new Headers(init.headers);
  let current = url;
  for (let hop = 0; ; hop++) {
    const label = hop === 0 ? what : `${what} (redirected to ${redactUrl(current)})`;
    const checked = await checkOutboundUrl(current, { ...opts, what, redirected: hop > 0 });
    opts.onChecked?.(checked);
    let res: Response;
    try {
      res = await fetch(checked.url.href, { ...init, method, body, headers, redirect: "manual", signal });
    } catch (e) {
      if (timeout.aborted) throw new OutboundTimeout(`${label} did not answer within ${opts.timeoutMs} ms`);
      throw e;
    }
    const location = res.headers.get("location");
    if (!REDIRECTS.has(res.status) || location === null) return { response: res, url: checked.url, addresses: checked.addresses, redirects: hop };
    await res.body?.cancel().catch(() => {});
    if (hop >= max) throw new OutboundRefused("too-many-redirects", `${what} redirected more than ${max} times; give the final URL instead`, checked.url.hostname);
    let next: URL;
    try {
      next = new URL(location, checked.url);
    } catch {
      throw new OutboundRefused("invalid-url", `${label} answered ${res.status} with an invalid Location header`, checked.url.hostname);
    }
    // As browsers do (Fetch standard): 303, and 301/302 after a POST, continue as GET without a body;
    // credentials never travel to another origin.
    if (res.status === 303 ? method !== "HEAD" : (res.status === 301 || res.status === 302) && method === "POST") {
      method = "GET";
      body = undefined;
      for (const h of ["content-type", "content-length", "content-encoding", "content-language", "content-location"]) headers.delete(h);
    }
    if (next.origin !== checked.url.origin) {
      headers.delete("authorization");
      headers.delete("cookie");
    }
    current = next.href;
  }
}

/**
 * fetch() for user-supplied URLs: the URL and every redirect target pass checkOutboundUrl before they are
 * requested (redirect: "manual" underneath), at most `maxRedirects` hops, all within `timeoutMs`.
 * Throws OutboundRefused, OutboundTimeout, or fetch's own network errors.
 */
export async function guardedFetch(url: string, init: RequestInit | undefined, opts: GuardedFetchOptions): Promise<Response> {
  return (await guardedFetchDetailed(url, init, opts)).response;
}

/**
 * FFmpeg follows up to 8 redirects on its own, without asking anyone. Before an http(s) input this is
 * `-max_redirects 0` (FFmpeg 5.1 and later), so FFmpeg reads only the URL the guard checked and a redirect
 * becomes an input error instead of a request to an unchecked address. media/input-policy.ts puts it, with
 * the protocol and format whitelists, before every input of every FFmpeg and FFprobe run.
 */
export function probeInputOptions(input: string): string[] {
  return /^https?:\/\//i.test(input) ? ["-max_redirects", "0"] : [];
}

// ---- job sources ------------------------------------------------------------------------------------------

function sourceRefused(refusal: OutboundRefused): AppError {
  return new AppError("WE-JOB-002", refusal.message, { reason: refusal.reason, ...(refusal.host ? { host: refusal.host } : {}), ...(refusal.address ? { address: refusal.address, address_kind: refusal.kind } : {}) });
}

/** A job's http(s) source_url at submission: refused → 400 WE-JOB-002 with the policy's message. */
export async function checkSourceUrl(url: string, allowCidrs: readonly string[], lookup?: Lookup): Promise<void> {
  try {
    await checkOutboundUrl(url, { allowCidrs, what: "source_url", lookup });
  } catch (e) {
    if (e instanceof OutboundRefused) throw sourceRefused(e);
    if (e instanceof OutboundTimeout) throw new AppError("WE-JOB-002", `${e.message}; check the host name or try again`);
    throw e;
  }
}

/**
 * What a worker hands FFmpeg for a user's http(s) source: the URL after following its redirects here, each
 * hop checked (one small ranged GET), so FFmpeg — which runs with `-max_redirects 0` — starts at a checked
 * address. A refused hop is a permanent input error (WE-JOB-002). When the source cannot be reached at all,
 * the last checked URL is returned and FFmpeg reports the failure in its own words, as it always did.
 */
export async function resolveSourceUrl(url: string, opts: { allowCidrs: readonly string[]; signal?: AbortSignal; timeoutMs?: number }): Promise<string> {
  let last: URL | undefined;
  try {
    const r = await guardedFetchDetailed(
      url,
      { method: "GET", headers: { range: "bytes=0-0" }, signal: opts.signal },
      { allowCidrs: opts.allowCidrs, what: "source_url", timeoutMs: opts.timeoutMs ?? 30_000, onChecked: (c) => (last = c.url) },
    );
    await r.response.body?.cancel().catch(() => {});
    return r.url.href;
  } catch (e) {
    if (e instanceof OutboundRefused) throw sourceRefused(e);
    if (opts.signal?.aborted || !last) throw e;
    return last.href;
  }
}

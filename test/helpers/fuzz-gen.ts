/**
 * Seeded request generation for the API fuzz test (test/e2e/fuzz.test.ts): from the OpenAPI operations the
 * kernel publishes at /swagger/json, requests with hostile or mutated paths, parameters, query strings,
 * bodies, methods and headers. Deterministic for a seed (mulberry32), so a failing run can be replayed.
 */

/** A small, fast, seedable PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Operation {
  method: string;
  /** OpenAPI path with `{name}` placeholders. */
  path: string;
  pathParams: string[];
  queryParams: string[];
  contentTypes: string[];
  schema?: JsonSchema;
  example?: unknown;
}

interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
}

export interface OpenApi {
  paths: Record<string, Record<string, { parameters?: Array<{ in: string; name: string }>; requestBody?: { content?: Record<string, { schema?: JsonSchema; example?: unknown }> } }>>;
}

/** The operations of an OpenAPI document. Pure. */
export function operationsOf(spec: OpenApi): Operation[] {
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = op.parameters ?? [];
      const content = op.requestBody?.content ?? {};
      const json = content["application/json"];
      ops.push({
        method: method.toUpperCase(),
        path,
        pathParams: params.filter((p) => p.in === "path").map((p) => p.name),
        queryParams: params.filter((p) => p.in === "query").map((p) => p.name),
        contentTypes: Object.keys(content),
        schema: json?.schema,
        example: json?.example,
      });
    }
  }
  return ops;
}

/** Already percent-encoded hostile fragments for paths and query strings. */
const RAW = ["%00", "a%00b", "%", "%zz", "%E0%A4%A", "%FF%FE", "..%2f..%2fetc%2fpasswd", "%2e%2e", "%C0%AE", "%0d%0aSet-Cookie:%20x=1", "%25", "+", "%20"];
/** Plain hostile values (encoded before use). */
const PLAIN = [
  "", "a", "0", "-1", "1.5", "9223372036854775807", "9223372036854775808", "18446744073709551616", "1" + "0".repeat(400), "1e309", "NaN", "Infinity", "null", "true",
  "__proto__", "constructor", "toString", "hasOwnProperty", "prototype", "../../etc/passwd", "/etc/passwd", "' OR 1=1 --", "<script>alert(1)</script>", "${jndi:ldap://x}",
  "😀", "\u202e", "\uFFFF", "a".repeat(300), "x".repeat(5000), "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff", "*", "jobs.*", "a b",
  "2026-01-31T12:00:00Z", "0000-00-00T00:00:00Z", "storage-fs", "encoder-ffmpeg", "queued", "completed", "viewer", "admin", "uploads/x/clip.mp4", "uploads/",
];

export class Gen {
  constructor(readonly rand: () => number) {}
  int(n: number): number {
    return Math.floor(this.rand() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.rand() < p;
  }
  /** A value for a path segment or query value, percent-encoded as it goes on the wire. */
  param(pool: string[]): string {
    const r = this.rand();
    if (r < 0.15) return this.pick(RAW);
    if (r < 0.3 && pool.length) return encodeURIComponent(this.pick(pool));
    if (r < 0.45) return crypto.randomUUID();
    return encodeURIComponent(this.pick(PLAIN));
  }
  path(op: Operation, pool: string[]): string {
    let p = op.path;
    for (const name of op.pathParams) p = p.replace(`{${name}}`, name === "key" && this.chance(0.5) ? `${this.param(pool)}/${this.param(pool)}` : this.param(pool));
    if (this.chance(0.05)) p += this.pick(["/", "//", "/extra", "/..", "?", "%2f"]);
    return p;
  }
  query(op: Operation, pool: string[]): string {
    const parts: string[] = [];
    for (const name of op.queryParams) if (this.chance(0.4)) parts.push(`${name}=${this.param(pool)}`);
    if (this.chance(0.15)) parts.push(`${this.pick(["limit", "offset", "__proto__", "x", "a[b]", "%00", "before"])}=${this.param(pool)}`);
    if (this.chance(0.1)) parts.push(this.pick(["&&", "=", "==x", "%", "limit=1&limit=2", "a[]=1&a[]=2"]));
    return parts.length ? `?${parts.join("&")}` : "";
  }
  /** A value following `schema` (mostly valid; any field may go wrong with small probability). */
  value(schema: JsonSchema | undefined, depth = 0): unknown {
    if (!schema || depth > 6 || this.chance(0.04)) return this.junk();
    if (schema.enum) return this.pick(schema.enum);
    if (schema.anyOf) return this.value(this.pick(schema.anyOf), depth + 1);
    switch (schema.type) {
      case "object": {
        const out: Record<string, unknown> = {};
        for (const [k, s] of Object.entries(schema.properties ?? {})) if ((schema.required ?? []).includes(k) ? !this.chance(0.05) : this.chance(0.5)) out[k] = this.value(s, depth + 1);
        return out;
      }
      case "array":
        return Array.from({ length: this.int(4) }, () => this.value(schema.items, depth + 1));
      case "integer":
      case "number":
        return this.pick([0, 1, -1, schema.minimum ?? 0, schema.maximum ?? 100, 2 ** 63, -(2 ** 63), 1e308, 0.5]);
      case "boolean":
        return this.chance(0.5);
      case "string":
        return this.pick([...PLAIN, "http://127.0.0.1:9/a.mp4", "https://example.com/v.mp4", "file:///etc/passwd", "uploads/a/b.mp4", "720p_h264", "user@example.com"]);
      default:
        return this.junk();
    }
  }
  junk(): unknown {
    return this.pick<unknown>([null, 0, -1, 2 ** 64, "", "x".repeat(10_000), [], {}, [[[[]]]], JSON.parse('{"__proto__":{"admin":true}}'), { constructor: { prototype: {} } }, true, "\u0000", { a: "\u0000" }]);
  }
  /** A request body and content type for `op`, valid-ish or broken. */
  body(op: Operation): { body?: string | Uint8Array | FormData; contentType?: string } {
    if (op.path === "/v1/files" && op.method === "POST") {
      if (this.chance(0.5)) return { body: new Uint8Array(this.int(4096)), contentType: this.pick(["application/octet-stream", "video/mp4", "text/plain"]) };
      const form = new FormData();
      form.append(this.pick(["file", "other", "__proto__"]), new Blob([new Uint8Array(this.int(2048))]), this.pick(["a.mp4", "../../x.mp4", "a\u0000b.mp4", "", ".hidden", "😀.mov"]));
      return { body: form };
    }
    const r = this.rand();
    if (r < 0.05) return {};
    if (r < 0.1) return { body: this.pick(["{", "{\"a\":", "[1,2", "\u0000", "null", "{}}", "'x'", "<xml/>"]), contentType: "application/json" };
    if (r < 0.13) return { body: "[".repeat(5000) + "]".repeat(5000), contentType: "application/json" };
    if (r < 0.15) return { body: JSON.stringify({ pad: "x".repeat(1_100_000) }), contentType: "application/json" };
    if (r < 0.2) return { body: JSON.stringify(this.value(op.schema)), contentType: this.pick(["text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/vnd.api+json", ""]) };
    const base = this.chance(0.3) && op.example !== undefined ? structuredClone(op.example) : this.value(op.schema);
    if (this.chance(0.1) && base && typeof base === "object") (base as Record<string, unknown>)[this.pick(["__proto__", "constructor", "extra", "id", ""])] = this.junk();
    return { body: JSON.stringify(base), contentType: "application/json" };
  }
  method(op: Operation): string {
    return this.chance(0.88) ? op.method : this.pick(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "PROPFIND"]);
  }
  headers(): Record<string, string> {
    const h: Record<string, string> = {};
    if (this.chance(0.1)) h["x-request-id"] = this.pick(["", "a b", "x".repeat(300), "../../", "ok-id-1", "%00"]);
    if (this.chance(0.05)) h.range = this.pick(["bytes=0-0", "bytes=999999999-", "bytes=-0", "bytes=5-1", "items=0-1", "bytes=0-1,2-3"]);
    if (this.chance(0.05)) h.accept = this.pick(["text/html", "*/*", "application/xml", "text/event-stream"]);
    if (this.chance(0.05)) h.origin = this.pick(["https://evil.example", "null"]);
    if (this.chance(0.03)) h["x-forwarded-for"] = this.pick(["1.2.3.4", "garbage", "::1, 10.0.0.1"]);
    return h;
  }
}

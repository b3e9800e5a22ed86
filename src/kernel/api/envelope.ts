/**
 * The one error envelope: `{ error: { code, message, details?, request_id } }` (docs/architecture.md §7).
 * Pure mapping from whatever was thrown (our AppError, Elysia's validation/parse/not-found errors) to a
 * status and a body. Never a stack trace, never an internal path, never plain text.
 */
import { AppError, ERROR_CATALOGUE, type ErrorCode } from "../../core/errors.ts";

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown>; request_id: string };
}

export function envelope(code: ErrorCode, message: string, requestId: string, details?: Record<string, unknown>): ErrorBody {
  return { error: { code, message, ...(details ? { details } : {}), request_id: requestId } };
}

/** Area-specific "invalid request" codes: a bad body on a job route is WE-JOB-001, on a plugin WE-PLG-003. */
export function validationCodeFor(path: string): ErrorCode {
  if (path.startsWith("/v1/jobs")) return "WE-JOB-001";
  if (path.startsWith("/v1/streams") || path.startsWith("/v1/restreams")) return "WE-STR-001";
  if (path.startsWith("/v1/plugins")) return "WE-PLG-003";
  return "WE-REQ-001";
}

interface Issue {
  path: string;
  message: string;
}

/**
 * Elysia's ValidationError carries the Standard Schema issues; flatten them to `path: message`.
 * Elysia's own `all` joins valibot's path items (objects) into "[object Object]", so the issues are taken
 * from the schema itself when it is a Standard Schema, and from `all` otherwise (TypeBox).
 */
export function validationIssues(error: unknown): Issue[] {
  const all = standardIssues(error) ?? (error as { all?: unknown }).all;
  if (!Array.isArray(all)) return [];
  return all.slice(0, 20).map((i: { path?: unknown; message?: unknown; summary?: unknown }) => ({
    path: formatPath(i.path),
    message: String(i.summary ?? i.message ?? "invalid"),
  }));
}

type StandardValidate = (value: unknown) => { issues?: unknown[] } | Promise<unknown>;

function standardIssues(error: unknown): unknown[] | undefined {
  const e = error as { validator?: { "~standard"?: { validate?: StandardValidate }; schema?: { "~standard"?: { validate?: StandardValidate } } }; value?: unknown };
  const std = e.validator?.["~standard"] ?? e.validator?.schema?.["~standard"];
  if (typeof std?.validate !== "function") return undefined;
  try {
    const result = std.validate(e.value);
    if (result instanceof Promise) return undefined;
    return Array.isArray(result.issues) ? result.issues : undefined;
  } catch {
    return undefined;
  }
}

function formatPath(path: unknown): string {
  if (typeof path === "string") return path.replace(/^\//, "").replace(/\//g, ".");
  if (Array.isArray(path)) return path.map((p) => (typeof p === "object" && p && "key" in p ? String(p.key) : String(p))).join(".");
  return "";
}

export interface Mapped {
  status: number;
  body: ErrorBody;
}

/**
 * `allowed`: for a request that found no route, the methods the path has (allowed-methods.ts); when there are
 * any the answer is 405 naming them instead of 404.
 */
export function mapError(kind: string, error: unknown, path: string, requestId: string, allowed?: { method: string; methods: string[] }): Mapped {
  if (error instanceof AppError) {
    return { status: error.status, body: envelope(error.code, error.message, requestId, error.details) };
  }
  // Elysia wraps whatever a parse hook throws in a ParseError; ours (body-limit.ts: 413) keeps its own code.
  const cause = (error as { cause?: unknown } | null | undefined)?.cause;
  if (kind === "PARSE" && cause instanceof AppError) return mapError(kind, cause, path, requestId);
  switch (kind) {
    case "VALIDATION": {
      const code = validationCodeFor(path);
      const where = (error as { type?: string }).type ?? "body";
      const issues = validationIssues(error);
      const first = issues[0];
      const message = first ? `invalid ${where}: ${first.path ? `${first.path}: ` : ""}${first.message}` : `invalid ${where}`;
      return { status: ERROR_CATALOGUE[code].status === 422 ? 422 : 400, body: envelope(code, message, requestId, { in: where, issues }) };
    }
    case "PARSE":
      return { status: 400, body: envelope("WE-REQ-004", "malformed request body: expected valid JSON matching the Content-Type", requestId) };
    case "NOT_FOUND":
      if (allowed?.methods.length) {
        return { status: 405, body: envelope("WE-REQ-005", `method ${allowed.method} is not allowed on ${path}; allowed: ${allowed.methods.join(", ")}`, requestId) };
      }
      return { status: 404, body: envelope("WE-REQ-002", `no route for ${path}; see /swagger for the API`, requestId) };
    case "INVALID_COOKIE_SIGNATURE":
      return { status: 400, body: envelope("WE-REQ-001", "invalid cookie signature", requestId) };
    default: {
      if (isDatabaseUnavailable(error)) {
        return { status: 503, body: envelope("WE-SYS-002", "database unavailable; retry shortly", requestId) };
      }
      // `throw null` / `throw undefined` from a handler must still give the envelope, not crash the hook.
      const status = (error as { status?: unknown } | null | undefined)?.status;
      if (status === 413) return { status: 413, body: envelope("WE-REQ-003", "request body too large", requestId) };
      if (status === 405) return { status: 405, body: envelope("WE-REQ-005", "method not allowed", requestId) };
      return { status: 500, body: envelope("WE-SYS-001", "internal error; the request id is in the server log", requestId) };
    }
  }
}

/** Connection-level failures (not query errors): the database is down or unreachable, so the answer is 503. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const e = error as { code?: unknown; cause?: unknown; errno?: unknown } | undefined;
  if (!e || typeof e !== "object") return false;
  const code = typeof e.code === "string" ? e.code : "";
  if (["ECONNREFUSED", "ECONNRESET", "CONNECT_TIMEOUT", "CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED", "EPIPE"].includes(code)) return true;
  if (/^(08|57P)/.test(code)) return true; // connection exception, operator intervention (shutdown)
  return e.cause !== undefined && e.cause !== error && isDatabaseUnavailable(e.cause);
}

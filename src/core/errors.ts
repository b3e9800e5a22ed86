/**
 * The error catalogue (docs/errors.md) and the one error type every layer throws.
 *
 * A route never builds an error body by hand: it throws `AppError` with a catalogue code, and the API's
 * error hook turns it into `{ error: { code, message, details, request_id } }` with the catalogue status.
 * The WE-REQ family is ours: it covers protocol-level failures that belong to no resource (unknown route,
 * malformed JSON, body too large), documented in docs/errors.md.
 */
export const ERROR_CATALOGUE = {
  "WE-JOB-001": { status: 400, title: "invalid request" },
  "WE-JOB-002": { status: 400, title: "bad source URL" },
  "WE-JOB-003": { status: 400, title: "invalid profile" },
  "WE-JOB-004": { status: 404, title: "job not found" },
  "WE-JOB-005": { status: 409, title: "job already cancelled" },
  "WE-JOB-006": { status: 409, title: "job already completed" },
  "WE-JOB-007": { status: 422, title: "unsupported format" },
  "WE-JOB-008": { status: 500, title: "processing failed" },
  "WE-JOB-009": { status: 503, title: "no workers" },
  "WE-JOB-010": { status: 409, title: "job still running" },
  "WE-STR-001": { status: 400, title: "invalid stream request" },
  "WE-STR-002": { status: 404, title: "stream not found" },
  "WE-STR-003": { status: 409, title: "stream already live" },
  "WE-STR-004": { status: 409, title: "stream key conflict" },
  "WE-STR-005": { status: 422, title: "invalid restream destination" },
  "WE-STR-006": { status: 500, title: "ingest unavailable" },
  "WE-STR-007": { status: 409, title: "stream not live" },
  "WE-STR-008": { status: 403, title: "live token refused" },
  "WE-STR-009": { status: 404, title: "restream not found" },
  "WE-STR-010": { status: 409, title: "restream state conflict" },
  "WE-WRK-001": { status: 404, title: "worker not found" },
  "WE-WRK-002": { status: 409, title: "worker busy" },
  "WE-WRK-003": { status: 410, title: "worker offline" },
  "WE-WRK-004": { status: 500, title: "worker communication failed" },
  "WE-ENC-001": { status: 500, title: "hardware encoder failed" },
  "WE-ENC-002": { status: 503, title: "hardware encoder busy" },
  "WE-PLG-001": { status: 404, title: "plugin not found" },
  "WE-PLG-002": { status: 409, title: "plugin disabled" },
  "WE-PLG-003": { status: 422, title: "invalid plugin configuration" },
  "WE-PLG-004": { status: 500, title: "plugin crashed" },
  "WE-PLG-005": { status: 503, title: "plugin degraded" },
  "WE-PLG-006": { status: 409, title: "plugin reload refused" },
  "WE-PUB-001": { status: 409, title: "publisher account needs reconnecting" },
  "WE-PUB-002": { status: 429, title: "publisher quota exceeded" },
  "WE-PUB-003": { status: 502, title: "publisher platform error" },
  "WE-PUB-004": { status: 409, title: "job not publishable" },
  "WE-PUB-005": { status: 422, title: "publisher cannot upload files" },
  "WE-AUTH-001": { status: 401, title: "unauthorized" },
  "WE-AUTH-002": { status: 401, title: "token expired" },
  "WE-AUTH-003": { status: 403, title: "forbidden" },
  "WE-AUTH-004": { status: 403, title: "role required" },
  "WE-AUTH-005": { status: 500, title: "auth provider unavailable" },
  "WE-STO-001": { status: 404, title: "object not found" },
  "WE-STO-002": { status: 403, title: "storage access denied" },
  "WE-STO-003": { status: 507, title: "storage full" },
  "WE-STO-004": { status: 500, title: "storage unavailable" },
  "WE-SYS-001": { status: 500, title: "internal error" },
  "WE-SYS-002": { status: 500, title: "database error" },
  "WE-SYS-003": { status: 500, title: "message queue error" },
  "WE-SYS-004": { status: 503, title: "starting or stopping" },
  "WE-SYS-005": { status: 429, title: "rate limited" },
  "WE-REQ-001": { status: 400, title: "invalid request" },
  "WE-REQ-002": { status: 404, title: "no such route" },
  "WE-REQ-003": { status: 413, title: "request body too large" },
  "WE-REQ-004": { status: 400, title: "malformed request body" },
  "WE-REQ-005": { status: 405, title: "method not allowed" },
  "WE-REQ-006": { status: 404, title: "resource not found" },
  "WE-REQ-007": { status: 416, title: "range not satisfiable" },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, status?: number) {
    super(message);
    this.name = "AppError";
    this.code = code;
    this.status = status ?? ERROR_CATALOGUE[code].status;
    this.details = details;
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/**
 * A short, safe, one-line description of any thrown value for logs (never an object dump). Includes the
 * cause chain: drizzle reports a dead database as "Failed query: <sql>\nparams: " with the driver's
 * "connect ECONNREFUSED …" only in `cause`, which is the part an operator needs.
 */
export function errorMessage(error: unknown, depth = 0): string {
  if (error instanceof Error) {
    let msg = error.message
      .replace(/\s*\n\s*params:\s*$/, "")
      .replace(/\s*\n\s*/g, " ")
      .trim();
    if (error.cause instanceof Error && error.cause !== error && depth < 5) {
      const inner = errorMessage(error.cause, depth + 1);
      if (inner && !msg.includes(inner)) msg = msg ? `${msg}: ${inner}` : inner;
    }
    return msg;
  }
  return typeof error === "string" ? error : JSON.stringify(error);
}

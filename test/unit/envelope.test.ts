/**
 * The error envelope mapping (src/kernel/api/envelope.ts): every failure becomes
 * `{ error: { code, message, details?, request_id } }` with the catalogue status, and nothing internal leaks.
 */
import { describe, expect, test } from "bun:test";
import { AppError, ERROR_CATALOGUE } from "../../src/core/errors.ts";
import { envelope, isDatabaseUnavailable, mapError, validationCodeFor } from "../../src/kernel/api/envelope.ts";

const RID = "req-123";

describe("mapError: AppError", () => {
  test("uses the error's code, catalogue status, message and details", () => {
    const m = mapError("UNKNOWN", new AppError("WE-WRK-001", "worker w1 not found", { id: "w1" }), "/v1/workers/w1", RID);
    expect(m.status).toBe(404);
    expect(m.body).toEqual({ error: { code: "WE-WRK-001", message: "worker w1 not found", details: { id: "w1" }, request_id: RID } });
  });

  test("an explicit status overrides the catalogue's", () => {
    expect(mapError("UNKNOWN", new AppError("WE-JOB-008", "x", undefined, 502), "/v1/jobs", RID).status).toBe(502);
  });

  test("every catalogue code maps to its catalogue status and omits absent details", () => {
    for (const [code, { status }] of Object.entries(ERROR_CATALOGUE)) {
      const m = mapError("UNKNOWN", new AppError(code as keyof typeof ERROR_CATALOGUE, "m"), "/x", RID);
      expect(m.status).toBe(status);
      expect(m.body.error.code).toBe(code as keyof typeof ERROR_CATALOGUE);
      expect("details" in m.body.error).toBe(false);
    }
  });

  test("an AppError wins over the hook's kind (e.g. thrown during validation)", () => {
    expect(mapError("VALIDATION", new AppError("WE-JOB-003", "bad profile"), "/v1/jobs", RID).body.error.code).toBe("WE-JOB-003");
  });
});

describe("mapError: VALIDATION", () => {
  /** The shape Elysia's ValidationError exposes for a TypeBox schema (`all` with slash paths). */
  const typeboxLike = { type: "query", all: [{ path: "/limit", summary: "Expected number", message: "Expected number" }] };

  test("per-route codes", () => {
    expect(validationCodeFor("/v1/jobs")).toBe("WE-JOB-001");
    expect(validationCodeFor("/v1/jobs/abc/cancel")).toBe("WE-JOB-001");
    expect(validationCodeFor("/v1/plugins/storage-fs")).toBe("WE-PLG-003");
    expect(validationCodeFor("/v1/streams")).toBe("WE-STR-001");
    expect(validationCodeFor("/v1/workers")).toBe("WE-REQ-001");
    expect(validationCodeFor("/v1/profiles")).toBe("WE-REQ-001");
  });

  test("/v1/jobs → 400 WE-JOB-001 with the issues as details", () => {
    const m = mapError("VALIDATION", typeboxLike, "/v1/jobs", RID);
    expect(m.status).toBe(400);
    expect(m.body.error.code).toBe("WE-JOB-001");
    expect(m.body.error.request_id).toBe(RID);
    expect(m.body.error.message).toBe("invalid query: limit: Expected number");
    expect(m.body.error.details).toEqual({ in: "query", issues: [{ path: "limit", message: "Expected number" }] });
  });

  test("/v1/plugins → 422 WE-PLG-003 (its catalogue status)", () => {
    const m = mapError("VALIDATION", { type: "body", all: [] }, "/v1/plugins/x/config", RID);
    expect(m.status).toBe(422);
    expect(m.body.error.code).toBe("WE-PLG-003");
    expect(m.body.error.message).toBe("invalid body");
  });

  test("other routes → 400 WE-REQ-001", () => {
    const m = mapError("VALIDATION", typeboxLike, "/v1/workers", RID);
    expect(m.status).toBe(400);
    expect(m.body.error.code).toBe("WE-REQ-001");
  });

  test("a Standard Schema (valibot) error reports dotted paths, not [object Object]", () => {
    // The fields ValidationError carries: the schema (validator) and the value that failed.
    const validator = {
      "~standard": {
        version: 1,
        vendor: "test",
        validate: () => ({ issues: [{ message: "Expected number", path: [{ key: "a" }, { key: "b" }] }, { message: "Required", path: ["c", 0] }] }),
      },
    };
    const error = { type: "body", validator, value: { a: { b: "x" } }, all: [{ path: "[object Object].[object Object]", message: "Expected number" }] };
    const m = mapError("VALIDATION", error, "/v1/jobs", RID);
    expect(m.body.error.details).toEqual({
      in: "body",
      issues: [
        { path: "a.b", message: "Expected number" },
        { path: "c.0", message: "Required" },
      ],
    });
    expect(JSON.stringify(m.body)).not.toContain("[object Object]");
  });
});

describe("mapError: protocol errors", () => {
  test("PARSE → 400 WE-REQ-004", () => {
    const m = mapError("PARSE", new Error("Unexpected token } in JSON at position 7"), "/v1/jobs", RID);
    expect(m.status).toBe(400);
    expect(m.body.error.code).toBe("WE-REQ-004");
    expect(m.body.error.message).not.toContain("Unexpected token");
  });

  test("NOT_FOUND → 404 WE-REQ-002 naming the path", () => {
    const m = mapError("NOT_FOUND", new Error("NOT_FOUND"), "/v1/nope", RID);
    expect(m.status).toBe(404);
    expect(m.body.error.code).toBe("WE-REQ-002");
    expect(m.body.error.message).toContain("/v1/nope");
    expect(m.body.error.request_id).toBe(RID);
  });

  test("NOT_FOUND on a path that has other methods → 405 WE-REQ-005 naming them; without any, still 404", () => {
    const m = mapError("NOT_FOUND", new Error("NOT_FOUND"), "/v1/health", RID, { method: "DELETE", methods: ["GET", "HEAD"] });
    expect(m).toMatchObject({ status: 405, body: { error: { code: "WE-REQ-005", message: "method DELETE is not allowed on /v1/health; allowed: GET, HEAD" } } });
    expect(mapError("NOT_FOUND", new Error("NOT_FOUND"), "/v1/nope", RID, { method: "GET", methods: [] }).status).toBe(404);
  });

  test("a 413 or 405 status on an unknown error keeps its meaning", () => {
    expect(mapError("UNKNOWN", { status: 413 }, "/v1/x", RID)).toMatchObject({ status: 413, body: { error: { code: "WE-REQ-003" } } });
    expect(mapError("UNKNOWN", { status: 405 }, "/v1/x", RID)).toMatchObject({ status: 405, body: { error: { code: "WE-REQ-005" } } });
  });
});

describe("mapError: internal errors", () => {
  test("unknown errors → 500 WE-SYS-001 without the message or stack", () => {
    const secret = new Error("relation \"jobs\" does not exist at /srv/app/src/db/secret.ts:42 password=hunter2");
    const m = mapError("UNKNOWN", secret, "/v1/jobs", RID);
    expect(m.status).toBe(500);
    expect(m.body.error.code).toBe("WE-SYS-001");
    const text = JSON.stringify(m.body);
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain("secret.ts");
    expect(text).not.toContain("does not exist");
    expect(text).not.toContain("stack");
    expect(text).not.toContain("    at ");
    expect(Object.keys(m.body.error).sort()).toEqual(["code", "message", "request_id"]);
  });

  test("thrown non-errors are internal errors too", () => {
    for (const thrown of ["boom", 42, null, undefined, { weird: true }]) {
      const m = mapError("UNKNOWN", thrown, "/v1/x", RID);
      expect(m.status).toBe(500);
      expect(m.body.error.code).toBe("WE-SYS-001");
    }
  });

  test.each([
    ["ECONNREFUSED", { code: "ECONNREFUSED" }],
    ["CONNECT_TIMEOUT", { code: "CONNECT_TIMEOUT" }],
    ["CONNECTION_CLOSED", { code: "CONNECTION_CLOSED" }],
    ["57P01 admin_shutdown", { code: "57P01" }],
    ["08006 connection_failure", { code: "08006" }],
    ["ECONNRESET as the cause", Object.assign(new Error("query failed"), { cause: { code: "ECONNRESET" } })],
  ])("database unavailable (%s) → 503 WE-SYS-002", (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
    const m = mapError("UNKNOWN", error, "/v1/workers", RID);
    expect(m.status).toBe(503);
    expect(m.body.error.code).toBe("WE-SYS-002");
  });

  test.each([
    ["23505 unique_violation", { code: "23505" }],
    ["42P01 undefined_table", { code: "42P01" }],
    ["a plain Error", new Error("x")],
    ["null", null],
    ["a string", "ECONNREFUSED"],
  ])("%s is not 'database unavailable'", (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });

  test("a self-referencing cause does not loop", () => {
    const e: { code: string; cause?: unknown } = { code: "X" };
    e.cause = e;
    expect(isDatabaseUnavailable(e)).toBe(false);
  });
});

describe("envelope", () => {
  test("builds the documented shape", () => {
    expect(envelope("WE-JOB-004", "job j not found", RID, { id: "j" })).toEqual({
      error: { code: "WE-JOB-004", message: "job j not found", details: { id: "j" }, request_id: RID },
    });
    expect(envelope("WE-SYS-001", "x", RID)).toEqual({ error: { code: "WE-SYS-001", message: "x", request_id: RID } });
  });
});

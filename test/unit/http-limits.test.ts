/**
 * The pure parts of the HTTP hardening: the request-target check (url-guard.ts), reading a body with a limit
 * and parsing it by content type (body-limit.ts), and the NUL walk of parsed JSON (json-limits.ts).
 */
import { describe, expect, test } from "bun:test";
import { AppError } from "../../src/core/errors.ts";
import { readLimited } from "../../src/core/read-limited.ts";
import { parseBodyBytes } from "../../src/kernel/api/body-limit.ts";
import { containsNul } from "../../src/kernel/api/json-limits.ts";
import { pathOf, urlTargetProblem } from "../../src/kernel/api/url-guard.ts";

describe("urlTargetProblem", () => {
  test("accepts ordinary targets, encoded ones included", () => {
    for (const u of ["http://h/v1/jobs", "http://h:1/v1/jobs?limit=5&offset=0", "https://h/v1/files/uploads%2Fa%20b.mp4", "http://h/v1/audit?action=jobs.*&actor=a+b", "http://h/"]) {
      expect(urlTargetProblem(u)).toBeUndefined();
    }
  });
  test("refuses NUL and malformed percent-encoding in the path or the query, and relative targets", () => {
    expect(urlTargetProblem("http://h/v1/workers/a%00b")).toContain("NUL byte (%00) in the path");
    expect(urlTargetProblem("http://h/v1/jobs?status=%00")).toContain("NUL byte (%00) in the query string");
    expect(urlTargetProblem("http://h/v1/storage/x/%E0%A4%A")).toContain("malformed percent-encoding in the path");
    expect(urlTargetProblem("http://h/v1/jobs?x=%zz")).toContain("malformed percent-encoding in the query string");
    expect(urlTargetProblem("/v1/health")).toContain("Host header");
    expect(urlTargetProblem("example.com:443")).toContain("Host header");
  });
  test("pathOf never throws", () => {
    expect(pathOf("http://h/v1/jobs?x=1")).toBe("/v1/jobs");
    expect(pathOf("/v1/health")).toBe("/v1/health");
  });
});

describe("readLimited", () => {
  const stream = (chunks: number[]) =>
    new ReadableStream<Uint8Array>({
      start(c) {
        for (const n of chunks) c.enqueue(new Uint8Array(n).fill(0x61));
        c.close();
      },
    });
  test("returns every byte up to the limit", async () => {
    expect((await readLimited(stream([3, 4, 3]), 10)).byteLength).toBe(10);
  });
  test("stops with WE-REQ-003 as soon as the limit is passed", async () => {
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(c) {
        pulled++;
        c.enqueue(new Uint8Array(1024));
      },
    });
    const err = await readLimited(endless, 10_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe("WE-REQ-003");
    expect(pulled).toBeLessThan(15);
  });
});

describe("parseBodyBytes", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  test("JSON (and +json), urlencoded, text, other bytes", () => {
    expect(parseBodyBytes(enc('{"a":[1]}'), "application/json")).toEqual({ a: [1] });
    expect(parseBodyBytes(enc('{"a":1}'), "Application/Vnd.Api+JSON")).toEqual({ a: 1 });
    expect(parseBodyBytes(enc("a=1&b=x+y"), "application/x-www-form-urlencoded")).toEqual({ a: "1", b: "x y" });
    expect(parseBodyBytes(enc("hi"), "text/plain")).toBe("hi");
    expect(parseBodyBytes(enc("hi"), "application/octet-stream")).toBeInstanceOf(ArrayBuffer);
  });
  test("invalid JSON throws (Elysia maps it to 400 WE-REQ-004)", () => {
    expect(() => parseBodyBytes(enc('{"a":'), "application/json")).toThrow();
  });
});

test("containsNul finds NUL in nested values and keys, iteratively", () => {
  expect(containsNul({ a: [{ b: "ok" }], c: 1 })).toBe(false);
  expect(containsNul({ a: [{ b: "o\u0000k" }] })).toBe(true);
  expect(containsNul({ a: { "k\u0000": 1 } })).toBe(true);
  let deep: unknown = "\u0000";
  for (let i = 0; i < 100_000; i++) deep = [deep];
  expect(containsNul(deep)).toBe(true);
});

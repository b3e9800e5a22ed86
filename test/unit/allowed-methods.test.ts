import { describe, expect, test } from "bun:test";
import { allowedMethods } from "../../src/kernel/api/allowed-methods.ts";

const routes = [
  { method: "GET", path: "/v1/jobs" },
  { method: "POST", path: "/v1/jobs" },
  { method: "GET", path: "/v1/jobs/:id" },
  { method: "DELETE", path: "/v1/jobs/:id" },
  { method: "POST", path: "/v1/jobs/:id/cancel" },
  { method: "GET", path: "/swagger/assets/*" },
  { method: "GET", path: "/*" },
];

describe("allowedMethods", () => {
  test("the methods of every route matching the path, HEAD with GET, sorted", () => {
    expect(allowedMethods(routes, "/v1/jobs")).toEqual(["GET", "HEAD", "POST"]);
    expect(allowedMethods(routes, "/v1/jobs/7c9e")).toEqual(["DELETE", "GET", "HEAD"]);
    expect(allowedMethods(routes, "/v1/jobs/7c9e/cancel")).toEqual(["POST"]);
    expect(allowedMethods(routes, "/v1/jobs/?x=1")).toEqual(["GET", "HEAD", "POST"]);
  });

  test("a wildcard under a prefix matches the rest; a bare root catch-all matches nothing", () => {
    expect(allowedMethods(routes, "/swagger/assets/a/b.js")).toEqual(["GET", "HEAD"]);
    expect(allowedMethods(routes, "/v1/nope")).toEqual([]);
    expect(allowedMethods(routes, "/")).toEqual([]);
  });

  test("segment counts must agree; a parameter needs a segment", () => {
    expect(allowedMethods(routes, "/v1/jobs/7c9e/cancel/now")).toEqual([]);
    expect(allowedMethods(routes, "/v1")).toEqual([]);
  });
});

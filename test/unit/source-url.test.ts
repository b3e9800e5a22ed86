/**
 * Source URL validation (src/core/source-url.ts): what POST /v1/jobs accepts as `source_url`, and the rule each
 * refusal names.
 */
import { describe, expect, test } from "bun:test";
import { AppError } from "../../src/core/errors.ts";
import { parseSourceUrl } from "../../src/core/source-url.ts";

function refused(input: string, rule: RegExp): AppError {
  let caught: unknown;
  try {
    parseSourceUrl(input);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(AppError);
  const e = caught as AppError;
  expect(e.code).toBe("WE-JOB-002");
  expect(e.status).toBe(400);
  expect(e.message).toMatch(/^source_url .* is not usable: /);
  expect(e.message).toMatch(rule);
  return e;
}

describe("parseSourceUrl", () => {
  test("http and https URLs are accepted and normalized", () => {
    expect(parseSourceUrl("https://example.com/videos/a.mp4")).toEqual({ kind: "url", url: "https://example.com/videos/a.mp4" });
    expect(parseSourceUrl("  http://Example.COM  ")).toEqual({ kind: "url", url: "http://example.com/" });
    expect(parseSourceUrl("HTTPS://CDN.example.com:443/a b.mp4?x=1")).toEqual({ kind: "url", url: "https://cdn.example.com/a%20b.mp4?x=1" });
    expect(parseSourceUrl("http://example.com:8080/x/../y.mp4")).toEqual({ kind: "url", url: "http://example.com:8080/y.mp4" });
    expect(parseSourceUrl("https://bucket.s3.amazonaws.com/k.mp4?X-Amz-Signature=abc&X-Amz-Expires=60")).toEqual({
      kind: "url",
      url: "https://bucket.s3.amazonaws.com/k.mp4?X-Amz-Signature=abc&X-Amz-Expires=60",
    });
  });

  test("credentials in the URL are refused", () => {
    refused("https://user:secret@example.com/a.mp4", /credentials in the URL are not accepted/);
    refused("http://user@example.com/a.mp4", /credentials in the URL are not accepted/);
    refused("https://:pw@example.com/a.mp4", /credentials/);
  });

  test("an http URL without a host is refused", () => {
    refused("http://", /not a valid URL|no host/);
  });

  test("s3://bucket/key is parsed", () => {
    expect(parseSourceUrl("s3://media-in/2024/05/clip.mp4")).toEqual({ kind: "s3", bucket: "media-in", key: "2024/05/clip.mp4" });
    expect(parseSourceUrl("s3://media.in/a.mov")).toEqual({ kind: "s3", bucket: "media.in", key: "a.mov" });
    refused("s3://Media_In/a.mp4", /expected s3:\/\/bucket\/key/);
    refused("s3://bucket", /expected s3:\/\/bucket\/key/);
    refused("s3://bucket/", /expected s3:\/\/bucket\/key/);
    refused("s3://ab/x", /expected s3:\/\/bucket\/key/); // bucket names are 3–63 characters
    refused("s3://bucket/a/../b.mp4", /empty, '\.' or '\.\.' segment/);
    refused("s3://bucket/a//b.mp4", /empty, '\.' or '\.\.' segment/);
    refused("s3://bucket/a\\b.mp4", /backslash/);
  });

  test("bare storage keys are accepted", () => {
    expect(parseSourceUrl("uploads/2024/0b9c1d.mp4")).toEqual({ kind: "key", key: "uploads/2024/0b9c1d.mp4" });
    expect(parseSourceUrl("clip.mp4")).toEqual({ kind: "key", key: "clip.mp4" });
    expect(parseSourceUrl(" a/b c.mp4 ")).toEqual({ kind: "key", key: "a/b c.mp4" });
  });

  test.each([
    ["file:///etc/passwd", "file"],
    ["FILE:///etc/passwd", "file"],
    ["ftp://example.com/a.mp4", "ftp"],
    ["data:video/mp4;base64,AAAA", "data"],
    ["javascript:alert(1)", "javascript"],
    ["gopher://example.com/", "gopher"],
    ["rtmp://example.com/live/x", "rtmp"],
    ["C:\\videos\\a.mp4", "c"],
  ])("%p: scheme refused", (input, scheme) => {
    refused(input, new RegExp(`the ${scheme}: scheme is not allowed`));
  });

  test("absolute paths are refused", () => {
    refused("/etc/passwd", /absolute paths are not allowed/);
    refused("/var/lib/webencode/storage/jobs/x/out.mp4", /absolute paths are not allowed/);
    refused("//example.com/a.mp4", /absolute paths are not allowed/);
  });

  test.each(["../secret.mp4", "a/../../b.mp4", "uploads/..", "./a.mp4", "a/./b.mp4", "a//b.mp4", "a/", "a/b/."])("%p: dot or empty segment refused", (input) => {
    refused(input, /the key has an empty, '\.' or '\.\.' segment/);
  });

  test("backslashes are refused", () => {
    refused("uploads\\a.mp4", /backslash/);
    refused("..\\..\\windows\\win.ini", /backslash/);
  });

  test.each(["a\u0000b.mp4", "a\nb.mp4", "https://example.com/\u0007.mp4", "x\u001fy", "a\tb"])("%p: control characters refused", (input) => {
    refused(input, /control characters/);
  });

  test("empty input is refused", () => {
    refused("", /it is empty/);
    refused("    ", /it is empty/);
  });

  test("length limit is 4096 characters", () => {
    const ok = "k".repeat(4096);
    expect(parseSourceUrl(ok)).toEqual({ kind: "key", key: ok });
    refused("k".repeat(4097), /longer than 4096 characters/);
    const e = refused(`https://example.com/${"a".repeat(5000)}`, /longer than 4096 characters/);
    // The message quotes at most 200 characters of the input.
    expect(e.message.length).toBeLessThan(400);
  });
});

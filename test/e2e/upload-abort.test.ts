/**
 * End-to-end: uploads that go wrong part-way must fail that request only. Against the compiled kernel, raw
 * TCP clients abort `POST /v1/files` at several points (in the headers, mid-part, after the part but before
 * the closing boundary, a raw body), send a truncated multipart body and a NUL in the filename; after each,
 * the kernel must still be running and healthy, and no temporary file may be left in DATA_DIR/tmp/uploads.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { TEST_ADMIN_KEY } from "../helpers/auth.ts";
import { type CompiledKernel, startCompiledKernel } from "../helpers/compiled-kernel.ts";
import { killAllProcs } from "../helpers/proc.ts";
import { waitFor } from "../helpers/wait.ts";

let k: CompiledKernel;

beforeAll(async () => {
  k = await startCompiledKernel();
}, 90_000);
afterAll(async () => {
  await k?.dispose();
  await killAllProcs();
});

const BOUNDARY = "----webencode-abort-test";
const CHUNK = Buffer.alloc(100 * 1024, 0x47);

function head(contentType: string, extra: string): string {
  return `POST /v1/files?filename=clip.mp4 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TEST_ADMIN_KEY}\r\nContent-Type: ${contentType}\r\n${extra}\r\n`;
}

function partHead(filename: string): string {
  return `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: video/mp4\r\n\r\n`;
}

/** Opens a raw connection, writes each piece (waiting for it to flush), then either destroys the socket or reads the response. */
async function raw(pieces: Array<string | Buffer>, end: "abort" | "read"): Promise<string> {
  const socket: Socket = connect(k.port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let response = "";
  socket.on("data", (d) => (response += d.toString("latin1")));
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.on("error", () => {});
  for (const p of pieces) await new Promise<void>((resolve) => socket.write(p, () => resolve()));
  if (end === "abort") {
    // Give the server time to start on the bytes it has (the handler must be mid-stream when the client goes).
    await waitFor(() => uploadTemps().length > 0 || response.length > 0, 2000, "the upload to start", 20).catch(() => {});
    socket.destroy();
    await closed;
    return "";
  }
  let ended = false;
  void closed.then(() => (ended = true));
  await waitFor(() => ended || responseComplete(response), 30_000, "a response");
  socket.destroy();
  return response;
}

/** True once the headers and a Content-Length body (or a chunked body's end) have arrived. */
function responseComplete(r: string): boolean {
  const i = r.indexOf("\r\n\r\n");
  if (i < 0) return false;
  const len = /content-length:\s*(\d+)/i.exec(r.slice(0, i));
  if (len) return Buffer.byteLength(r.slice(i + 4), "latin1") >= Number(len[1]);
  return /\r\n0\r\n\r\n$/.test(r);
}

function uploadTemps(): string[] {
  const dir = join(k.dataDir, "tmp", "uploads");
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** The kernel survived and cleaned up: still running, /v1/health 200, and no temporary upload left behind. */
async function assertSurvived(what: string): Promise<void> {
  // An unhandled rejection ends the process a moment after the request; give it that moment to show.
  await waitFor(async () => (await fetch(`${k.base}/v1/health`).catch(() => undefined))?.status === 200, 10_000, `health after ${what}`);
  await waitFor(() => uploadTemps().length === 0, 10_000, `no temporary upload left after ${what} (left: ${uploadTemps().join(", ")})`);
  await Bun.sleep(300);
  expect(k.proc.status, `${what}: ${k.proc.describe()}`).toBeUndefined();
  expect((await fetch(`${k.base}/v1/health`)).status).toBe(200);
  expect(k.proc.stderr).not.toMatch(/unhandled|uncaught/i);
}

describe("aborted and malformed uploads fail only their own request", () => {
  test("aborted in the request headers", async () => {
    await raw([`POST /v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TEST_ADMIN_KEY}\r\nContent-Type: multipart/form-da`], "abort");
    await assertSurvived("an abort in the headers");
  });

  test("aborted mid-part after ~100 KB", async () => {
    await raw([head(`multipart/form-data; boundary=${BOUNDARY}`, "Content-Length: 10000000\r\n"), partHead("clip.mp4"), CHUNK], "abort");
    await assertSurvived("an abort mid-part");
  });

  test("aborted after the part, before the closing boundary", async () => {
    await raw([head(`multipart/form-data; boundary=${BOUNDARY}`, "Content-Length: 10000000\r\n"), partHead("clip.mp4"), CHUNK, `\r\n`], "abort");
    await assertSurvived("an abort before the closing boundary");
  });

  test("aborted raw (non-multipart) body", async () => {
    await raw([head("application/octet-stream", "Content-Length: 10000000\r\n"), CHUNK], "abort");
    await assertSurvived("an aborted raw body");
  });

  test("aborted chunked multipart body", async () => {
    const body = Buffer.concat([Buffer.from(partHead("clip.mp4")), CHUNK]);
    await raw([head(`multipart/form-data; boundary=${BOUNDARY}`, "Transfer-Encoding: chunked\r\n"), `${body.length.toString(16)}\r\n`, body, "\r\n"], "abort");
    await assertSurvived("an aborted chunked body");
  });

  test("a complete request whose multipart body is truncated gets a 400 in the envelope", async () => {
    const body = Buffer.concat([Buffer.from(partHead("clip.mp4")), CHUNK]);
    const res = await raw([head(`multipart/form-data; boundary=${BOUNDARY}`, `Content-Length: ${body.length}\r\nConnection: close\r\n`), body], "read");
    expect(res).toMatch(/^HTTP\/1\.1 400/);
    expect(res).toContain('"code":"WE-REQ-004"');
    await assertSurvived("a truncated multipart body");
  });

  test("a NUL in the filename: stored under a safe name, or refused with a 4xx", async () => {
    const body = Buffer.concat([Buffer.from(partHead("cl\0ip.mp4")), CHUNK, Buffer.from(`\r\n--${BOUNDARY}--\r\n`)]);
    const res = await raw([head(`multipart/form-data; boundary=${BOUNDARY}`, `Content-Length: ${body.length}\r\nConnection: close\r\n`), body], "read");
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(res)?.[1]);
    expect([201, 400]).toContain(status);
    if (status === 201) expect(res).toMatch(/"filename":"cl_ip\.mp4"/);
    else expect(res).toContain('"code":"WE-REQ-004"');
    await assertSurvived("a NUL in the filename");
  });

  test("a dozen concurrent aborts, then a normal upload still works", async () => {
    await Promise.all(Array.from({ length: 12 }, () => raw([head(`multipart/form-data; boundary=${BOUNDARY}`, "Content-Length: 10000000\r\n"), partHead("clip.mp4"), CHUNK], "abort")));
    await assertSurvived("concurrent aborts");
    const form = new FormData();
    form.append("file", new Blob([CHUNK], { type: "video/mp4" }), "ok.mp4");
    const r = await fetch(`${k.base}/v1/files`, { method: "POST", body: form, headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    expect(r.status).toBe(201);
    expect(((await r.json()) as { size_bytes: number }).size_bytes).toBe(CHUNK.length);
    expect(uploadTemps()).toEqual([]);
  });
});

/**
 * Uploads and downloads with a progress line: a local file streamed to `POST /v1/files` (raw body with
 * `?filename=`, never read into memory), and a job's outputs fetched from their signed URLs into a directory
 * (an HLS ladder with all its playlists and segments).
 */
import { createWriteStream, mkdirSync, statSync } from "node:fs";
import { basename, dirname, relative, resolve } from "node:path";
import type { ApiClient } from "./client.ts";
import { CliError, EXIT } from "./errors.ts";
import { ProgressLine, plainKey, transferLine } from "./progress.ts";

export interface Upload {
  key: string;
  source_url: string;
  filename: string;
  size_bytes: number;
}

/** A ReadableStream of `file` that reports each chunk's size as it is read (i.e. as it is sent). */
function counted(path: string, onBytes: (n: number) => void): ReadableStream<Uint8Array> {
  const reader = Bun.file(path).stream().getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) return controller.close();
      onBytes(value.byteLength);
      controller.enqueue(value);
    },
    cancel: (why) => reader.cancel(why),
  });
}

/** Streams `path` to the server with a progress line (bytes, rate, ETA); returns the upload's answer. */
export async function uploadFile(client: ApiClient, path: string): Promise<Upload> {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new Error("not a regular file");
    size = st.size;
  } catch (e) {
    throw new CliError(EXIT.usage, `cannot read ${path}: ${(e as Error).message}`);
  }
  const name = basename(path);
  const line = new ProgressLine();
  const started = performance.now();
  let sent = 0;
  const state = () => ({ label: `upload ${name}`, done: sent, total: size, elapsedS: (performance.now() - started) / 1000 });
  const body = counted(path, (n) => {
    sent += n;
    line.update(transferLine(state()), plainKey("upload", (100 * sent) / Math.max(1, size)));
  });
  try {
    const res = await client.check(
      await client.fetch("POST", "/v1/files", {
        query: { filename: name },
        raw: body,
        headers: { "content-type": "application/octet-stream", "content-length": String(size) },
      }),
    );
    line.finish(transferLine(state()));
    return (await res.json()) as Upload;
  } catch (e) {
    line.break();
    throw e;
  }
}

/** Fetches `url` into `file` with a progress line; returns the bytes written. */
export async function downloadTo(url: string, file: string, label: string): Promise<number> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new CliError(EXIT.unreachable, `cannot download ${label}: ${(e as Error).message}`);
  }
  if (!res.ok || !res.body) throw new CliError(EXIT.failed, `cannot download ${label}: HTTP ${res.status}`);
  mkdirSync(dirname(file), { recursive: true });
  const total = Number(res.headers.get("content-length")) || undefined;
  const line = new ProgressLine();
  const started = performance.now();
  let done = 0;
  const state = () => ({ label: `download ${label}`, done, total, elapsedS: (performance.now() - started) / 1000 });
  const out = createWriteStream(file);
  try {
    for await (const chunk of res.body) {
      if (!out.write(chunk)) await new Promise((r) => out.once("drain", r));
      done += chunk.byteLength;
      line.update(transferLine(state()), plainKey("download", total ? (100 * done) / total : 0));
    }
  } finally {
    await new Promise<void>((r, j) => out.end((err?: Error | null) => (err ? j(err) : r())));
  }
  line.finish(transferLine(state()));
  return done;
}

/** The URIs an HLS playlist refers to: its non-comment lines and `URI="…"` attributes (pure). */
export function playlistUris(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const l = raw.trim();
    if (!l) continue;
    if (l.startsWith("#")) {
      for (const m of l.matchAll(/URI="([^"]+)"/g)) out.push(m[1]!);
    } else out.push(l);
  }
  return out;
}

/**
 * Where a referenced file goes: its path relative to the playlist's, or undefined when it points outside
 * the output tree (an absolute URL elsewhere, `..` above the root) and must not be written (pure).
 */
export function localPathFor(root: string, playlistFile: string, uri: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(uri) || uri.startsWith("/")) return undefined;
  const target = resolve(dirname(playlistFile), uri.split(/[?#]/)[0]!);
  const rel = relative(root, target);
  return rel.startsWith("..") || rel === "" ? undefined : target;
}

/** Downloads an HLS playlist and everything it refers to (variants, segments, init files) under `root`. */
export async function downloadHls(url: string, root: string, file: string, seen = new Set<string>()): Promise<number> {
  if (seen.has(file)) return 0;
  seen.add(file);
  let bytes = await downloadTo(url, file, relative(root, file));
  const text = await Bun.file(file).text();
  for (const uri of playlistUris(text)) {
    const local = localPathFor(root, file, uri);
    if (!local) continue;
    const next = new URL(uri, url).toString();
    bytes += local.endsWith(".m3u8") ? await downloadHls(next, root, local, seen) : seen.has(local) ? 0 : (seen.add(local), await downloadTo(next, local, relative(root, local)));
  }
  return bytes;
}

export interface Output {
  kind: string;
  profile: string | null;
  url: string;
  storage_key: string;
  size_bytes: number | null;
}

/** Where an output is written in `dir`: its storage key below `jobs/<id>/` (`720p_h264.mp4`, `hls/master.m3u8`). */
export function outputFile(dir: string, jobId: string, record: Pick<Output, "storage_key">): string {
  const prefix = `jobs/${jobId}/`;
  const rel = record.storage_key.startsWith(prefix) ? record.storage_key.slice(prefix.length) : basename(record.storage_key);
  const file = resolve(dir, rel);
  const back = relative(resolve(dir), file);
  if (back.startsWith("..") || back === "") throw new CliError(EXIT.failed, `refusing to write output ${record.storage_key} outside ${dir}`);
  return file;
}

/** Downloads every output of a job into `dir`; returns the files written (top-level ones: playlists, files). */
export async function downloadOutputs(client: ApiClient, jobId: string, items: Output[], dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const o of items) {
    const file = outputFile(dir, jobId, o);
    const url = new URL(o.url, `${client.target.url}/`).toString();
    if (o.kind === "hls") await downloadHls(url, dirname(file), file);
    else await downloadTo(url, file, relative(resolve(dir), file));
    files.push(file);
  }
  return files;
}


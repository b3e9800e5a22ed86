/**
 * For the outbound-request (SSRF) tests: a server on an address the kernel must never reach, and FFmpeg to make
 * the files it serves. The tests allow only 127.0.0.1/32 (OUTBOUND_ALLOW_CIDRS), so 127.0.0.2 is outside.
 */
import { runProc } from "./proc.ts";

const FFMPEG = process.env.FFMPEG_PATH ?? "ffmpeg";

/** Runs FFmpeg quietly with `args`; throws with its stderr when it fails. */
export async function ffmpeg(args: string[]): Promise<void> {
  const r = await runProc([FFMPEG, "-hide_banner", "-v", "error", "-nostdin", "-y", ...args], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`ffmpeg failed: ${r.stderr.slice(-2000)}`);
}

/** A server on 127.0.0.2 answering every request with `file`; each path it is asked for goes into `hits` (which must stay empty). */
export function forbiddenServer(file: string, hits: string[]): ReturnType<typeof Bun.serve> {
  return Bun.serve({
    hostname: "127.0.0.2",
    port: 0,
    fetch(req) {
      hits.push(new URL(req.url).pathname);
      return new Response(Bun.file(file));
    },
  });
}

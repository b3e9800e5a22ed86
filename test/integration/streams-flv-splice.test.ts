/**
 * The FLV splicer (src/kernel/live/flv-splice.ts) against FFmpeg: two publishers' FLV (each with its own file
 * header and timestamps from 0) spliced into one stream, fed in odd-sized pieces, decode without an error
 * into one continuous stream: every frame of both, timestamps increasing, the duration of both together.
 * This is what keeps a live task's FFmpeg running across a publisher's reconnect (docs/live.md).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FlvSplicer } from "../../src/kernel/live/flv-splice.ts";
import { RecordingParts } from "../../src/kernel/live/recording-parts.ts";
import { runProc } from "../helpers/proc.ts";

const dir = mkdtempSync(join(tmpdir(), "webencode-flv-splice-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function publisherFlv(name: string, seconds: number): Promise<Uint8Array> {
  const path = join(dir, name);
  const made = await runProc(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", String(seconds), "-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-c:a", "aac", "-b:a", "64k", "-f", "flv", path], { timeoutMs: 60_000 });
  expect(made.code).toBe(0);
  return new Uint8Array(readFileSync(path));
}

describe("FlvSplicer", () => {
  test("two publishers become one FLV that FFmpeg decodes continuously (150 frames, ~6 s, no errors)", async () => {
    const [first, second] = [await publisherFlv("a.flv", 3), await publisherFlv("b.flv", 3)];
    const splicer = new FlvSplicer();
    const out: Uint8Array[] = [];
    for (let i = 0; i < first.length; i += 1000) out.push(...splicer.push(first.subarray(i, i + 1000)));
    splicer.nextPublisher();
    for (let i = 0; i < second.length; i += 777) out.push(...splicer.push(second.subarray(i, i + 777)));
    const spliced = join(dir, "spliced.flv");
    writeFileSync(spliced, Buffer.concat(out));
    const decoded = await runProc(["ffmpeg", "-v", "error", "-i", spliced, "-f", "null", "-"], { timeoutMs: 60_000 });
    expect([decoded.code, decoded.stderr.trim()]).toEqual([0, ""]);
    const probe = await runProc(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "frame=pts_time", "-of", "csv=p=0", spliced], { timeoutMs: 60_000 });
    // Side data (the second publisher's new extradata) prints as an extra line and a trailing comma.
    const times = probe.stdout.split("\n").filter((line) => line.trim() !== "").map((line) => Number.parseFloat(line));
    expect(times.length).toBe(150);
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThan(times[i - 1]!);
    expect(times.at(-1)! - times[0]!).toBeGreaterThan(5.8);
    expect(times.at(-1)! - times[0]!).toBeLessThan(6.3);
  });

  test("the file header is sent once; a later publisher's header and metadata are dropped", () => {
    const header = Uint8Array.from([0x46, 0x4c, 0x56, 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]);
    const tag = (type: number, timestamp: number, data: number[]) => Uint8Array.from([type, 0, 0, data.length, (timestamp >> 16) & 0xff, (timestamp >> 8) & 0xff, timestamp & 0xff, 0, 0, 0, 0, ...data, 0, 0, 0, 11 + data.length]);
    const splicer = new FlvSplicer();
    const one = splicer.push(Buffer.concat([header, tag(18, 0, [1]), tag(9, 1000, [2])]));
    expect(one.map((piece) => piece.length)).toEqual([13, 16, 16]);
    splicer.nextPublisher();
    const two = splicer.push(Buffer.concat([header, tag(18, 0, [1]), tag(9, 500, [3]), tag(9, 540, [4])]));
    expect(two.length).toBe(2);
    const time = (piece: Uint8Array) => (piece[4]! << 16) | (piece[5]! << 8) | piece[6]!;
    expect(two.map(time)).toEqual([1040, 1080]);
  });

  test("RecordingParts: a 4 s recording split every 1 s of media gives parts that start at keyframes and decode alone, every frame kept", async () => {
    const source = join(dir, "gop25.flv");
    const made = await runProc(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=sample_rate=48000", "-t", "4", "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-c:a", "aac", "-f", "flv", source], { timeoutMs: 60_000 });
    expect(made.code).toBe(0);
    const bytes = new Uint8Array(readFileSync(source));
    const splitter = new RecordingParts(1000);
    const parts = new Map<number, Uint8Array[]>();
    for (let i = 0; i < bytes.length; i += 4096) for (const write of splitter.push(bytes.subarray(i, i + 4096))) parts.set(write.part, [...(parts.get(write.part) ?? []), write.bytes]);
    expect([...parts.keys()]).toEqual([1, 2, 3, 4]);
    let frames = 0;
    for (const [part, pieces] of parts) {
      const path = join(dir, `part-${part}.flv`);
      writeFileSync(path, Buffer.concat(pieces));
      const decoded = await runProc(["ffmpeg", "-v", "error", "-i", path, "-f", "null", "-"], { timeoutMs: 60_000 });
      expect([part, decoded.code, decoded.stderr.trim()]).toEqual([part, 0, ""]);
      const count = await runProc(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", path], { timeoutMs: 60_000 });
      frames += Number.parseInt(count.stdout, 10);
    }
    expect(frames).toBe(100);
  });
});

/**
 * The -progress parser and the stderr tail, on output captured from Debian's FFmpeg 5.1 (the fixtures are
 * the verbatim stdout of `ffmpeg -hide_banner -nostdin -y -progress pipe:1 -nostats …` on generated clips).
 */
import { describe, expect, test } from "bun:test";
import type { TranscodeProgress } from "../../src/plugin-runtime/pillars.ts";
import { PROGRESS_ARGS, StderrTail, createProgressParser } from "../../src/media/progress.ts";

// 4 s testsrc2 320x240@30 + sine clip → `-c:v libx264 -preset ultrafast -c:a aac out.mp4`: a fast run
// reports only its first and its last block. Note "speed=  13x" (padded) and out_time past the duration.
const FAST_4S = `\
frame=1
fps=0.00
stream_0_0_q=0.0
bitrate=  16.5kbits/s
total_size=48
out_time_us=23220
out_time_ms=23220
out_time=00:00:00.023220
dup_frames=0
drop_frames=0
speed=1.89x
progress=continue
frame=120
fps=0.00
stream_0_0_q=-1.0
bitrate= 834.8kbits/s
total_size=419176
out_time_us=4017052
out_time_ms=4017052
out_time=00:00:04.017052
dup_frames=0
drop_frames=0
speed=  13x
progress=end
`;

// `-f lavfi -i testsrc2=size=1280x720:rate=30 -t 3 -c:v libx264 -preset medium`: bitrate and speed N/A at
// first, then out_time goes NEGATIVE (-66602 µs) while x264 fills its B-frame delay, and the last block's
// out_time is the last frame's start (2.900065 s of 3 s).
const MEDIUM_3S = `\
frame=1
fps=0.00
stream_0_0_q=0.0
bitrate=N/A
total_size=48
out_time_us=0
out_time_ms=0
out_time=00:00:00.000000
dup_frames=0
drop_frames=0
speed=N/A
progress=continue
frame=48
fps=0.00
stream_0_0_q=29.0
bitrate=N/A
total_size=48
out_time_us=-66602
out_time_ms=-66602
out_time=-00:00:00.066602
dup_frames=0
drop_frames=0
speed=N/A
progress=continue
frame=61
fps=57.97
stream_0_0_q=29.0
bitrate=   1.0kbits/s
total_size=48
out_time_us=366732
out_time_ms=366732
out_time=00:00:00.366732
dup_frames=0
drop_frames=0
speed=0.349x
progress=continue
frame=77
fps=47.93
stream_0_0_q=29.0
bitrate=2330.4kbits/s
total_size=262192
out_time_us=900065
out_time_ms=900065
out_time=00:00:00.900065
dup_frames=0
drop_frames=0
speed=0.56x
progress=continue
frame=90
fps=29.20
stream_0_0_q=-1.0
bitrate=3147.6kbits/s
total_size=1141036
out_time_us=2900065
out_time_ms=2900065
out_time=00:00:02.900065
dup_frames=0
drop_frames=0
speed=0.941x
progress=end
`;

// Audio only (`-vn -c:a aac -f null -`): no frame/fps fields at all, "speed=   0x".
const AUDIO_ONLY = `\
bitrate=N/A
total_size=N/A
out_time_us=0
out_time_ms=0
out_time=00:00:00.000000
dup_frames=0
drop_frames=0
speed=   0x
progress=continue
bitrate=N/A
total_size=N/A
out_time_us=4017052
out_time_ms=4017052
out_time=00:00:04.017052
dup_frames=0
drop_frames=0
speed=36.7x
progress=end
`;

function parseAll(text: string, durationS: number | undefined, chunkSize = text.length): TranscodeProgress[] {
  const blocks: TranscodeProgress[] = [];
  const parser = createProgressParser(durationS, (p) => blocks.push(p));
  for (let i = 0; i < text.length; i += chunkSize) parser.push(text.slice(i, i + chunkSize));
  parser.end();
  return blocks;
}

describe("createProgressParser", () => {
  test("one progress per block of a fast run; percent clamps at 100", () => {
    expect(parseAll(FAST_4S, 4)).toEqual([
      { percent: 0.58, out_time_s: 0.02322, fps: 0, speed: 1.89, frame: 1 },
      { percent: 100, out_time_s: 4.017052, fps: 0, speed: 13, frame: 120 },
    ]);
  });

  test("negative out_time and N/A speed: never backward, never below 0, N/A fields left out", () => {
    expect(parseAll(MEDIUM_3S, 3)).toEqual([
      { percent: 0, out_time_s: 0, fps: 0, frame: 1 },
      { percent: 0, out_time_s: 0, fps: 0, frame: 48 },
      { percent: 12.22, out_time_s: 0.366732, fps: 57.97, speed: 0.349, frame: 61 },
      { percent: 30, out_time_s: 0.900065, fps: 47.93, speed: 0.56, frame: 77 },
      { percent: 96.67, out_time_s: 2.900065, fps: 29.2, speed: 0.941, frame: 90 },
    ]);
  });

  test("blocks without frame fields (audio only)", () => {
    expect(parseAll(AUDIO_ONLY, 4)).toEqual([
      { percent: 0, out_time_s: 0, speed: 0 },
      { percent: 100, out_time_s: 4.017052, speed: 36.7 },
    ]);
  });

  test("the same result whatever the chunking (lines split across chunks)", () => {
    const whole = parseAll(MEDIUM_3S, 3);
    for (const size of [1, 2, 7, 64]) expect(parseAll(MEDIUM_3S, 3, size)).toEqual(whole);
  });

  test("without a duration percent stays 0 and out_time still advances", () => {
    expect(parseAll(FAST_4S, undefined).map((p) => [p.percent, p.out_time_s])).toEqual([
      [0, 0.02322],
      [0, 4.017052],
    ]);
    expect(parseAll(FAST_4S, 0).map((p) => p.percent)).toEqual([0, 0]);
  });

  test("out_time_ms is the fallback and is microseconds too", () => {
    const block = "frame=30\nout_time_ms=1500000\nprogress=continue\n";
    expect(parseAll(block, 3)).toEqual([{ percent: 50, out_time_s: 1.5, frame: 30 }]);
  });

  test("out_time_us=N/A keeps the previous time (variant of a captured block)", () => {
    const text = "out_time_us=1000000\nout_time_ms=1000000\nprogress=continue\nout_time_us=N/A\nout_time_ms=N/A\nout_time=N/A\nspeed=N/A\nprogress=continue\n";
    expect(parseAll(text, 4)).toEqual([
      { percent: 25, out_time_s: 1 },
      { percent: 25, out_time_s: 1 },
    ]);
  });

  test("an unterminated block is not reported; a last line without newline is", () => {
    expect(parseAll("frame=3\nout_time_us=100000\n", 1)).toEqual([]);
    expect(parseAll("out_time_us=500000\nprogress=end", 1)).toEqual([{ percent: 50, out_time_s: 0.5 }]);
  });

  test("CRLF line endings", () => {
    expect(parseAll("out_time_us=250000\r\nspeed=2x\r\nprogress=continue\r\n", 1)).toEqual([{ percent: 25, out_time_s: 0.25, speed: 2 }]);
  });

  test("PROGRESS_ARGS asks for the report on stdout and silences the stats line", () => {
    expect([...PROGRESS_ARGS]).toEqual(["-progress", "pipe:1", "-nostats"]);
  });
});

describe("StderrTail", () => {
  test("keeps the last N non-blank lines, oldest first", () => {
    const tail = new StderrTail(3);
    tail.push("one\ntwo\n\nthree\nfour\nfive\n");
    expect(tail.text()).toBe("three\nfour\nfive");
  });

  test("defaults to 50 lines", () => {
    const tail = new StderrTail();
    for (let i = 1; i <= 120; i++) tail.push(`line ${i}\n`);
    const lines = tail.text().split("\n");
    expect(lines.length).toBe(50);
    expect(lines[0]).toBe("line 71");
    expect(lines.at(-1)).toBe("line 120");
  });

  test("joins lines split across chunks and includes an unfinished last line", () => {
    const tail = new StderrTail(5);
    tail.push("[mov,mp4 @ 0x55] moov at");
    tail.push("om not found\nin.mp4: Invalid data");
    expect(tail.text()).toBe("[mov,mp4 @ 0x55] moov atom not found\nin.mp4: Invalid data");
    tail.push(" found when processing input\n");
    expect(tail.text()).toBe("[mov,mp4 @ 0x55] moov atom not found\nin.mp4: Invalid data found when processing input");
  });

  test("\\r-redrawn stats lines keep only their latest state", () => {
    const tail = new StderrTail(5);
    tail.push("Press [q] to stop\n");
    tail.push("frame=    1 fps=0.0 q=0.0 size=       0kB\r");
    tail.push("frame=   60 fps=59 q=28.0 size=     256kB\r");
    expect(tail.text()).toBe("Press [q] to stop\nframe=   60 fps=59 q=28.0 size=     256kB");
    tail.push("frame=  120 fps=60 q=-1.0 Lsize=     419kB\r\n");
    tail.push("Conversion failed!\r\n");
    expect(tail.text()).toBe("Press [q] to stop\nframe=  120 fps=60 q=-1.0 Lsize=     419kB\nConversion failed!");
  });

  test("memory stays bounded with a line that never ends", () => {
    const tail = new StderrTail(2);
    for (let i = 0; i < 10_000; i++) tail.push(`frame=${i} fps=30\r`);
    expect(tail.text()).toBe("frame=9999 fps=30");
    tail.push("x".repeat(100_000));
    expect(tail.text().length).toBeLessThanOrEqual(4096 + 20);
  });
});

/**
 * Subtitles (issue 14) end to end through the COMPILED kernel with its embedded worker and FFmpeg, split
 * into chunks (1–2 s chunks from 2 s on). Outputs are checked with the system's ffprobe/ffmpeg and by
 * reading the HLS playlists, never with the pipeline's own verifier:
 * - a source with an SRT (eng) and an ASS (fra) track → the MP4 has two mov_text tracks with those
 *   languages and the cues' text; the HLS master lists two `TYPE=SUBTITLES` renditions that every variant
 *   names, and their WebVTT playlists load with as many segments as the video's, holding the cues;
 * - a sidecar SRT passed with the job → a subtitle rendition and a mov_text track; a sidecar that is not a
 *   subtitle file is refused at submission;
 * - hls.js in headless Chromium lists the subtitle tracks, loads one and shows its cues at the source's
 *   times on the picture's clock (X-TIMESTAMP-MAP).
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { launchBrowser } from "../helpers/browser.ts";
import {
  call as kernelCall,
  cleanUpAfterAll,
  FFMPEG,
  FFPROBE,
  type MediaJobView,
  type MediaKernel,
  outputFiles,
  SPLIT_ENV,
  startMediaKernel,
  upload as uploadTo,
  waitJobEnded,
} from "../helpers/media-kernel.ts";
import { runProc } from "../helpers/proc.ts";
import { waitFor } from "../helpers/wait.ts";
import { makeCorpusClip } from "../fixtures/media-corpus.ts";

const scratch = mkdtempSync(join(tmpdir(), "webencode-subs-"));

let k: MediaKernel;
let subtitled = "";

interface JobView extends MediaJobView {
  source?: { ignored_streams?: unknown[] };
}

/** The one kernel's call and upload (test/helpers/media-kernel.ts). */
const call = <T>(path: string, init: RequestInit = {}) => kernelCall<T>(k, path, init);
const upload = (path: string, name?: string) => uploadTo(k, path, name);

async function runJob(body: Record<string, unknown>): Promise<{ job: JobView; mp4: string; master: string }> {
  const created = await call<JobView>("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ profiles: ["360p_h264"], outputs: ["mp4", "hls"], ...body }) });
  if (created.status !== 201) throw new Error(`POST /v1/jobs → ${created.status} ${JSON.stringify(created.body)}`);
  const job = await waitJobEnded<JobView>(k, created.body.id);
  if (job.status !== "completed") throw new Error(`job ended ${job.status}: ${JSON.stringify(job.error)}`);
  const files = await outputFiles(k, job.id);
  return { job, mp4: files.mp4!, master: files.master! };
}

async function subtitleStreams(path: string): Promise<Array<{ codec_name: string; language: string | undefined; default: number }>> {
  const r = await runProc([FFPROBE, "-v", "error", "-of", "json", "-show_streams", "-select_streams", "s", path], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`ffprobe ${path}: ${r.stderr}`);
  const streams = (JSON.parse(r.stdout) as { streams: Array<{ codec_name: string; tags?: { language?: string }; disposition: { default: number } }> }).streams;
  return streams.map((s) => ({ codec_name: s.codec_name, language: s.tags?.language, default: s.disposition.default }));
}

/** The text of subtitle track `n` of an output, as SRT written by the system's FFmpeg. */
async function subtitleText(path: string, n: number): Promise<string> {
  const r = await runProc([FFMPEG, "-v", "error", "-nostdin", "-i", path, "-map", `0:s:${n}`, "-f", "srt", "-"], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`ffmpeg subtitles of ${path}: ${r.stderr}`);
  return r.stdout;
}

/** The URIs listed by a media playlist. */
const playlistEntries = (path: string) => readFileSync(path, "utf8").split("\n").filter((l) => l !== "" && !l.startsWith("#"));

beforeAll(async () => {
  const started = startMediaKernel(scratch, "kernel", SPLIT_ENV);
  subtitled = await makeCorpusClip(join(scratch, "corpus"), "subtitled");
  k = await started;
}, 300_000);

cleanUpAfterAll(scratch);

describe("subtitles", () => {
  let fromSource: { job: JobView; mp4: string; master: string };

  test("SRT (eng) + ASS (fra) in the source, split into chunks: two mov_text tracks in MP4, two WebVTT renditions in HLS", async () => {
    fromSource = await runJob({ source_url: upload(subtitled) });
    expect(fromSource.job.tasks.filter((t) => t.type === "video").length).toBeGreaterThan(1);
    // MP4: both tracks as mov_text, with their languages and the cues' text.
    expect(await subtitleStreams(fromSource.mp4)).toEqual([
      // Matroska flags its first subtitle track default: the flag is kept.
      { codec_name: "mov_text", language: "eng", default: 1 },
      { codec_name: "mov_text", language: "fra", default: 0 },
    ]);
    for (const n of [0, 1]) {
      const text = await subtitleText(fromSource.mp4, n);
      expect(text).toContain("Hello");
      expect(text).toContain("World");
      expect(text).toContain("00:00:00,200 --> 00:00:00,900");
    }
    // Nothing is listed as left out any more.
    const job = (await call<JobView>(`/v1/jobs/${fromSource.job.id}`)).body;
    expect(job.source?.ignored_streams).toBeUndefined();

    // HLS: the master offers both tracks and every variant names the group.
    const master = readFileSync(fromSource.master, "utf8");
    const media = master.split("\n").filter((l) => l.startsWith("#EXT-X-MEDIA:TYPE=SUBTITLES"));
    expect(media).toEqual([
      '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="eng",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,URI="subs_0/index.m3u8"',
      '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="fra",LANGUAGE="fr",DEFAULT=NO,AUTOSELECT=YES,URI="subs_1/index.m3u8"',
    ]);
    const variants = master.split("\n").filter((l) => l.startsWith("#EXT-X-STREAM-INF:"));
    expect(variants.length).toBeGreaterThan(0);
    for (const v of variants) expect(v).toContain('SUBTITLES="subs"');
    // The WebVTT playlists load: as many segments as the video's, every one a WebVTT file, the cues in them.
    const root = dirname(fromSource.master);
    const videoPlaylist = join(root, master.split("\n")[master.split("\n").indexOf(variants[0]!) + 1]!);
    for (const id of ["subs_0", "subs_1"]) {
      const segments = playlistEntries(join(root, id, "index.m3u8"));
      expect(segments.length).toBe(playlistEntries(videoPlaylist).length);
      const texts = segments.map((s) => readFileSync(join(root, id, s), "utf8"));
      for (const t of texts) expect(t.startsWith("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:")).toBe(true);
      expect(texts.join("\n")).toContain("00:00:00.200 --> 00:00:00.900\nHello");
    }
  }, 300_000);

  test("a sidecar SRT becomes a subtitle rendition and a mov_text track; a sidecar that is not a subtitle file is refused", async () => {
    const clip = join(scratch, "plain.mp4");
    const made = await runProc([FFMPEG, "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:d=3", "-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p", clip], { timeoutMs: 60_000 });
    expect(made.code).toBe(0);
    const srt = join(scratch, "side.srt");
    writeFileSync(srt, "1\n00:00:00,500 --> 00:00:02,000\nGuten Tag\n");
    const done = await runJob({ source_url: upload(clip), subtitles: [{ source_url: upload(srt), language: "deu", name: "Deutsch", default: true }] });
    expect(await subtitleStreams(done.mp4)).toEqual([{ codec_name: "mov_text", language: "deu", default: 1 }]);
    expect(await subtitleText(done.mp4, 0)).toContain("00:00:00,500 --> 00:00:02,000\nGuten Tag");
    const master = readFileSync(done.master, "utf8");
    expect(master).toContain('#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="Deutsch",LANGUAGE="de",DEFAULT=YES,AUTOSELECT=YES,URI="subs_0/index.m3u8"');
    const segments = playlistEntries(join(dirname(done.master), "subs_0", "index.m3u8"));
    expect(readFileSync(join(dirname(done.master), "subs_0", segments[0]!), "utf8")).toContain("Guten Tag");

    const refused = await call<{ error: { code: string; message: string } }>("/v1/jobs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ source_url: upload(clip), profiles: ["360p_h264"], subtitles: [{ source_url: upload(clip, "not-subs.mp4"), language: "eng", name: "English" }] }),
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe("WE-JOB-002");
    expect(refused.body.error.message).toContain("not a subtitle file");
  }, 300_000);

  test("hls.js in headless Chromium lists the subtitle tracks, loads one, and its cues are at the source's times on the video's clock", async () => {
    const root = dirname(fromSource.master);
    const page = `<!doctype html><video id="v" muted playsinline></video><script src="/hls.min.js"></script>`;
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(request) {
        const path = decodeURIComponent(new URL(request.url).pathname);
        if (path === "/") return new Response(page, { headers: { "content-type": "text/html" } });
        if (path === "/hls.min.js") return new Response(Bun.file(join(import.meta.dir, "../../node_modules/hls.js/dist/hls.min.js")));
        const file = join(root, path.replace(/^\/media\//, ""));
        if (!path.startsWith("/media/") || path.includes("..") || !existsSync(file)) return new Response("not found", { status: 404 });
        return new Response(Bun.file(file));
      },
    });
    const browser = await launchBrowser();
    try {
      await browser.send("Page.navigate", { url: `http://127.0.0.1:${server.port}/` });
      await waitFor(() => browser.evaluate<boolean>("typeof Hls === 'function' && Hls.isSupported()").catch(() => false), 30_000, "hls.js loaded and supported", 100);
      const seen = await browser.evaluate<{ tracks: Array<{ name: string; lang: string }>; loaded: number; fragments: number; cues: Array<{ start: number; end: number; text: string }>; firstFrame: number; error: string | null; events: string[] }>(`new Promise((resolve) => {
        const video = document.getElementById("v");
        const hls = new Hls();
        const result = { tracks: [], loaded: -1, fragments: 0, cues: [], firstFrame: -1, error: null, events: [] };
        const done = () => resolve({ ...result, tracks: hls.subtitleTracks.map((t) => ({ name: t.name, lang: t.lang })) });
        const stop = setTimeout(() => { result.error = result.error ?? "timed out at " + video.currentTime; done(); }, 30000);
        hls.on(Hls.Events.ERROR, (_, data) => { result.events.push("error " + data.details + " " + String(data.error ?? data.reason ?? "")); if (data.fatal) { result.error = data.type + ": " + data.details; clearTimeout(stop); done(); } });
        for (const name of ["SUBTITLE_TRACKS_UPDATED", "SUBTITLE_TRACK_SWITCH", "SUBTITLE_TRACK_LOADED", "SUBTITLE_FRAG_PROCESSED", "FRAG_LOADED", "NON_NATIVE_TEXT_TRACKS_FOUND", "CUES_PARSED"]) hls.on(Hls.Events[name], (_, data) => result.events.push(name + " " + (data?.frag?.type ?? data?.id ?? "")));
        // The track is chosen once hls.js has both the tracks and the video element (before, it is not applied).
        let attached = false, listed = false, chosen = false;
        const choose = () => { if (attached && listed && !chosen) { chosen = true; hls.subtitleTrack = 1; } };
        hls.on(Hls.Events.MEDIA_ATTACHED, () => { attached = true; choose(); });
        hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, () => { listed = true; choose(); });
        hls.on(Hls.Events.SUBTITLE_TRACK_LOADED, (_, data) => { result.loaded = data.id; video.play(); });
        hls.on(Hls.Events.SUBTITLE_FRAG_PROCESSED, (_, data) => {
          if (!data.success) return;
          result.fragments++;
          // The cues as the browser shows them: their times say whether X-TIMESTAMP-MAP put them on the video's clock.
          const check = setInterval(() => {
            const track = [...video.textTracks].find((t) => t.language === "fr" && t.cues && t.cues.length > 0);
            // … and the video's first media buffered (under load the cues can be parsed before it is).
            if (!track || video.buffered.length === 0) return;
            clearInterval(check);
            clearTimeout(stop);
            result.firstFrame = video.buffered.length > 0 ? video.buffered.start(0) : -1;
            result.cues = [...track.cues].map((c) => ({ start: Math.round(c.startTime * 1000) / 1000, end: Math.round(c.endTime * 1000) / 1000, text: c.text }));
            done();
          }, 50);
        });
        hls.loadSource("/media/${basename(fromSource.master)}");
        hls.attachMedia(video);
      })`);
      expect({ error: seen.error, events: seen.error ? seen.events : [] }).toEqual({ error: null, events: [] });
      expect(seen.tracks).toEqual([
        { name: "eng", lang: "en" },
        { name: "fra", lang: "fr" },
      ]);
      expect(seen.loaded).toBe(1);
      expect(seen.fragments).toBeGreaterThan(0);
      // The cues sit on the picture's clock: the output's 0 (where cue times count from) is the first video
      // frame, which hls.js places where the buffered media starts (after the B-frame delay of the TS timeline).
      const offset = seen.firstFrame;
      expect(offset).toBeGreaterThanOrEqual(0);
      expect(offset).toBeLessThan(0.2);
      expect(seen.cues.map((c) => c.text)).toEqual(["Hello", "World"]);
      const expected = [[0.2, 0.9], [1.1, 1.8]];
      seen.cues.forEach((c, i) => {
        expect(Math.abs(c.start - (expected[i]![0]! + offset))).toBeLessThan(0.011);
        expect(Math.abs(c.end - (expected[i]![1]! + offset))).toBeLessThan(0.011);
      });
    } finally {
      await browser.close();
      server.stop(true);
    }
  }, 120_000);
});

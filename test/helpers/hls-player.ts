/**
 * hls.js playing an HLS URL in headless Chromium (test/helpers/browser.ts), for tests of live and VOD playback.
 * hls.js comes from node_modules, served with a one-video page by a tiny local server (no CDN, nothing from
 * the internet), so the page and the media are on different origins as on a customer's site: the playlists'
 * and segments' CORS headers are part of what is tested.
 *
 *   const player = await openHlsPlayer(masterUrl);
 *   await player.waitFor("currentTime advancing", (s) => s.currentTime > 2);
 *   await player.setLevel(0);
 *   await player.close();
 */
import { dirname, join } from "node:path";
import { type Browser, launchBrowser } from "./browser.ts";

/** What the page reports about its player. */
export interface PlayerState {
  currentTime: number;
  paused: boolean;
  /** The levels (renditions) hls.js parsed from the master playlist. */
  levels: Array<{ width: number; height: number; bitrate: number }>;
  /** The level hls.js is playing (`hls.currentLevel`); -1 before the first one is chosen. */
  currentLevel: number;
  /** Levels whose fragments were loaded, in order of switching (LEVEL_SWITCHED events). */
  switched: number[];
  /** Fragments loaded so far, with their level and media sequence number. */
  fragments: Array<{ level: number; sn: number }>;
  /** Every hls.js error (`details`), fatal ones marked. */
  errors: Array<{ details: string; fatal: boolean }>;
}

export interface HlsPlayer {
  state(): Promise<PlayerState>;
  /** Polls the state until `condition` holds; the error names `what` and the last state. */
  waitFor(what: string, condition: (state: PlayerState) => boolean, timeoutMs?: number): Promise<PlayerState>;
  /** `hls.currentLevel = level`: switches rendition now (flushing the buffer). */
  setLevel(level: number): Promise<void>;
  close(): Promise<void>;
}

const PAGE = `<!doctype html>
<html><body><video id="video" muted playsinline></video>
<script src="/hls.js"></script>
<script>
  window.player = { switched: [], fragments: [], errors: [] };
  window.startPlayer = (url) => {
    const video = document.getElementById("video");
    // Live defaults as a site would use them; no worker (one page, one thread is plenty here).
    const hls = new Hls({ enableWorker: false, lowLatencyMode: false });
    window.hls = hls;
    hls.on(Hls.Events.LEVEL_SWITCHED, (_e, data) => window.player.switched.push(data.level));
    hls.on(Hls.Events.FRAG_LOADED, (_e, data) => window.player.fragments.push({ level: data.frag.level, sn: data.frag.sn }));
    hls.on(Hls.Events.ERROR, (_e, data) => window.player.errors.push({ details: String(data.details), fatal: !!data.fatal }));
    hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch((e) => window.player.errors.push({ details: "play: " + e.message, fatal: true })));
    hls.loadSource(url);
    hls.attachMedia(video);
  };
  window.playerState = () => {
    const video = document.getElementById("video");
    const hls = window.hls;
    return {
      currentTime: video.currentTime,
      paused: video.paused,
      levels: hls ? hls.levels.map((l) => ({ width: l.width, height: l.height, bitrate: l.bitrate })) : [],
      currentLevel: hls ? hls.currentLevel : -1,
      switched: window.player.switched,
      fragments: window.player.fragments,
      errors: window.player.errors,
    };
  };
</script></body></html>`;

function hlsScriptPath(): string {
  return join(dirname(require.resolve("hls.js/package.json")), "dist", "hls.min.js");
}

/** Serves the page and hls.js on a free loopback port. */
function startPageServer() {
  const script = Bun.file(hlsScriptPath());
  return Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const path = new URL(request.url).pathname;
      if (path === "/") return new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
      if (path === "/hls.js") return new Response(script, { headers: { "content-type": "text/javascript" } });
      return new Response("not found", { status: 404 });
    },
  });
}

/** Opens the page in a new headless Chromium and starts hls.js on `url`. */
export async function openHlsPlayer(url: string): Promise<HlsPlayer> {
  const server = startPageServer();
  let browser: Browser | undefined;
  try {
    browser = await launchBrowser();
    const page = browser;
    await page.send("Page.enable");
    await page.send("Page.navigate", { url: `http://127.0.0.1:${server.port}/` });
    const deadline = Date.now() + 20_000;
    while (!(await page.evaluate<boolean>("typeof window.startPlayer === 'function' && typeof Hls === 'function'").catch(() => false))) {
      if (Date.now() > deadline) throw new Error("the player page did not load hls.js");
      await Bun.sleep(50);
    }
    await page.evaluate(`window.startPlayer(${JSON.stringify(url)})`);
    const state = () => page.evaluate<PlayerState>("window.playerState()");
    return {
      state,
      async waitFor(what, condition, timeoutMs = 30_000) {
        const until = Date.now() + timeoutMs;
        let last = await state();
        while (!condition(last)) {
          if (Date.now() > until) throw new Error(`hls.js: timed out after ${timeoutMs} ms waiting for ${what}; last state ${JSON.stringify({ ...last, fragments: last.fragments.slice(-8) })}`);
          await Bun.sleep(100);
          last = await state();
        }
        return last;
      },
      async setLevel(level) {
        await page.evaluate(`window.hls.currentLevel = ${Number(level)}`);
      },
      async close() {
        await page.close();
        server.stop(true);
      },
    };
  } catch (error) {
    await browser?.close().catch(() => {});
    server.stop(true);
    throw error;
  }
}

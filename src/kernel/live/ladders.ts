/**
 * Live ladder presets a stream chooses from (`streams.ladder`). Each rung becomes one HLS rendition of the
 * live task (the worker encodes every rung from one decode). `default` is sized so that one stream stays at
 * or above real time on a small machine; `full` adds 1080p for hosts with the CPU for it (docs/live.md).
 */
export interface LiveRung {
  name: string;
  width: number;
  height: number;
  video_kbps: number;
}

export const LIVE_LADDERS = {
  default: [
    { name: "720p", width: 1280, height: 720, video_kbps: 2500 },
    { name: "480p", width: 854, height: 480, video_kbps: 1200 },
    { name: "360p", width: 640, height: 360, video_kbps: 700 },
  ],
  light: [
    { name: "480p", width: 854, height: 480, video_kbps: 1000 },
    { name: "240p", width: 426, height: 240, video_kbps: 400 },
  ],
  full: [
    { name: "1080p", width: 1920, height: 1080, video_kbps: 5000 },
    { name: "720p", width: 1280, height: 720, video_kbps: 2500 },
    { name: "480p", width: 854, height: 480, video_kbps: 1200 },
    { name: "360p", width: 640, height: 360, video_kbps: 700 },
  ],
} as const satisfies Record<string, readonly LiveRung[]>;

export type LadderName = keyof typeof LIVE_LADDERS;
export const LADDER_NAMES = Object.keys(LIVE_LADDERS) as LadderName[];
export const LIVE_AUDIO_KBPS = 128;

export function ladderRungs(name: string): LiveRung[] {
  const rungs: readonly LiveRung[] = (LIVE_LADDERS as Record<string, readonly LiveRung[]>)[name] ?? LIVE_LADDERS.default;
  return rungs.map((rung) => ({ ...rung }));
}

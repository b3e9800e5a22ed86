/**
 * Plays an output: MP4 natively; HLS natively where the browser can (Safari), else through hls.js, which is
 * imported here lazily so it is a separate chunk loaded only on pages with a player.
 */
import { useEffect, useRef, useState } from "preact/hooks";

export function Player({ url, hls, poster }: { url: string; hls: boolean; poster?: string }) {
  const video = useRef<HTMLVideoElement>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const element = video.current;
    if (!element) return;
    if (!hls || element.canPlayType("application/vnd.apple.mpegurl")) {
      element.src = url;
      return;
    }
    let destroy: (() => void) | undefined;
    let live = true;
    void import("hls.js").then(({ default: Hls }) => {
      if (!live) return;
      if (!Hls.isSupported()) return setError("this browser cannot play HLS");
      const player = new Hls({ enableWorker: false });
      player.on(Hls.Events.ERROR, (_event, data) => data.fatal && setError(`HLS playback failed: ${data.details}`));
      player.loadSource(url);
      player.attachMedia(element);
      destroy = () => player.destroy();
    });
    return () => {
      live = false;
      destroy?.();
    };
  }, [url, hls]);
  return (
    <div class="player">
      <video ref={video} controls muted playsInline preload="metadata" poster={poster} data-test={hls ? "hls-player" : "mp4-player"} />
      {error ? <p class="error" role="alert">{error}</p> : null}
    </div>
  );
}

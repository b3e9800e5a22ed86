/** Choosing a Twitch ingest server from https://ingest.twitch.tv/ingests. Pure. */

export interface TwitchIngest {
  _id: number;
  name: string;
  url_template: string;
  default: boolean;
  availability: number;
  priority: number;
}

/**
 * The server for `choice`: "auto" → the one Twitch marks default (else the highest-priority available one);
 * otherwise the server whose id or name matches (case-insensitive). Answers the RTMP URL without the key
 * placeholder, or null when nothing matches.
 */
export function chooseIngest(ingests: readonly TwitchIngest[], choice: string): { name: string; url: string } | null {
  const usable = ingests.filter((i) => i.availability > 0 && i.url_template.includes("{stream_key}"));
  const wanted = choice.toLowerCase();
  const picked =
    wanted === "auto"
      ? (usable.find((i) => i.default) ?? [...usable].sort((a, b) => a.priority - b.priority)[0])
      : usable.find((i) => String(i._id) === choice || i.name.toLowerCase() === wanted);
  if (!picked) return null;
  return { name: picked.name, url: picked.url_template.replace(/\/?\{stream_key\}$/, "").replace(/\/+$/, "") };
}

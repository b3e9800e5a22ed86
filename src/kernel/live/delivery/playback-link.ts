/**
 * The playback link of a stream as the API hands it out (GET /v1/streams/:id/playback): the master playlist
 * URL, with a freshly minted `?token=` when the stream's playback is signed. The link names the stream,
 * never its key; a token expires (PLAYBACK_TOKEN_TTL_MS) and is one viewer's (viewers are counted by it).
 */
import type { KernelContext } from "../../context.ts";
import { publicUrl } from "../../plugin-registry/defaults.ts";
import { getStream } from "../streams-store.ts";
import { PLAYBACK_TOKEN_TTL_MS, signPlaybackToken } from "./playback-token.ts";

export interface PlaybackLink {
  stream_id: string;
  playback: string;
  url: string;
  /** Null for a public stream. */
  token: string | null;
  expires_at: string | null;
}

export async function playbackLink(ctx: Pick<KernelContext, "db" | "config" | "secrets">, streamId: string, nowMs: number): Promise<PlaybackLink> {
  const stream = await getStream(ctx.db, streamId);
  const url = `${publicUrl(ctx.config)}/live/${stream.id}/master.m3u8`;
  if (stream.playback !== "signed") return { stream_id: stream.id, playback: stream.playback, url, token: null, expires_at: null };
  // Whole seconds: what the token carries, so expires_at is exactly when it stops working.
  const expiresAt = new Date(Math.floor((nowMs + PLAYBACK_TOKEN_TTL_MS) / 1000) * 1000);
  const token = signPlaybackToken(ctx.secrets, stream.id, expiresAt);
  return { stream_id: stream.id, playback: stream.playback, url: `${url}?token=${encodeURIComponent(token)}`, token, expires_at: expiresAt.toISOString() };
}

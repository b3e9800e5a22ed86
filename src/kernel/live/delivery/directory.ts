/**
 * What delivery needs to know about streams and sessions, and where it learns it by default: the live task's
 * params (src/core/task-contracts.ts), which name the stream, the session and the ladder. Every kernel reads
 * the same database, so every kernel can answer playback for any stream. The streams domain may replace
 * either lookup (LiveDelivery.useDirectory): it knows whether a stream's playback is signed; the default
 * treats every stream as public.
 */
import { sql } from "drizzle-orm";
import * as v from "valibot";
import { rowsOf } from "../../../db/exec.ts";
import type { KernelContext } from "../../context.ts";
import type { LadderRung } from "./playlist.ts";

export interface LiveSessionInfo {
  sessionId: string;
  streamId: string;
  rungs: LadderRung[];
  audioKbps: number;
}

export interface StreamPlayback {
  /** The session playback shows: the live one, or the last one (its playlists end with EXT-X-ENDLIST). */
  sessionId: string;
  /** Playback needs a token (`?token=`, playback-token.ts). */
  signed: boolean;
}

export interface LiveDirectory {
  sessionOf(sessionId: string): Promise<LiveSessionInfo | null>;
  playbackOf(streamId: string): Promise<StreamPlayback | null>;
}

/** The part of the live task's params delivery reads; checked, never cast (they were written by another version). */
const LiveParams = v.object({
  stream_id: v.string(),
  session_id: v.string(),
  audio_kbps: v.number(),
  rungs: v.array(v.object({ name: v.string(), width: v.number(), height: v.number(), video_kbps: v.number(), fps: v.optional(v.number()) })),
});

function infoOf(params: unknown): LiveSessionInfo | null {
  const parsed = v.safeParse(LiveParams, params);
  if (!parsed.success) return null;
  const p = parsed.output;
  return {
    sessionId: p.session_id,
    streamId: p.stream_id,
    audioKbps: p.audio_kbps,
    rungs: p.rungs.map((rung) => ({ name: rung.name, width: rung.width, height: rung.height, videoKbps: rung.video_kbps, ...(rung.fps ? { fps: rung.fps } : {}) })),
  };
}

export function taskDirectory(ctx: Pick<KernelContext, "db">): LiveDirectory {
  return {
    async sessionOf(sessionId) {
      const rows = rowsOf<{ params: unknown }>(
        await ctx.db.execute(sql`SELECT params FROM tasks WHERE type = 'live' AND params->>'session_id' = ${sessionId} ORDER BY created_at DESC LIMIT 1`),
      );
      return rows[0] ? infoOf(rows[0].params) : null;
    },
    async playbackOf(streamId) {
      const rows = rowsOf<{ params: unknown }>(
        await ctx.db.execute(sql`SELECT params FROM tasks WHERE type = 'live' AND params->>'stream_id' = ${streamId} ORDER BY created_at DESC LIMIT 1`),
      );
      const info = rows[0] ? infoOf(rows[0].params) : null;
      return info ? { sessionId: info.sessionId, signed: false } : null;
    },
  };
}

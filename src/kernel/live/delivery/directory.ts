/**
 * What delivery needs to know about streams and sessions, from the database every kernel shares (so every
 * kernel answers playback for any stream): a session's ladder from its live task's params
 * (src/core/task-contracts.ts: stream, session, rungs, audio bitrate); the session a stream's playback shows
 * (its latest `stream_sessions` row) and whether playback is signed (`streams.playback`). Either lookup may be
 * replaced (LiveDelivery.useDirectory), e.g. by a test.
 */
import { desc, eq, sql } from "drizzle-orm";
import { streamSessions, streams } from "../../../db/schema.ts";
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
  /** The session is over (its publisher gone and the reconnect grace past): its playlists end. */
  ended: boolean;
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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function databaseDirectory(ctx: Pick<KernelContext, "db">): LiveDirectory {
  return {
    async sessionOf(sessionId) {
      const rows = rowsOf<{ params: unknown }>(
        await ctx.db.execute(sql`SELECT params FROM tasks WHERE type = 'live' AND params->>'session_id' = ${sessionId} ORDER BY created_at DESC LIMIT 1`),
      );
      return rows[0] ? infoOf(rows[0].params) : null;
    },
    async playbackOf(streamId) {
      // Stream ids are UUIDs: anything else is no stream (and would be a type error in the query).
      if (!UUID.test(streamId)) return null;
      const [row] = await ctx.db
        .select({ sessionId: streamSessions.id, playback: streams.playback, endedAt: streamSessions.endedAt })
        .from(streams)
        .innerJoin(streamSessions, eq(streamSessions.streamId, streams.id))
        .where(eq(streams.id, streamId))
        .orderBy(desc(streamSessions.startedAt))
        .limit(1);
      return row ? { sessionId: row.sessionId, signed: row.playback === "signed", ended: row.endedAt !== null } : null;
    },
  };
}

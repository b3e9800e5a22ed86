/**
 * Live delivery: receives what the live transcode PUTs (segments and its rung playlists), keeps each rung's
 * sliding-window playlist (playlist.ts) in storage beside the segments (store.ts), and answers playback for
 * any stream on any kernel. One instance per kernel context: `liveDelivery(ctx)`.
 *
 * The window state is read from storage and written back on every rung playlist PUT (one per segment per
 * rung), so the kernel that receives the next PUT — any kernel behind a load balancer, or this one after a
 * restart — continues from it; updates of one rung are serialised in this process (FFmpeg PUTs one rung's
 * playlist at a time). Playback reads the rendered playlists and the segments from storage only.
 */
import { join } from "node:path";
import * as v from "valibot";
import { AppError } from "../../../core/errors.ts";
import type { Logger } from "../../../core/logger.ts";
import type { SecretBox } from "../../../core/secret-box.ts";
import type { KernelContext } from "../../context.ts";
import { type LiveDirectory, type LiveSessionInfo, databaseDirectory } from "./directory.ts";
import {
  emptyWindow,
  endWindow,
  isSegmentFile,
  mergeWorkerPlaylist,
  parseWorkerPlaylist,
  renderMasterPlaylist,
  renderMediaPlaylist,
  type RungWindow,
  windowsReady,
  withQuery,
} from "./playlist.ts";
import { verifyPlaybackToken } from "./playback-token.ts";
import { deleteObjects, masterKey, objectExists, objectKey, readObject, readText, sessionPrefix, type StorageCalls, storeStream, storeText } from "./store.ts";
import { ViewerCounter, viewerKeyOf } from "./viewers.ts";
import { readLimited } from "../../../core/read-limited.ts";

export type { LiveDirectory, LiveSessionInfo, StreamPlayback } from "./directory.ts";
export { signPlaybackToken, PLAYBACK_TOKEN_TTL_MS } from "./playback-token.ts";

export interface DeliverySettings {
  /** Segments listed in a media playlist. */
  windowSize: number;
  /** Segments kept after they left the playlist (players that are behind still fetch them). */
  retainExtra: number;
  /** Segments every rung must have before the master playlist is answered (hls.js fails on a 404 master). */
  readySegments: number;
  /** Largest segment accepted. */
  segmentMaxBytes: number;
  /** How long an ended session's playlists and segments stay servable before they are deleted. */
  endedRetentionMs: number;
}

export const DEFAULT_DELIVERY_SETTINGS: DeliverySettings = {
  windowSize: 6,
  retainExtra: 6,
  readySegments: 3,
  segmentMaxBytes: 64 * 1024 * 1024,
  endedRetentionMs: 10 * 60_000,
};

/** A worker's rung playlist is a few hundred bytes; anything this large is not one. */
const PLAYLIST_MAX_BYTES = 256 * 1024;

/** What delivery needs of the kernel (liveDelivery(ctx) gives the kernel's; a test may give its own storage). */
export interface DeliveryDeps {
  /** The storage plugin segments and playlists go to (the default one). */
  storage(): Promise<StorageCalls>;
  directory: LiveDirectory;
  secrets: Pick<SecretBox, "macMatches">;
  logger: Pick<Logger, "info" | "warn">;
  /** Where bodies are received before they are moved into storage. */
  tmpDir: string;
}

export interface PlaybackAnswer {
  body: Uint8Array | string;
  contentType: string;
  cacheControl: string;
}

export interface Viewer {
  token: string | null;
  clientIp: string | null;
  userAgent: string | null;
}

const PLAYLIST_TYPE = "application/vnd.apple.mpegurl";

/** window.json as stored (possibly by another kernel, of another version): checked, never cast. */
const StoredWindow = v.object({
  nextSequence: v.number(),
  discontinuitySequence: v.number(),
  epoch: v.number(),
  targetDurationS: v.number(),
  segments: v.array(
    v.object({ file: v.string(), epoch: v.number(), sequence: v.number(), durationS: v.number(), programDateTime: v.string(), discontinuity: v.boolean() }),
  ),
  retired: v.array(v.string()),
  ended: v.boolean(),
});

/** A stored window, or null when absent; a corrupt one is an error (a new window would restart the numbering). */
function parseWindow(text: string | null, key: string): RungWindow | null {
  if (text === null) return null;
  const parsed = v.safeParse(StoredWindow, safeJson(text));
  if (!parsed.success) throw new AppError("WE-STO-004", `live window ${key} is unreadable: ${v.summarize(parsed.issues).slice(0, 300)}`);
  return parsed.output;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export class LiveDelivery {
  private directory: LiveDirectory;
  private readonly settings: DeliverySettings;
  private readonly tmpDir: string;
  private readonly viewerCounter = new ViewerCounter();
  private readonly sessions = new Map<string, LiveSessionInfo>();
  private readonly windows = new Map<string, Map<string, RungWindow>>();
  private readonly ready = new Set<string>();
  /** When segmentsReady last looked in storage, per session not known ready here. */
  private readonly lastStorageCheck = new Map<string, number>();
  /** Sessions ended by this kernel (their playlists carry ENDLIST; cleanup scheduled). */
  private readonly ended = new Set<string>();
  private readonly readyListeners = new Set<(sessionId: string) => void>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly cleanupTimers = new Set<ReturnType<typeof setTimeout>>();
  /** Segment PUTs still being received here, by storage key. */
  private readonly incoming = new Map<string, Promise<unknown>>();

  constructor(
    private readonly deps: DeliveryDeps,
    settings: Partial<DeliverySettings> = {},
  ) {
    this.settings = { ...DEFAULT_DELIVERY_SETTINGS, ...settings };
    this.directory = deps.directory;
    this.tmpDir = deps.tmpDir;
  }

  /** Replaces the default lookups (the streams domain knows which streams are signed). */
  useDirectory(directory: Partial<LiveDirectory>): void {
    this.directory = { ...this.directory, ...directory };
  }

  /** Tells delivery a session's ladder up front (saves a lookup on its first PUT). */
  startSession(info: LiveSessionInfo): void {
    this.sessions.set(info.sessionId, info);
  }

  /**
   * True once every rung of the session has `readySegments` segments. Known at once on the kernel that took
   * the PUTs; any other kernel (the workers' PUTs reached another one behind a load balancer) learns it from
   * storage: a call that answers false looks for the master playlist there (at most once a second per
   * session), and a later call — or `onSegmentsReady` — then sees it.
   */
  segmentsReady(sessionId: string): boolean {
    if (this.ready.has(sessionId)) return true;
    const now = Date.now();
    if (now - (this.lastStorageCheck.get(sessionId) ?? 0) >= 1000) {
      this.lastStorageCheck.set(sessionId, now);
      void this.readyInStorage(sessionId).catch((error: unknown) => this.deps.logger.warn({ session_id: sessionId, error: String(error) }, "live: could not check storage for the master playlist"));
    }
    return false;
  }

  private async readyInStorage(sessionId: string): Promise<void> {
    if (!(await objectExists(await this.storage(), masterKey(sessionId)))) return;
    this.markReady(sessionId);
  }

  private markReady(sessionId: string): void {
    if (this.ready.has(sessionId) || this.ended.has(sessionId)) return;
    this.ready.add(sessionId);
    this.lastStorageCheck.delete(sessionId);
    for (const listener of this.readyListeners) listener(sessionId);
  }

  /** Calls `listener(sessionId)` when a session becomes ready on this kernel; returns the unsubscribe. */
  onSegmentsReady(listener: (sessionId: string) => void): () => void {
    this.readyListeners.add(listener);
    return () => this.readyListeners.delete(listener);
  }

  /** Distinct playback sessions of the stream in the last 30 s, on this kernel. */
  viewers(streamId: string): number {
    return this.viewerCounter.count(streamId, Date.now());
  }

  private storage(): Promise<StorageCalls> {
    return this.deps.storage();
  }

  private async sessionInfo(sessionId: string): Promise<LiveSessionInfo | null> {
    const known = this.sessions.get(sessionId);
    if (known) return known;
    const found = await this.directory.sessionOf(sessionId);
    if (found) this.sessions.set(sessionId, found);
    return found;
  }

  /** Runs `work` after every earlier work under the same name has finished (success or not). */
  private serialized<T>(name: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(name) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(work);
    this.locks.set(name, next);
    void next.finally(() => {
      if (this.locks.get(name) === next) this.locks.delete(name);
    }).catch(() => {});
    return next;
  }

  /**
   * A segment PUT: streamed into storage. FFmpeg streams a segment while encoding it and sends the rung
   * playlist that lists it as soon as the segment's body is sent, without waiting for our answer: the
   * playlist's handler waits for the segments still arriving here (`incoming`) before it checks storage.
   */
  async receiveSegment(sessionId: string, rung: string, file: string, body: ReadableStream<Uint8Array>): Promise<number> {
    const key = objectKey(sessionId, rung, file);
    const storing = this.storage().then((storage) => storeStream(storage, this.tmpDir, key, body, this.settings.segmentMaxBytes));
    this.incoming.set(key, storing);
    try {
      return await storing;
    } finally {
      if (this.incoming.get(key) === storing) this.incoming.delete(key);
    }
  }

  /** Whether a listed segment is in storage, once its PUT to this kernel (if any) has finished. */
  private async segmentStored(storage: StorageCalls, key: string): Promise<boolean> {
    await this.incoming.get(key)?.catch(() => {});
    return objectExists(storage, key);
  }

  /** A rung playlist PUT: the window advances by the segments it lists that are stored. */
  async receivePlaylist(sessionId: string, rung: string, epoch: number, body: ReadableStream<Uint8Array>): Promise<void> {
    const text = new TextDecoder().decode(await readLimited(body, PLAYLIST_MAX_BYTES, (limit) => `live playlist too large: more than ${limit} bytes`));
    let parsed;
    try {
      parsed = parseWorkerPlaylist(text, epoch);
    } catch (error) {
      throw new AppError("WE-REQ-004", `live playlist e${epoch}.m3u8 of rung ${rung}: ${(error as Error).message}`);
    }
    await this.serialized(`${sessionId}/${rung}`, async () => {
      const storage = await this.storage();
      const windowKey = objectKey(sessionId, rung, "window.json");
      const window = parseWindow(await readText(storage, this.tmpDir, windowKey), windowKey) ?? emptyWindow();
      const known = new Set(window.segments.map((segment) => segment.file).concat(window.retired));
      const candidates = parsed.segments.filter((segment) => !known.has(segment.file)).map((segment) => segment.file);
      const present = new Set<string>();
      await Promise.all(candidates.map(async (file) => (await this.segmentStored(storage, objectKey(sessionId, rung, file))) && present.add(file)));
      const merged = mergeWorkerPlaylist(window, parsed, { ...this.settings, nowMs: Date.now(), stored: (file) => present.has(file) });
      if (merged.stale) {
        this.deps.logger.info({ session_id: sessionId, rung, epoch, current_epoch: window.epoch }, "live playlist of a replaced transcode ignored");
        return;
      }
      if (merged.added.length === 0) return;
      await storeText(storage, this.tmpDir, windowKey, JSON.stringify(merged.window));
      await storeText(storage, this.tmpDir, objectKey(sessionId, rung, "index.m3u8"), renderMediaPlaylist(merged.window, `${sessionId}_`));
      await deleteObjects(storage, merged.expired.map((file) => objectKey(sessionId, rung, file)));
      this.rememberWindow(sessionId, rung, merged.window);
    });
    await this.checkReady(sessionId);
  }

  private rememberWindow(sessionId: string, rung: string, window: RungWindow): void {
    let rungs = this.windows.get(sessionId);
    if (!rungs) this.windows.set(sessionId, (rungs = new Map()));
    rungs.set(rung, window);
  }

  /** Writes the master playlist once every rung has enough segments, then tells the listeners. */
  private async checkReady(sessionId: string): Promise<void> {
    if (this.ready.has(sessionId)) return;
    const info = await this.sessionInfo(sessionId);
    if (!info) return;
    const storage = await this.storage();
    const windows = this.windows.get(sessionId) ?? new Map<string, RungWindow>();
    // Rungs whose PUTs went to another kernel: their state is in storage.
    for (const rung of info.rungs) {
      if (windows.has(rung.name)) continue;
      const key = objectKey(sessionId, rung.name, "window.json");
      const stored = parseWindow(await readText(storage, this.tmpDir, key), key);
      if (stored) windows.set(rung.name, stored);
    }
    if (!windowsReady(windows, info.rungs.map((rung) => rung.name), this.settings.readySegments)) return;
    await this.serialized(`${sessionId}/master`, async () => {
      if (this.ready.has(sessionId)) return;
      await storeText(storage, this.tmpDir, masterKey(sessionId), renderMasterPlaylist(info.rungs, info.audioKbps));
      this.deps.logger.info({ session_id: sessionId, stream_id: info.streamId }, "live session ready: master playlist published");
      this.markReady(sessionId);
    });
  }

  /**
   * The session is over: every rung's playlist gets EXT-X-ENDLIST (players stop at its end instead of
   * waiting), and the session's objects are deleted after `endedRetentionMs`.
   */
  async endSession(sessionId: string): Promise<void> {
    if (this.ended.has(sessionId)) return;
    this.ended.add(sessionId);
    const info = await this.sessionInfo(sessionId);
    const storage = await this.storage();
    const rungs = info?.rungs.map((rung) => rung.name) ?? [...(this.windows.get(sessionId)?.keys() ?? [])];
    await Promise.all(
      rungs.map((rung) =>
        this.serialized(`${sessionId}/${rung}`, async () => {
          const windowKey = objectKey(sessionId, rung, "window.json");
          const stored = parseWindow(await readText(storage, this.tmpDir, windowKey), windowKey);
          if (!stored) return;
          const ended = endWindow(stored);
          await storeText(storage, this.tmpDir, windowKey, JSON.stringify(ended));
          await storeText(storage, this.tmpDir, objectKey(sessionId, rung, "index.m3u8"), renderMediaPlaylist(ended, `${sessionId}_`));
        }),
      ),
    );
    this.windows.delete(sessionId);
    this.ready.delete(sessionId);
    this.lastStorageCheck.delete(sessionId);
    this.sessions.delete(sessionId);
    const timer = setTimeout(() => {
      this.cleanupTimers.delete(timer);
      this.ended.delete(sessionId);
      void storage.call("delete_prefix", { prefix: sessionPrefix(sessionId) }).catch((error: unknown) => {
        this.deps.logger.warn({ session_id: sessionId, error: String(error) }, "live session cleanup failed");
      });
    }, this.settings.endedRetentionMs);
    timer.unref?.();
    this.cleanupTimers.add(timer);
  }

  /** True while a push is being taken in here (a segment arriving, a playlist update): for shutdown and tests. */
  busy(): boolean {
    return this.incoming.size > 0 || this.locks.size > 0;
  }

  /** Stops the pending cleanups (kernel shutdown; storage keeps the objects). */
  close(): void {
    for (const timer of this.cleanupTimers) clearTimeout(timer);
    this.cleanupTimers.clear();
  }

  /** The session a stream plays, after the playback token check for a signed stream. */
  private async playbackSession(streamId: string, viewer: Viewer): Promise<string> {
    const playback = await this.checkedPlayback(streamId, viewer);
    // A session that ended without endSession reaching this deployment (its kernel died, or the streams
    // domain ended it elsewhere): its playlists are ended here, once, so players stop instead of waiting.
    if (playback.ended && !this.ended.has(playback.sessionId)) await this.endSession(playback.sessionId);
    return playback.sessionId;
  }

  private async checkedPlayback(streamId: string, viewer: Viewer) {
    const playback = await this.directory.playbackOf(streamId);
    if (!playback) throw new AppError("WE-STR-002", `stream ${streamId} not found or never went live`);
    if (playback.signed) {
      if (!viewer.token) throw new AppError("WE-AUTH-001", `stream ${streamId} needs a playback token: add ?token= from GET /v1/streams/${streamId}/playback`);
      const check = verifyPlaybackToken(this.deps.secrets, viewer.token, streamId, Date.now());
      if (!check.ok && check.reason === "expired") throw new AppError("WE-AUTH-002", "the playback token has expired: get a new one from the API");
      if (!check.ok) throw new AppError("WE-AUTH-001", `invalid playback token for stream ${streamId} (${check.reason})`);
    }
    return playback;
  }

  /** The master playlist: 404 until every rung has its first segments. */
  async master(streamId: string, viewer: Viewer): Promise<PlaybackAnswer> {
    const sessionId = await this.playbackSession(streamId, viewer);
    const text = await readText(await this.storage(), this.tmpDir, masterKey(sessionId));
    if (text === null)
      throw new AppError("WE-STR-002", `stream ${streamId} is not playable yet: waiting for its first segments; retry in a few seconds`, { reason: "not_ready", retry_after_s: 2 });
    this.viewerCounter.touch(streamId, viewerKeyOf(viewer.token, viewer.clientIp, viewer.userAgent), Date.now());
    return { body: withQuery(text, tokenQuery(viewer)), contentType: PLAYLIST_TYPE, cacheControl: cacheFor(viewer, "max-age=2") };
  }

  async mediaPlaylist(streamId: string, rung: string, viewer: Viewer): Promise<PlaybackAnswer> {
    const sessionId = await this.playbackSession(streamId, viewer);
    const text = await readText(await this.storage(), this.tmpDir, objectKey(sessionId, rung, "index.m3u8"));
    if (text === null) throw new AppError("WE-REQ-006", `stream ${streamId} has no rung ${rung} (or none yet)`);
    this.viewerCounter.touch(streamId, viewerKeyOf(viewer.token, viewer.clientIp, viewer.userAgent), Date.now());
    return { body: withQuery(text, tokenQuery(viewer)), contentType: PLAYLIST_TYPE, cacheControl: cacheFor(viewer, "max-age=1") };
  }

  /** A segment, named `<session>_e<epoch>_<n>.ts` in the playlists: immutable (a name is never reused). */
  async segment(streamId: string, rung: string, name: string, viewer: Viewer): Promise<PlaybackAnswer> {
    await this.playbackSession(streamId, viewer);
    const match = /^([0-9a-f-]{36})_(.+)$/.exec(name);
    if (!match || !isSegmentFile(match[2]!)) throw new AppError("WE-REQ-006", `no segment ${name} in stream ${streamId}`);
    const bytes = await readObject(await this.storage(), this.tmpDir, objectKey(match[1]!, rung, match[2]!));
    if (bytes === null) throw new AppError("WE-REQ-006", `segment ${name} of stream ${streamId} is gone (it left the live window)`);
    return { body: bytes, contentType: "video/mp2t", cacheControl: cacheFor(viewer, "max-age=31536000, immutable") };
  }
}

function tokenQuery(viewer: Viewer): string {
  return viewer.token ? `token=${encodeURIComponent(viewer.token)}` : "";
}

/** A signed stream's answers are for one viewer: shared caches must not keep them. */
function cacheFor(viewer: Viewer, directives: string): string {
  return `${viewer.token ? "private" : "public"}, ${directives}`;
}

const instances = new WeakMap<object, LiveDelivery>();

/** The kernel's one LiveDelivery (the routes, the streams domain and telemetry share it). */
export function liveDelivery(ctx: KernelContext): LiveDelivery {
  let delivery = instances.get(ctx);
  if (!delivery) {
    delivery = new LiveDelivery({
      storage: () => ctx.plugins.route("storage"),
      directory: databaseDirectory(ctx),
      secrets: ctx.secrets,
      logger: ctx.logger,
      tmpDir: join(ctx.config.DATA_DIR, "tmp", "live"),
    });
    instances.set(ctx, delivery);
  }
  return delivery;
}

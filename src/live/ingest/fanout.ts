/**
 * Fans one publisher's media out to any number of subscribers as FLV byte streams.
 *
 * A subscriber that joins mid-stream first gets what a decoder needs to start at once: the FLV header,
 * onMetaData, the AVC/AAC sequence headers, then the tags from the latest keyframe on (the GOP cache). Each
 * subscriber has its own bounded queue: one that falls more than `maxQueueBytes` behind is ended with an
 * error, so a slow reader never slows the publisher or the other subscribers (nothing here ever waits).
 */
import { audioTagInfo, videoTagInfo } from "../flv/media-info.ts";
import { flvHeader, flvTag, FlvTagType } from "../flv/tags.ts";

export const DEFAULT_MAX_QUEUE_BYTES = 16 * 1024 * 1024;
/** A GOP larger than this (a publisher sending no keyframes) is not cached: late joiners wait for the next keyframe. */
export const MAX_GOP_CACHE_BYTES = 32 * 1024 * 1024;

export interface MediaTag {
  type: number; // FlvTagType
  timestamp: number;
  body: Uint8Array;
}

export class SlowSubscriberError extends Error {
  constructor(maxQueueBytes: number) {
    super(`subscriber fell more than ${maxQueueBytes} bytes behind the live stream and was dropped`);
    this.name = "SlowSubscriberError";
  }
}

interface Subscriber {
  controller: ReadableStreamDefaultController<Uint8Array>;
  maxQueueBytes: number;
  /** Video is held back until a keyframe (a joiner that found no cached GOP). */
  waitingForKeyframe: boolean;
  /** Nothing was sent yet: the header part goes out with the first tag. */
  started: boolean;
}

export class MediaFanout {
  private metadata?: Uint8Array;
  private videoSequenceHeader?: MediaTag;
  private audioSequenceHeader?: MediaTag;
  private gop: MediaTag[] = [];
  private gopBytes = 0;
  private gopValid = false;
  private sawVideo = false;
  private sawAudio = false;
  private readonly subscribers = new Set<Subscriber>();
  private ended = false;

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** onMetaData as an FLV script tag body (`"onMetaData", {…}` in AMF0). */
  setMetadata(body: Uint8Array): void {
    this.metadata = body;
    this.broadcast({ type: FlvTagType.script, timestamp: this.lastTimestamp(), body });
  }

  push(tag: MediaTag): void {
    if (this.ended) return;
    let keyframe = false;
    if (tag.type === FlvTagType.video) {
      this.sawVideo = true;
      const info = videoTagInfo(tag.body);
      if (info?.sequenceHeader) {
        this.videoSequenceHeader = tag;
        this.broadcast(tag);
        return;
      }
      keyframe = info?.keyframe ?? false;
    } else if (tag.type === FlvTagType.audio) {
      this.sawAudio = true;
      if (audioTagInfo(tag.body)?.sequenceHeader) {
        this.audioSequenceHeader = tag;
        this.broadcast(tag);
        return;
      }
    }
    this.cache(tag, keyframe);
    this.broadcast(tag, keyframe);
  }

  /** A new FLV byte stream starting at the latest keyframe. */
  subscribe(options: { maxQueueBytes?: number } = {}): ReadableStream<Uint8Array> {
    const maxQueueBytes = options.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES;
    let subscriber: Subscriber | undefined;
    return new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          if (this.ended) {
            controller.enqueue(this.headerPart(this.gop[0]?.timestamp ?? 0));
            controller.close();
            return;
          }
          subscriber = { controller, maxQueueBytes, waitingForKeyframe: this.sawVideo && !this.gopValid, started: false };
          this.subscribers.add(subscriber);
          if (this.gopValid && this.gop.length > 0) {
            this.start(subscriber, this.gop[0]!.timestamp);
            for (const tag of this.gop) this.deliver(subscriber, flvTag(tag.type, tag.timestamp, tag.body));
          }
        },
        cancel: () => {
          if (subscriber) this.subscribers.delete(subscriber);
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: maxQueueBytes }),
    );
  }

  /** Ends every subscriber's stream (the session is over). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const subscriber of this.subscribers) {
      try {
        if (!subscriber.started) subscriber.controller.enqueue(this.headerPart(this.lastTimestamp()));
        subscriber.controller.close();
      } catch {
        // already errored or cancelled
      }
    }
    this.subscribers.clear();
    this.gop = [];
  }

  private lastTimestamp(): number {
    return this.gop[this.gop.length - 1]?.timestamp ?? 0;
  }

  private cache(tag: MediaTag, keyframe: boolean): void {
    if (keyframe) {
      this.gop = [];
      this.gopBytes = 0;
      this.gopValid = true;
    }
    if (!this.gopValid) return;
    this.gop.push(tag);
    this.gopBytes += tag.body.length;
    if (this.gopBytes > MAX_GOP_CACHE_BYTES) {
      this.gop = [];
      this.gopBytes = 0;
      this.gopValid = false;
    }
  }

  /** FLV header, metadata and sequence headers, stamped with the time of the first tag that follows. */
  private headerPart(timestamp: number): Uint8Array {
    const hasAudio = this.sawAudio || this.audioSequenceHeader !== undefined;
    const hasVideo = this.sawVideo || this.videoSequenceHeader !== undefined;
    const parts = [flvHeader(hasAudio || !hasVideo, hasVideo || !hasAudio)];
    if (this.metadata) parts.push(flvTag(FlvTagType.script, timestamp, this.metadata));
    if (this.videoSequenceHeader) parts.push(flvTag(FlvTagType.video, timestamp, this.videoSequenceHeader.body));
    if (this.audioSequenceHeader) parts.push(flvTag(FlvTagType.audio, timestamp, this.audioSequenceHeader.body));
    const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
    let offset = 0;
    for (const part of parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }

  private start(subscriber: Subscriber, timestamp: number): void {
    subscriber.started = true;
    this.deliver(subscriber, this.headerPart(timestamp));
  }

  private broadcast(tag: MediaTag, keyframe = false): void {
    if (this.subscribers.size === 0) return;
    const bytes = flvTag(tag.type, tag.timestamp, tag.body);
    for (const subscriber of this.subscribers) {
      if (tag.type === FlvTagType.video && subscriber.waitingForKeyframe) {
        if (!keyframe) continue;
        subscriber.waitingForKeyframe = false;
      }
      if (!subscriber.started) {
        // Sequence headers and metadata arriving before the first frame are part of the header part.
        if (tag.type === FlvTagType.script || this.isSequenceHeader(tag)) continue;
        this.start(subscriber, tag.timestamp);
      }
      this.deliver(subscriber, bytes);
    }
  }

  private isSequenceHeader(tag: MediaTag): boolean {
    return tag === this.videoSequenceHeader || tag === this.audioSequenceHeader;
  }

  private deliver(subscriber: Subscriber, bytes: Uint8Array): void {
    if (!this.subscribers.has(subscriber)) return;
    try {
      subscriber.controller.enqueue(bytes);
    } catch {
      // The consumer cancelled or the stream errored in between.
      this.subscribers.delete(subscriber);
      return;
    }
    const room = subscriber.controller.desiredSize;
    if (room !== null && room < 0) {
      this.subscribers.delete(subscriber);
      subscriber.controller.error(new SlowSubscriberError(subscriber.maxQueueBytes));
    }
  }
}

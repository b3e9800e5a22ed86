/**
 * Names and subject rules shared by both bus implementations.
 *
 * The in-process bus validates and matches subjects exactly as NATS does, so code that works in standalone
 * mode cannot rely on something (a space in a subject, a `>` in the middle) that NATS would reject.
 */
import type { QueueSpec } from "./types.ts";

/** The same rule as the BUS_PREFIX setting (src/core/config.ts): it becomes part of subjects and stream names. */
export const PREFIX_RE = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;
const QUEUE_RE = /^[a-z0-9_-]+$/;
/** A NATS subject token: non-empty, no whitespace, no dot, no wildcard characters. */
const TOKEN_RE = /^[^\s.*>]+$/;
/** NATS KV key rule, minus the dot (a dot would make a presence id span several subject tokens). */
const PRESENCE_ID_RE = /^[-/=\w]+$/;

export function assertPrefix(prefix: string): void {
  if (!PREFIX_RE.test(prefix)) {
    throw new Error(`invalid bus prefix ${JSON.stringify(prefix)}: must be 1-32 letters, digits, _ or -, starting with a letter`);
  }
}

export function assertQueueName(name: string): void {
  if (!QUEUE_RE.test(name)) throw new Error(`invalid queue name ${JSON.stringify(name)}: must match [a-z0-9_-]+`);
}

export function assertQueueSpec(spec: QueueSpec): void {
  assertQueueName(spec.name);
  if (!Number.isInteger(spec.ackWaitMs) || spec.ackWaitMs < 1) throw new Error(`queue ${spec.name}: ackWaitMs must be a positive integer`);
  if (!Number.isInteger(spec.maxDeliver) || spec.maxDeliver < 1) throw new Error(`queue ${spec.name}: maxDeliver must be a positive integer`);
}

export function assertPresenceId(id: string): void {
  if (!PRESENCE_ID_RE.test(id)) {
    throw new Error(`invalid presence id ${JSON.stringify(id)}: use letters, digits, _, -, = or /`);
  }
}

/** A subject to publish or send a request to: dot-separated tokens, no wildcards. */
export function assertSubject(subject: string): void {
  if (!subject.split(".").every((t) => TOKEN_RE.test(t))) {
    throw new Error(`invalid subject ${JSON.stringify(subject)}: dot-separated non-empty tokens, no spaces or wildcards`);
  }
}

/** A subject to listen on: like a subject, but a token may be `*`, and the last token may be `>`. */
export function assertPattern(pattern: string): void {
  const tokens = pattern.split(".");
  const ok = tokens.every((t, i) => TOKEN_RE.test(t) || t === "*" || (t === ">" && i === tokens.length - 1));
  if (!ok) {
    throw new Error(`invalid subject pattern ${JSON.stringify(pattern)}: tokens may be "*", and only the last may be ">"`);
  }
}

/**
 * Job progress for GET /v1/events (fan-out): published by the kernel that handled a task's progress report,
 * received by every kernel's event hub. Not stored: the next update supersedes it (src/kernel/events/).
 */
export const JOB_PROGRESS_SUBJECT = "events.progress";

/** NATS matching: `*` matches exactly one token, a trailing `>` matches one or more tokens. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    const token = p[i];
    if (token === ">") return s.length > i;
    if (i >= s.length) return false;
    if (token !== "*" && token !== s[i]) return false;
  }
  return p.length === s.length;
}

/** Where each kind of traffic lives in NATS for one prefix (several installations can share one server). */
export function natsNames(prefix: string) {
  assertPrefix(prefix);
  return {
    queueStream: `${prefix}_QUEUES`,
    queueSubject: (queue: string) => `${prefix}.q.${queue}`,
    queueWildcard: `${prefix}.q.>`,
    queueConsumer: (queue: string) => `q-${queue}`,
    event: (subject: string) => `${prefix}.ev.${subject}`,
    eventPrefix: `${prefix}.ev.`,
    rpc: (subject: string) => `${prefix}.rpc.${subject}`,
    /** Every responder of a prefix joins this queue group, so exactly one of them answers a request. */
    rpcQueueGroup: `${prefix}-responders`,
    presenceBucket: `${prefix}_presence`,
    auditStream: `${prefix}_AUDIT`,
    auditSubject: (action: string) => `${prefix}.audit.${action}`,
    auditWildcard: `${prefix}.audit.>`,
  };
}

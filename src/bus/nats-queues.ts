/**
 * The queues' JetStream layout: one WorkQueue stream `<prefix>_QUEUES` on `<prefix>.q.>` and one durable
 * pull consumer `q-<name>` per queue (a WorkQueue stream refuses overlapping consumers, so one consumer
 * per pool). Setup is idempotent and brings an existing stream or consumer to the configured settings.
 */
import { AckPolicy, type JetStreamManager, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { DUPLICATE_WINDOW_MS } from "./common.ts";
import type { natsNames } from "./subjects.ts";
import type { QueueSpec } from "./types.ts";

type Names = ReturnType<typeof natsNames>;

export async function ensureQueueStream(jsm: JetStreamManager, names: Names): Promise<void> {
  const { queueStream: name, queueWildcard } = names;
  const duplicate_window = nanos(DUPLICATE_WINDOW_MS);
  const info = await jsm.streams.info(name).catch(ifMissing(JetStreamApiCodes.StreamNotFound));
  if (!info) {
    try {
      await jsm.streams.add({
        name,
        subjects: [queueWildcard],
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
        duplicate_window,
      });
      return;
    } catch (e) {
      // Another process may have created it at the same moment; then it exists and all is well.
      if (!(await jsm.streams.info(name).catch(() => null))) throw e;
      return;
    }
  }
  const c = info.config;
  if (c.duplicate_window !== duplicate_window || c.subjects.length !== 1 || c.subjects[0] !== queueWildcard) {
    await jsm.streams.update(name, { ...c, subjects: [queueWildcard], duplicate_window });
  }
}

export async function ensureQueueConsumer(jsm: JetStreamManager, names: Names, spec: QueueSpec): Promise<void> {
  const stream = names.queueStream;
  const durable = names.queueConsumer(spec.name);
  const ack_wait = nanos(spec.ackWaitMs);
  const info = await jsm.consumers.info(stream, durable).catch(ifMissing(JetStreamApiCodes.ConsumerNotFound));
  if (!info) {
    await jsm.consumers.add(stream, {
      durable_name: durable,
      filter_subject: names.queueSubject(spec.name),
      ack_policy: AckPolicy.Explicit,
      ack_wait,
      max_deliver: spec.maxDeliver,
    });
  } else if (info.config.ack_wait !== ack_wait || info.config.max_deliver !== spec.maxDeliver) {
    await jsm.consumers.update(stream, durable, { ack_wait, max_deliver: spec.maxDeliver });
  }
}

/** For `.catch()` on an info lookup: "not found" becomes null, anything else is rethrown. */
function ifMissing(code: number) {
  return (e: unknown): null => {
    if (e instanceof JetStreamApiError && e.code === code) return null;
    throw e;
  };
}

/** The audit stream: a limits stream on `<prefix>.audit.>` whose entries expire after `maxAgeMs`. */
export async function ensureAuditStream(jsm: JetStreamManager, names: Names, maxAgeMs: number): Promise<void> {
  const { auditStream: name, auditWildcard } = names;
  const max_age = nanos(maxAgeMs);
  const info = await jsm.streams.info(name).catch(ifMissing(JetStreamApiCodes.StreamNotFound));
  if (!info) {
    try {
      await jsm.streams.add({ name, subjects: [auditWildcard], retention: RetentionPolicy.Limits, storage: StorageType.File, max_age });
    } catch (e) {
      if (!(await jsm.streams.info(name).catch(() => null))) throw e;
    }
    return;
  }
  if (info.config.max_age !== max_age) await jsm.streams.update(name, { ...info.config, max_age });
}

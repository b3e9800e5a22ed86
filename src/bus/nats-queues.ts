/**
 * The queues' JetStream layout: one WorkQueue stream `<prefix>_QUEUES` on `<prefix>.q.>` and one durable
 * pull consumer `q-<name>` per queue (a WorkQueue stream refuses overlapping consumers, so one consumer
 * per pool). Setup is idempotent and brings an existing stream or consumer to the configured settings.
 */
import { AckPolicy, type JetStreamManager, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, type StreamConfig } from "@nats-io/jetstream";
import { errorMessage } from "../core/errors.ts";
import { nanos } from "@nats-io/transport-node";
import { DUPLICATE_WINDOW_MS } from "./common.ts";
import type { natsNames } from "./subjects.ts";
import type { QueueSpec } from "./types.ts";

type Names = ReturnType<typeof natsNames>;

/**
 * Stream replicas (BUS_REPLICAS): undefined creates streams with one replica and leaves existing ones as they
 * are, so a process without the setting never undoes what an operator configured on another.
 */
export type Replicas = number | undefined;

/** Brings a stream's replica count to `replicas` (when set), with a message that says what to do when the server cannot. */
export async function applyReplicas(jsm: JetStreamManager, config: StreamConfig, replicas: Replicas): Promise<void> {
  if (replicas === undefined || config.num_replicas === replicas) return;
  try {
    await jsm.streams.update(config.name, { ...config, num_replicas: replicas });
  } catch (error) {
    throw new Error(replicasProblem(config.name, replicas, errorMessage(error)), { cause: error });
  }
}

/** The operator's message when JetStream refuses a replica count. Pure. */
export function replicasProblem(stream: string, replicas: number, serverMessage: string): string {
  return `cannot set ${replicas} replicas on JetStream stream ${stream} (${serverMessage}): BUS_REPLICAS=${replicas} needs a NATS cluster with JetStream on at least ${replicas} servers (docs/ha.md); use BUS_REPLICAS=1 on a single server`;
}

export async function ensureQueueStream(jsm: JetStreamManager, names: Names, replicas?: Replicas): Promise<void> {
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
        num_replicas: replicas ?? 1,
      });
      return;
    } catch (e) {
      // Another process may have created it at the same moment; then it exists and all is well.
      if (!(await jsm.streams.info(name).catch(() => null))) throw new Error(replicas && replicas > 1 ? replicasProblem(name, replicas, errorMessage(e)) : errorMessage(e), { cause: e });
      return;
    }
  }
  let c = info.config;
  if (c.duplicate_window !== duplicate_window || c.subjects.length !== 1 || c.subjects[0] !== queueWildcard) {
    c = (await jsm.streams.update(name, { ...c, subjects: [queueWildcard], duplicate_window })).config;
  }
  await applyReplicas(jsm, c, replicas);
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
export async function ensureAuditStream(jsm: JetStreamManager, names: Names, maxAgeMs: number, replicas?: Replicas): Promise<void> {
  const { auditStream: name, auditWildcard } = names;
  const max_age = nanos(maxAgeMs);
  const info = await jsm.streams.info(name).catch(ifMissing(JetStreamApiCodes.StreamNotFound));
  if (!info) {
    try {
      await jsm.streams.add({ name, subjects: [auditWildcard], retention: RetentionPolicy.Limits, storage: StorageType.File, max_age, num_replicas: replicas ?? 1 });
    } catch (e) {
      if (!(await jsm.streams.info(name).catch(() => null))) throw new Error(replicas && replicas > 1 ? replicasProblem(name, replicas, errorMessage(e)) : errorMessage(e), { cause: e });
    }
    return;
  }
  let config = info.config;
  if (config.max_age !== max_age) config = (await jsm.streams.update(name, { ...config, max_age })).config;
  await applyReplicas(jsm, config, replicas);
}

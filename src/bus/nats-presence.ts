/** The presence registry on NATS: a KV bucket whose TTL expires the entries that are not refreshed. */
import type { JetStreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { type NatsConnection, nanos } from "@nats-io/transport-node";
import { DUPLICATE_WINDOW_MS, toJson } from "./common.ts";
import { errorMessage } from "../core/errors.ts";
import { applyReplicas, type Replicas, replicasProblem } from "./nats-queues.ts";
import { assertPresenceId } from "./subjects.ts";
import type { PresenceEntry, PresenceRegistry } from "./types.ts";

export class NatsPresence implements PresenceRegistry {
  private kv: KV | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly bucket: string,
    private readonly ttlMs: number,
    /** BUS_REPLICAS (nats-queues.ts `Replicas`): the bucket's stream replicas. */
    private readonly replicas?: Replicas,
  ) {}

  async init(): Promise<void> {
    let kv: KV;
    try {
      kv = await new Kvm(this.nc).create(this.bucket, { ttl: this.ttlMs, history: 1, replicas: this.replicas ?? 1 });
    } catch (error) {
      if (this.replicas && this.replicas > 1) throw new Error(replicasProblem(`KV_${this.bucket}`, this.replicas, errorMessage(error)), { cause: error });
      throw error;
    }
    // create() opens an existing bucket as it is: apply a changed TTL (PRESENCE_TTL) and replica count to it.
    const stream = `KV_${this.bucket}`;
    let config = (await this.jsm.streams.info(stream)).config;
    if (config.max_age !== nanos(this.ttlMs)) {
      config = (await this.jsm.streams.update(stream, { ...config, max_age: nanos(this.ttlMs), duplicate_window: nanos(Math.min(this.ttlMs, DUPLICATE_WINDOW_MS)) })).config;
    }
    await applyReplicas(this.jsm, config, this.replicas);
    this.kv = kv;
  }

  async put(id: string, info: unknown): Promise<void> {
    assertPresenceId(id);
    await this.store().put(id, toJson(info));
  }

  async remove(id: string): Promise<void> {
    assertPresenceId(id);
    await this.store().purge(id);
  }

  async list<T = unknown>(): Promise<PresenceEntry<T>[]> {
    const kv = this.store();
    const live: PresenceEntry<T>[] = [];
    const now = Date.now();
    // Keys from the stream's subject list, not kv.keys(): keys() counts pending entries first and then waits
    // for all of them, so an entry that expires (TTL) in between makes it wait forever.
    const prefix = `$KV.${this.bucket}.`;
    const info = await this.jsm.streams.info(`KV_${this.bucket}`, { subjects_filter: `${prefix}>` });
    const keys = Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(prefix.length));
    for (const key of keys.sort()) {
      const e = await kv.get(key);
      // The server purges expired entries lazily: judge the age here too.
      if (!e || e.operation !== "PUT" || now - e.created.getTime() >= this.ttlMs) continue;
      live.push({ id: key, info: e.json<T>(), updatedAt: e.created });
    }
    return live;
  }

  private store(): KV {
    if (!this.kv) throw new Error("presence registry is not initialised");
    return this.kv;
  }
}

/**
 * What each role may do on NATS, as nats-server allow-lists (docs/security.md "NATS permissions per role").
 *
 * Kernels own an installation's prefix: its subjects, its streams and KV bucket, its inboxes. Workers get
 * exactly what a worker does and nothing else, so a compromised worker host cannot append to the audit
 * stream, answer (or listen to) kernel RPCs, pull the kernels' results consumer, publish work, or create,
 * change or delete streams and consumers. Workers never create anything: a kernel sets up the streams,
 * consumers and the presence bucket; a worker only looks them up.
 *
 * Each role uses its own reply inbox (`_INBOX.<prefix>.<role>`, natsInboxPrefix): with the default `_INBOX`
 * a worker would need `_INBOX.>`, and could then read every reply on the server — the kernels' JetStream
 * API answers and the result messages delivered to their pulls included.
 *
 * The lists are derived from the same names the code uses (natsNames, the queue layout, the subjects of
 * core/messages.ts): when a worker starts using a new subject, it belongs here, and
 * test/integration/nats-permissions.test.ts runs a real job under these lists.
 */
import { PermissionViolationError } from "@nats-io/transport-node";
import { CLAIM_SUBJECT, JOB_CANCEL_EVENT, PLUGIN_CHANGED, PLUGIN_SETTINGS_SUBJECT, TASK_CANCEL_EVENT, WORKER_DRAIN_EVENT } from "../core/messages.ts";
import { RESULTS_QUEUE, WORK_POOLS, workQueue } from "../core/topology.ts";
import { queueSpecs } from "./queues.ts";
import { natsNames } from "./subjects.ts";

export type NatsRole = "kernel" | "worker";

export interface NatsPermissionSet {
  publish: string[];
  subscribe: string[];
}

export type NatsPermissions = Record<NatsRole, NatsPermissionSet>;

/** Requests a worker sends to kernels (bus.request). */
export const WORKER_REQUESTS = [CLAIM_SUBJECT, PLUGIN_SETTINGS_SUBJECT] as const;
/** Events a worker listens to (bus.subscribe). */
export const WORKER_EVENTS = [PLUGIN_CHANGED, WORKER_DRAIN_EVENT, JOB_CANCEL_EVENT, TASK_CANCEL_EVENT] as const;

/** Where a role's request replies (core and JetStream API) arrive: the client's `inboxPrefix`. */
export function natsInboxPrefix(prefix: string, role: NatsRole): string {
  natsNames(prefix); // validates the prefix
  return `_INBOX.${prefix}.${role}`;
}

export function natsPermissions(prefix: string): NatsPermissions {
  const n = natsNames(prefix);
  const api = "$JS.API";
  const kvStream = `KV_${n.presenceBucket}`;
  const streams = [n.queueStream, n.auditStream, kvStream];
  const workConsumers = WORK_POOLS.map((p) => n.queueConsumer(workQueue(p)));

  const kernel: NatsPermissionSet = {
    publish: [
      `${prefix}.>`,
      `${api}.INFO`,
      // Stream and consumer administration, lookups and pulls — on this prefix's streams only.
      ...streams.flatMap((stream) => [
        `${api}.STREAM.*.${stream}`, // CREATE, UPDATE, INFO, DELETE, PURGE
        `${api}.STREAM.*.*.${stream}`, // MSG.GET, MSG.DELETE
        `${api}.CONSUMER.*.${stream}`, // CREATE (old form), NAMES, LIST
        `${api}.CONSUMER.*.${stream}.>`, // CREATE, INFO, DELETE
        `${api}.CONSUMER.*.*.${stream}.>`, // MSG.NEXT, DURABLE.CREATE
        `$JS.ACK.${stream}.>`,
      ]),
      `${api}.DIRECT.GET.${kvStream}`,
      `${api}.DIRECT.GET.${kvStream}.>`,
      `$KV.${n.presenceBucket}.>`,
      // Replies to workers' and other kernels' requests.
      `_INBOX.${prefix}.>`,
    ],
    subscribe: [`${prefix}.>`, `${natsInboxPrefix(prefix, "kernel")}.>`],
  };

  const worker: NatsPermissionSet = {
    publish: [
      // Connecting (JetStream account info) and looking the kernel-made layout up: lookups only.
      `${api}.INFO`,
      `${api}.STREAM.INFO.${n.queueStream}`,
      `${api}.STREAM.INFO.${kvStream}`,
      ...queueSpecs().map((q) => `${api}.CONSUMER.INFO.${n.queueStream}.${n.queueConsumer(q.name)}`),
      // Pulling and settling work deliveries — never the results consumer.
      ...workConsumers.flatMap((c) => [`${api}.CONSUMER.MSG.NEXT.${n.queueStream}.${c}`, `$JS.ACK.${n.queueStream}.${c}.>`]),
      // Progress and outcomes.
      n.queueSubject(RESULTS_QUEUE),
      // Its presence entry (put, purge on stop).
      `$KV.${n.presenceBucket}.>`,
      ...WORKER_REQUESTS.map((s) => n.rpc(s)),
    ],
    subscribe: [`${natsInboxPrefix(prefix, "worker")}.>`, ...WORKER_EVENTS.map((s) => n.event(s))],
  };
  return { kernel, worker };
}

/**
 * What to do when the server refused something during setup (undefined for any other error). The usual
 * cause is a worker started before any kernel created the streams, or one whose BUS_PREFIX or BUS_ACK_WAIT
 * differs from the kernels' (it would have to change a consumer): workers' credentials allow neither.
 */
export function permissionHint(failure: unknown): string | undefined {
  for (let c: unknown = failure; c instanceof Error; c = c.cause) {
    if (c instanceof PermissionViolationError) {
      // The error's own message names the subject; say why it happens and what to do.
      return (
        "This NATS user may not do that: a worker's credentials cannot create or change streams and consumers. " +
        "Start a kernel first (it creates them), with the same BUS_PREFIX and BUS_ACK_WAIT as the workers; " +
        "otherwise compare the user's permissions with `bun scripts/nats-permissions.ts --prefix <BUS_PREFIX>` (docs/security.md)"
      );
    }
  }
  return undefined;
}

export interface NatsUser {
  user: string;
  password: string;
}

/**
 * A nats-server `authorization` block with one kernel and one worker user for `prefix`, plus `others` (e.g. a
 * monitoring user) with their own allow-lists or none. Strings are quoted: in nats-server's configuration a
 * bare `$JS…` would be read as a variable reference.
 *
 * `default_permissions` applies to every user listed without permissions of its own (one added later by
 * hand, say): it may not touch this prefix's subjects, streams or its roles' inboxes. nats-server otherwise gives such
 * a user everything — it could ask `<prefix>.rpc.plugins.settings` for the workers' storage credentials.
 */
export function natsAuthorizationBlock(prefix: string, users: Record<NatsRole, NatsUser>, others: Array<NatsUser & { permissions?: NatsPermissionSet }> = []): string {
  const perms = natsPermissions(prefix);
  const q = (s: string) => JSON.stringify(s);
  const list = (subjects: string[], indent: string) => `[\n${subjects.map((s) => `${indent}  ${q(s)}`).join(",\n")}\n${indent}]`;
  const entry = ({ user, password }: NatsUser, p: NatsPermissionSet | undefined) =>
    [
      `    {`,
      `      user: ${q(user)}`,
      `      password: ${q(password)}`,
      ...(p
        ? [`      permissions: {`, `        publish: { allow: ${list(p.publish, "        ")} }`, `        subscribe: { allow: ${list(p.subscribe, "        ")} }`, `      }`]
        : []),
      `    }`,
    ].join("\n");
  // Everything the kernel may publish that belongs to this installation (its streams' APIs included).
  const fencedPublish = perms.kernel.publish.filter((subject) => subject !== "$JS.API.INFO");
  const fencedSubscribe = [`${prefix}.>`, `_INBOX.${prefix}.>`];
  return [
    `# WebEncode NATS users for BUS_PREFIX=${prefix} (generated by scripts/nats-permissions.ts)`,
    `authorization {`,
    `  default_permissions: {`,
    `    publish: { deny: ${list(fencedPublish, "    ")} }`,
    `    subscribe: { deny: ${list(fencedSubscribe, "    ")} }`,
    `  }`,
    `  users = [`,
    [entry(users.kernel, perms.kernel), entry(users.worker, perms.worker), ...others.map((o) => entry(o, o.permissions))].join(",\n"),
    `  ]`,
    `}`,
    ``,
  ].join("\n");
}

/**
 * The plugin SDK: what a plugin author imports.
 *
 * ```ts
 * import * as v from "valibot";
 * import { definePlugin, servePlugin } from "webencode/src/plugin-runtime/sdk.ts";
 * const plugin = definePlugin({
 *   id: "storage-example", pillar: "storage", version: "1.0.0",
 *   config: v.object({ root: v.string() }),
 *   create: ({ config, log }) => ({ async stat({ key }) { … }, … }),
 * });
 * if (import.meta.main) await servePlugin(plugin);
 * ```
 *
 * `servePlugin` speaks the protocol of src/plugin-runtime/protocol.ts on stdin/stdout. It moves `console.*` to
 * stderr first, so a stray `console.log` can never corrupt the protocol stream. Requests are handled
 * concurrently: a health check is answered while a long transcode runs.
 */
import { toJsonSchema } from "@valibot/to-json-schema";
import * as v from "valibot";
import type { CallContext, PillarImpl } from "./pillars.ts";
import {
  CANCEL,
  type ConfigureParams,
  type HealthResult,
  PLUGIN_API_VERSION,
  PROGRESS,
  type Pillar,
  type PluginManifest,
  RPC_APP_ERROR,
  RPC_INVALID_PARAMS,
  RPC_METHOD_NOT_FOUND,
  type RpcErrorObject,
  type RpcId,
  parseFrame,
} from "./protocol.ts";

export interface PluginLog {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface CreateContext<C> {
  config: C;
  /** Only the variables the plugin declared in `env`, as the host passed them. */
  env: Record<string, string>;
  log: PluginLog;
}

export interface PluginDefinition<S extends v.GenericSchema = v.GenericSchema, I extends PillarImpl = PillarImpl> {
  id: string;
  pillar: Pillar;
  version: string;
  /** Defaults to the SDK's PLUGIN_API_VERSION. */
  apiVersion?: string;
  capabilities?: string[];
  /** valibot schema of the configuration object; exported to the host as JSON Schema. */
  config: S;
  secretFields?: string[];
  env?: string[];
  schemes?: string[];
  priority?: number;
  create(ctx: CreateContext<v.InferOutput<S>>): Promise<I> | I;
}

export function definePlugin<S extends v.GenericSchema, I extends PillarImpl>(def: PluginDefinition<S, I>): PluginDefinition<S, I> {
  return def;
}

export function manifestOf(def: PluginDefinition): PluginManifest {
  return {
    id: def.id,
    pillar: def.pillar,
    version: def.version,
    api_version: def.apiVersion ?? PLUGIN_API_VERSION,
    capabilities: def.capabilities ?? [],
    config_schema: toJsonSchema(def.config, { errorMode: "ignore", typeMode: "input" }) as Record<string, unknown>,
    secret_fields: def.secretFields ?? [],
    env: def.env ?? [],
    ...(def.schemes ? { schemes: def.schemes } : {}),
    ...(def.priority !== undefined ? { priority: def.priority } : {}),
  };
}

/** Thrown by plugin code to send a catalogue code to the host (e.g. WE-STO-001 for a missing object). */
export class PluginError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "PluginError";
  }
}

export function toRpcError(error: unknown): RpcErrorObject {
  const err = error as { code?: unknown; message?: unknown; details?: unknown };
  const weCode = typeof err?.code === "string" && /^WE-[A-Z]+-\d{3}$/.test(err.code) ? err.code : undefined;
  const message = typeof err?.message === "string" ? err.message : String(error);
  return {
    code: RPC_APP_ERROR,
    message,
    data: { ...(weCode ? { we_code: weCode } : {}), ...(err?.details && typeof err.details === "object" ? { details: err.details as Record<string, unknown> } : {}) },
  };
}

export interface PluginIo {
  lines: AsyncIterable<string>;
  write(line: string): void;
  log(line: string): void;
  exit(code: number): void;
}

function stdio(): PluginIo {
  return {
    lines: readLines(Bun.stdin.stream()),
    write: (line) => void process.stdout.write(line),
    log: (line) => void process.stderr.write(line),
    exit: (code) => process.exit(code),
  };
}

export async function* readLines(stream: ReadableStream<Uint8Array>): AsyncIterable<string> {
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    buf += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) yield line;
    }
  }
  if (buf.trim()) yield buf.trim();
}

function makeLog(io: PluginIo): PluginLog {
  const emit = (level: string) => (msg: string, fields?: Record<string, unknown>) => io.log(`${JSON.stringify({ level, msg, ...fields })}\n`);
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}

/** Runs the plugin until stdin closes or `shutdown` is called. */
export async function servePlugin(def: PluginDefinition, custom?: PluginIo): Promise<void> {
  const io = custom ?? stdio();
  const log = makeLog(io);
  if (!custom) redirectConsole(log);
  const send = (frame: unknown) => io.write(`${JSON.stringify(frame)}\n`);
  const inflight = new Map<RpcId, AbortController>();
  let impl: PillarImpl | undefined;
  let configuring: Promise<void> = Promise.resolve();

  const closeImpl = async () => {
    const old = impl;
    impl = undefined;
    await old?.close?.();
  };

  const handlers: Record<string, (params: unknown, ctx: CallContext) => Promise<unknown>> = {
    describe: async () => manifestOf(def),
    configure: async (params) => {
      const p = params as ConfigureParams;
      const parsed = v.safeParse(def.config, p?.config ?? {});
      if (!parsed.success) {
        const issues = parsed.issues.map((i) => ({ path: i.path?.map((s) => String(s.key)).join(".") ?? "", message: i.message }));
        throw new PluginError("WE-PLG-003", `invalid configuration for ${def.id}: ${issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ")}`, { issues });
      }
      const env: Record<string, string> = {};
      for (const name of def.env ?? []) if (p.env?.[name] !== undefined) env[name] = p.env[name]!;
      const next = configuring.then(async () => {
        await closeImpl();
        impl = await def.create({ config: parsed.output, env, log });
      });
      configuring = next.catch(() => {});
      await next;
      return { ok: true };
    },
    health: async (): Promise<HealthResult> => {
      await configuring;
      if (!impl) return { status: "degraded", detail: "not configured" };
      return (await impl.health?.()) ?? { status: "ok" };
    },
    shutdown: async () => {
      await closeImpl();
      setTimeout(() => io.exit(0), 10);
      return { ok: true };
    },
  };

  for await (const line of io.lines) {
    const frame = parseFrame(line);
    if (!frame || !("method" in frame)) continue;
    if (!("id" in frame) || frame.id === undefined) {
      if (frame.method === CANCEL) inflight.get((frame.params as { id: RpcId })?.id)?.abort();
      continue;
    }
    const { id, method, params } = frame;
    const ac = new AbortController();
    inflight.set(id, ac);
    const ctx: CallContext = { signal: ac.signal, progress: (data) => send({ jsonrpc: "2.0", method: PROGRESS, params: { id, data } }) };
    void (async () => {
      try {
        const builtin = handlers[method];
        let result: unknown;
        if (builtin) result = await builtin(params, ctx);
        else {
          await configuring;
          if (!impl) throw new PluginError("WE-PLG-002", `${def.id} is not configured yet`);
          const fn = (impl as Record<string, unknown>)[method];
          if (typeof fn !== "function" || method.startsWith("_") || method === "close" || method === "health") {
            send({ jsonrpc: "2.0", id, error: { code: RPC_METHOD_NOT_FOUND, message: `${def.id} has no method ${method}` } });
            return;
          }
          if (params !== undefined && (typeof params !== "object" || params === null)) {
            send({ jsonrpc: "2.0", id, error: { code: RPC_INVALID_PARAMS, message: "params must be an object" } });
            return;
          }
          result = await (fn as (p: unknown, c: CallContext) => Promise<unknown>).call(impl, params ?? {}, ctx);
        }
        send({ jsonrpc: "2.0", id, result: result ?? null });
      } catch (e) {
        send({ jsonrpc: "2.0", id, error: toRpcError(e) });
      } finally {
        inflight.delete(id);
      }
    })();
  }
  // stdin closed: the host is gone (or finished with us). Release resources and leave.
  for (const ac of inflight.values()) ac.abort();
  await closeImpl().catch(() => {});
  io.exit(0);
}

function redirectConsole(log: PluginLog): void {
  console.log = (...a: unknown[]) => log.info(a.map(String).join(" "));
  console.info = console.log;
  console.debug = (...a: unknown[]) => log.debug(a.map(String).join(" "));
  console.warn = (...a: unknown[]) => log.warn(a.map(String).join(" "));
  console.error = (...a: unknown[]) => log.error(a.map(String).join(" "));
}

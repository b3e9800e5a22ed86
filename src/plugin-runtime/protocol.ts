/**
 * The plugin protocol (docs/plugins.md): JSON-RPC 2.0, one JSON object per line, over the plugin's stdin
 * (host → plugin) and stdout (plugin → host). stderr is the plugin's log. Any language can implement it.
 *
 * Lifecycle: the host spawns the plugin with a minimal environment, calls `describe` (the manifest; the host
 * refuses a major API version it does not speak), then `configure` (config + the declared variables), then
 * calls pillar methods and `health` periodically, and `shutdown` at the end. EOF on stdin means the host is
 * gone: the plugin must exit.
 */

/** major.minor. A host speaks one major; minors only add optional things. */
export const PLUGIN_API_VERSION = "1.0";

export const PILLARS = ["auth", "storage", "encoder", "live", "publisher"] as const;
export type Pillar = (typeof PILLARS)[number];
/** The pillars whose plugins run on workers (the rest stay in the kernel); only their settings ever leave the kernel. */
export const WORKER_PILLARS: readonly Pillar[] = ["storage", "encoder"];

export interface PluginManifest {
  id: string;
  pillar: Pillar;
  version: string;
  api_version: string;
  /** Free-form capability names, e.g. ["presigned-urls", "multipart"] or ["probe", "transcode"]. */
  capabilities: string[];
  /** JSON Schema of the configuration object (generated from the plugin's valibot schema). */
  config_schema: Record<string, unknown>;
  /** Config fields that are secrets: write-only through the API, masked in responses. */
  secret_fields: string[];
  /** Environment variables the plugin reads; the host passes these (and only these) in `configure`. */
  env: string[];
  /** Storage only: URL schemes served, e.g. ["file", "fs"] or ["s3"]. */
  schemes?: string[];
  /** Default routing priority within the pillar (higher wins); plugin_configs may override. */
  priority?: number;
}

export interface ConfigureParams {
  config: Record<string, unknown>;
  env: Record<string, string>;
}

export interface HealthResult {
  status: "ok" | "degraded";
  detail?: string;
}

export type RpcId = number;

export interface RpcRequest {
  jsonrpc: "2.0";
  id: RpcId;
  method: string;
  params?: unknown;
}

export interface RpcErrorObject {
  code: number;
  message: string;
  /** `we_code`: a catalogue code (e.g. WE-STO-001) the host rethrows as that AppError. */
  data?: { we_code?: string; details?: Record<string, unknown> };
}

export interface RpcResponse {
  jsonrpc: "2.0";
  id: RpcId;
  result?: unknown;
  error?: RpcErrorObject;
}

export interface RpcNotification {
  jsonrpc: "2.0";
  method: string;
  params?: unknown;
}

/** Host → plugin notification: abandon call `id` (e.g. kill its FFmpeg). */
export const CANCEL = "$/cancel";
/** Plugin → host notification: progress of call `id`. */
export const PROGRESS = "$/progress";

export const RPC_PARSE_ERROR = -32700;
export const RPC_INVALID_REQUEST = -32600;
export const RPC_METHOD_NOT_FOUND = -32601;
export const RPC_INVALID_PARAMS = -32602;
export const RPC_APP_ERROR = -32000;

export function majorOf(version: string): number {
  return Number.parseInt(version.split(".")[0] ?? "", 10);
}

export function isCompatible(pluginApi: string, hostApi = PLUGIN_API_VERSION): boolean {
  return Number.isInteger(majorOf(pluginApi)) && majorOf(pluginApi) === majorOf(hostApi);
}

/** Parses one protocol line; undefined for anything that is not a JSON-RPC 2.0 object (stdout noise). */
export function parseFrame(line: string): RpcRequest | RpcResponse | RpcNotification | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    return o && o.jsonrpc === "2.0" ? (o as never) : undefined;
  } catch {
    return undefined;
  }
}

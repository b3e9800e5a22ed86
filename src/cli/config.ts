/**
 * The client's configuration: named contexts (a server URL and its credential) in
 * `$XDG_CONFIG_HOME/webencode/config.toml` (default `~/.config/webencode/config.toml`), written with mode
 * 0600 because it holds API keys. `WEBENCODE_URL` / `WEBENCODE_API_KEY` override the file, so a CI script
 * needs no file at all.
 *
 * The file is a small TOML subset, read and written here (no TOML library for six lines):
 *
 *   current = "default"
 *
 *   [contexts.default]
 *   url = "http://127.0.0.1:8080"
 *   api_key = "we_…"
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { usageError } from "./errors.ts";

export interface Context {
  url: string;
  api_key?: string;
  /** A password login (auth-basic): the user, and the session tokens `webencode` refreshes by itself. */
  username?: string;
  refresh_token?: string;
  access_token?: string;
  /** When the access token expires (ISO 8601). */
  access_expires_at?: string;
}

export interface ConfigFile {
  current?: string;
  contexts: Record<string, Context>;
}

/** Context names: simple enough to be bare TOML keys. */
export const CONTEXT_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const CONTEXT_FIELDS = ["url", "api_key", "username", "refresh_token", "access_token", "access_expires_at"] as const;

/** Where the file is: `$XDG_CONFIG_HOME/webencode/config.toml`, else under `~/.config`. */
export function configPath(env: Record<string, string | undefined> = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith("/") ? env.XDG_CONFIG_HOME : join(env.HOME ?? homedir(), ".config");
  return join(base, "webencode", "config.toml");
}

/** A TOML basic string's value; JSON's string syntax is a subset of it, and it is all this file writes. */
function parseString(raw: string, where: string): string {
  try {
    const v: unknown = JSON.parse(raw);
    if (typeof v === "string") return v;
  } catch {
    // reported below
  }
  throw new Error(`${where}: expected a "quoted string", got ${raw}`);
}

/** Parses the file's text; throws with the line number on anything it does not understand. */
export function parseConfig(text: string): ConfigFile {
  const out: ConfigFile = { contexts: {} };
  let section: Context | undefined;
  text.split(/\r?\n/).forEach((line, i) => {
    const where = `line ${i + 1}`;
    const s = line.replace(/^\s+|\s+$/g, "");
    if (s === "" || s.startsWith("#")) return;
    const table = /^\[contexts\.(?:"([^"]+)"|([A-Za-z0-9_-]+))\]$/.exec(s);
    if (table) {
      const name = table[1] ?? table[2]!;
      section = out.contexts[name] ??= { url: "" };
      return;
    }
    const kv = /^([A-Za-z_]+)\s*=\s*(".*")\s*(?:#.*)?$/.exec(s);
    if (!kv) throw new Error(`${where}: expected key = "value" or [contexts.NAME], got ${s}`);
    // Both groups are mandatory in the pattern, so a match always has them.
    const key = kv[1]!;
    const raw = kv[2]!;
    const value = parseString(raw, where);
    if (!section) {
      if (key !== "current") throw new Error(`${where}: unknown top-level key ${key} (only current)`);
      out.current = value;
    } else {
      if (!(CONTEXT_FIELDS as readonly string[]).includes(key)) throw new Error(`${where}: unknown key ${key} (${CONTEXT_FIELDS.join(", ")})`);
      section[key as (typeof CONTEXT_FIELDS)[number]] = value;
    }
  });
  for (const [name, c] of Object.entries(out.contexts)) if (!c.url) throw new Error(`context ${name} has no url`);
  return out;
}

/** The file's text for `cfg` (contexts sorted by name, so rewrites are stable). */
export function serializeConfig(cfg: ConfigFile): string {
  const lines = ["# webencode CLI contexts (docs/cli.md). Holds API keys: keep it mode 0600."];
  if (cfg.current) lines.push(`current = ${JSON.stringify(cfg.current)}`);
  for (const name of Object.keys(cfg.contexts).sort()) {
    const c = cfg.contexts[name]!;
    lines.push("", `[contexts.${name}]`);
    for (const f of CONTEXT_FIELDS) if (c[f]) lines.push(`${f} = ${JSON.stringify(c[f])}`);
  }
  return `${lines.join("\n")}\n`;
}

export function readConfig(path: string): ConfigFile {
  if (!existsSync(path)) return { contexts: {} };
  try {
    return parseConfig(readFileSync(path, "utf8"));
  } catch (e) {
    throw usageError(`${path}: ${(e as Error).message}`);
  }
}

/** Writes through a temporary file created 0600, so the key is never readable by others, even briefly. */
export function writeConfig(path: string, cfg: ConfigFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, serializeConfig(cfg), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** What a command talks to: the chosen context, with the environment's overrides applied. */
export interface Target {
  url: string;
  apiKey?: string;
  /** The context's name; undefined when only the environment gave the URL. */
  context?: string;
}

/**
 * The target for a command: `--context`, else the file's `current`; `WEBENCODE_URL` and `WEBENCODE_API_KEY`
 * replace the context's url and key. No URL anywhere is a usage error that says how to get one.
 */
export function resolveTarget(cfg: ConfigFile, env: Record<string, string | undefined>, contextFlag?: string): Target {
  const name = contextFlag ?? cfg.current;
  if (contextFlag && !cfg.contexts[contextFlag]) throw usageError(`no context named ${contextFlag}; see \`webencode login --help\``);
  const ctx = name ? cfg.contexts[name] : undefined;
  const url = env.WEBENCODE_URL || ctx?.url;
  if (!url) throw usageError("no server configured: run `webencode login <URL>` or set WEBENCODE_URL and WEBENCODE_API_KEY");
  return { url: normalizeUrl(url), apiKey: env.WEBENCODE_API_KEY || ctx?.api_key, context: ctx ? name : undefined };
}

/** `http(s)://host[:port][/prefix]` without a trailing slash; anything else is a usage error. */
export function normalizeUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw usageError(`not a URL: ${raw} (expected http://host:port)`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw usageError(`not an http(s) URL: ${raw}`);
  return `${u.origin}${u.pathname.replace(/\/+$/, "")}`;
}


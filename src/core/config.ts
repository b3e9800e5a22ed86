/**
 * Configuration: environment variables (and `.env`), validated once with valibot and frozen.
 *
 * Both executables describe their variables as one valibot object. A bad value stops the process with exit
 * code 2 and a single line that names the variable, what is wrong, and the value that was given — the
 * operator should never have to read a stack trace to fix a typo in an EnvironmentFile.
 */
import { existsSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { hostname } from "node:os";
import * as v from "valibot";
import { parseCidr } from "./outbound-address.ts";

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Parses `KEY=VALUE` lines (comments, `export `, single/double quotes). Pure. */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2]!;
    const quote = value[0];
    // A quoted value may be followed by a comment: KEY="a # b" # note
    const quoted = quote === '"' ? /^"((?:[^"\\]|\\.)*)"\s*(?:#.*)?$/.exec(value) : quote === "'" ? /^'([^']*)'\s*(?:#.*)?$/.exec(value) : null;
    if (quoted) {
      value = quoted[1]!;
      if (quote === '"') value = value.replace(/\\n/g, "\n").replace(/\\"/g, '"');
    } else {
      value = value.replace(/\s+#.*$/, "");
    }
    out[m[1]!] = value;
  }
  return out;
}

/** The process environment with `.env` (or `$ENV_FILE`) underneath: real variables win. */
export function environment(env: Record<string, string | undefined> = process.env): Record<string, string | undefined> {
  const file = env.ENV_FILE ?? ".env";
  // An explicit ENV_FILE that is missing is a mistake; a missing default ./.env is normal.
  if (env.ENV_FILE && !existsSync(env.ENV_FILE)) throw new ConfigError(`invalid configuration: ENV_FILE file ${env.ENV_FILE} does not exist`);
  if (!existsSync(file)) return { ...env };
  return { ...parseDotEnv(readFileSync(file, "utf8")), ...env };
}

// ---- reusable field schemas ---------------------------------------------------------------------------

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses "500ms", "30s", "5m", "1h" or a bare number of seconds into milliseconds. Pure. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNITS[m[2] ?? "s"]!);
}

/** Parses "512", "64KiB", "10MB", "2GiB" into bytes. Pure. */
export function parseBytes(text: string): number | undefined {
  const m = /^(\d+)\s*(B|KB|KiB|MB|MiB|GB|GiB)?$/i.exec(text.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? "B").toLowerCase();
  const mult: Record<string, number> = { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 };
  return Number(m[1]) * mult[unit]!;
}

export const str = (def: string) => v.optional(v.pipe(v.string(), v.trim(), v.minLength(1, "must not be empty")), def);

export const optionalStr = () => v.optional(v.pipe(v.string(), v.trim(), v.minLength(1, "must not be empty")));

/** A whole number from min to max, given as text (the environment's only type). */
const wholeNumber = (min: number, max: number) =>
  v.pipe(
    v.string(),
    v.trim(),
    v.regex(/^\d+$/, `must be a whole number from ${min} to ${max}`),
    v.transform(Number),
    v.minValue(min, `must be a whole number from ${min} to ${max}`),
    v.maxValue(max, `must be a whole number from ${min} to ${max}`),
  );

/** A whole number from min to max, or undefined when unset (for settings whose absence means "leave as is"). */
export const optionalInt = (min: number, max: number) => v.optional(wholeNumber(min, max));

export const int = (def: number, min: number, max: number) => v.optional(wholeNumber(min, max), String(def));

export const bool = (def: boolean) =>
  v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.toLowerCase(),
      v.picklist(["true", "false", "1", "0", "yes", "no", "on", "off"], "must be true or false"),
      v.transform((s) => ["true", "1", "yes", "on"].includes(s)),
    ),
    String(def),
  );

export const duration = (def: string) =>
  v.optional(
    v.pipe(
      v.string(),
      v.transform(parseDuration),
      v.number('must be a duration such as "500ms", "30s", "5m" or "1h"'),
    ),
    def,
  );

export const bytes = (def: string) =>
  v.optional(
    v.pipe(v.string(), v.transform(parseBytes), v.number('must be a size such as "1048576", "64KiB", "10MiB" or "2GiB"')),
    def,
  );

export const url = (schemes: string[]) =>
  v.pipe(
    v.string(),
    v.trim(),
    v.check((value) => {
      try {
        return schemes.includes(new URL(value).protocol.replace(/:$/, ""));
      } catch {
        return false;
      }
    }, `must be a URL starting with ${schemes.map((s) => `${s}://`).join(" or ")}`),
  );

/**
 * Several URLs separated by commas (a NATS cluster: `nats://n1:4222,nats://n2:4222`); each must be valid.
 * A single URL is the one-element case.
 */
export const urlList = (schemes: string[]) =>
  v.pipe(
    v.string(),
    v.trim(),
    v.check(
      (value) => value.split(",").every((part) => urlHasScheme(part.trim(), schemes)),
      `must be a URL starting with ${schemes.map((s) => `${s}://`).join(" or ")}, or several separated by commas (a cluster)`,
    ),
  );

/**
 * A PostgreSQL URL, also with several hosts (`postgres://user@db1:5432,db2:5432/webencode?target_session_attrs=read-write`:
 * the driver tries them in order and keeps the one that accepts writes — failover without a config change).
 */
export const postgresUrl = () =>
  v.pipe(
    v.string(),
    v.trim(),
    v.check(
      (value) => urlHasScheme(firstHostUrl(value), ["postgres", "postgresql"]),
      "must be a URL starting with postgres:// or postgresql:// (several hosts: postgres://user@host1:5432,host2:5432/db?target_session_attrs=read-write)",
    ),
  );

/** `postgres://u@h1:1,h2:2/db` → `postgres://u@h1:1/db`, which `new URL` can parse (it refuses host lists). */
export function firstHostUrl(value: string): string {
  const match = /^([a-z]+:\/\/(?:[^@/]*@)?)([^/?#]*)(.*)$/i.exec(value);
  if (!match) return value;
  const [, head, hosts, rest] = match;
  return `${head}${hosts!.split(",")[0]}${rest}`;
}

function urlHasScheme(value: string, schemes: string[]): boolean {
  try {
    return schemes.includes(new URL(value).protocol.replace(/:$/, ""));
  } catch {
    return false;
  }
}

export const logLevel = () =>
  v.optional(
    v.picklist(["trace", "debug", "info", "warn", "error", "fatal", "silent"], "must be one of trace, debug, info, warn, error, fatal, silent"),
    "info",
  );

/** A bus prefix becomes part of NATS subjects and stream names: keep it to safe characters. */
export const busPrefix = () =>
  v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z][A-Za-z0-9_-]{0,31}$/, "must be 1-32 letters, digits, _ or -, starting with a letter")), "webencode");

/**
 * An address to listen on: an IP literal or a host name (localhost, the machine's name). Whether a name resolves
 * is checked when the server starts (src/core/listen.ts assertListenHost), since resolving is asynchronous.
 */
export const listenHost = () =>
  v.pipe(
    v.string(),
    v.trim(),
    v.check(
      (s) => isIP(s) !== 0 || /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(s),
      "must be an IP address of this machine (0.0.0.0 for all, 127.0.0.1 for this machine only) or a host name such as localhost",
    ),
  );

/**
 * Browser origins (`https://app.example.com`, comma-separated), compared exactly. `*` is refused unless
 * `allowAny` (signed media links may be played from any site; the API never: it takes bearer credentials).
 */
export const originList = (def: string, allowAny = false) =>
  v.optional(
    v.pipe(
      v.string(),
      v.transform((s) => s.split(",").map((o) => o.trim().replace(/\/$/, "")).filter(Boolean)),
      v.check(
        (list) => list.every((o) => (allowAny && o === "*" && list.length === 1) || isOrigin(o)),
        allowAny
          ? "must be * (any site) or a comma-separated list of origins such as https://player.example.com"
          : "must be a comma-separated list of origins such as https://app.example.com (scheme://host[:port]); never * — the API takes credentials, so list each site",
      ),
    ),
    def,
  );

/** scheme://host[:port] and nothing else (what browsers send in Origin). Pure. */
export function isOrigin(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === "http:" || u.protocol === "https:") && u.origin.toLowerCase() === value.toLowerCase();
  } catch {
    return false;
  }
}

/** A comma-separated list of IPv4/IPv6 CIDRs ("10.0.0.0/8, fd00::/8"); a bare address means a single host. */
export const cidrList = () =>
  v.optional(
    v.pipe(
      v.string(),
      v.transform((s) => s.split(",").map((p) => p.trim()).filter(Boolean)),
      v.check((list) => list.every((c) => parseCidr(c) !== null), "must be a comma-separated list of CIDRs such as 10.0.0.0/8,fd00::/8"),
    ),
    "",
  );


/** How a process authenticates to NATS: kernels and workers read the same variables (bus/factory.ts). */
export const natsAuth = () => ({
  NATS_CREDS: optionalStr(),
  NATS_USER: optionalStr(),
  NATS_PASSWORD: optionalStr(),
  NATS_TOKEN: optionalStr(),
  /** CA bundle (PEM) that signed the NATS servers' certificates, for tls:// URLs with a private CA. */
  NATS_CA_FILE: optionalStr(),
  /** Client certificate and key (PEM) when the NATS server requires mutual TLS. */
  NATS_CERT_FILE: optionalStr(),
  NATS_KEY_FILE: optionalStr(),
});

export const defaultWorkerId = () => {
  const h = hostname();
  return h && h !== "localhost" ? h : `worker-${crypto.randomUUID().slice(0, 8)}`;
};

// ---- loading -----------------------------------------------------------------------------------------

type Entries = v.ObjectEntries;

/**
 * Validates the variables named in `entries` and returns a frozen config. Throws `ConfigError` with one
 * line naming the first bad variable. Unknown variables are ignored (the environment holds much else).
 */
export function loadConfig<E extends Entries>(
  entries: E,
  env: Record<string, string | undefined> = environment(),
): Readonly<v.InferOutput<v.ObjectSchema<E, undefined>>> {
  const picked: Record<string, string> = {};
  for (const key of Object.keys(entries)) {
    const value = env[key];
    // An empty assignment (`PORT=`) means "use the default", as it does in most shells' tooling.
    if (value !== undefined && value !== "") picked[key] = value;
  }
  const result = v.safeParse(v.object(entries), picked);
  if (!result.success) {
    const issue = result.issues[0];
    const key = issue.path?.[0]?.key as string | undefined;
    const given = key !== undefined && picked[key] !== undefined ? ` (got ${JSON.stringify(redactIfSecret(key, picked[key]!))})` : "";
    throw new ConfigError(`invalid configuration: ${key ?? "?"} ${issue.message}${given}`);
  }
  return Object.freeze(result.output);
}

function redactIfSecret(key: string, value: string): string {
  if (/SECRET|PASSWORD|TOKEN|KEY|CREDS/i.test(key)) return "***";
  // A password inside a URL; greedy up to the last "@" so a password containing "@" or "/" is not half-shown.
  return value.replace(/\/\/([^:/@]*):.*@/, "//$1:***@");
}

/** Prints the one-line error and exits 2; used by both executables' entry points. */
export function exitOnConfigError(error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  throw error;
}

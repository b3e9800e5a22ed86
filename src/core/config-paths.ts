/**
 * Paths from configuration are made absolute once, when the configuration is loaded. A relative path
 * (`DATA_DIR=./data`, the quick start's default) means "relative to where the process was started"; passed on
 * as is, it would be read relative to something else by whoever receives it — FFmpeg resolves the entries of a
 * concat list from the list's own folder, a plugin subprocess may run elsewhere — so it never leaves the config
 * module relative.
 */
import { isAbsolute, resolve } from "node:path";

/** `config` with each of `keys` that is set resolved against `cwd`. Pure. */
export function absolutePaths<C extends Record<string, unknown>, K extends keyof C>(config: C, keys: readonly K[], cwd: string): C {
  const out = { ...config };
  for (const key of keys) {
    const value = out[key];
    if (typeof value === "string" && !isAbsolute(value)) out[key] = resolve(cwd, value) as C[K];
  }
  return out;
}

/** The NATS credential and certificate files both executables read (natsAuth in config.ts). */
export const NATS_FILE_KEYS = ["NATS_CREDS", "NATS_CA_FILE", "NATS_CERT_FILE", "NATS_KEY_FILE"] as const;

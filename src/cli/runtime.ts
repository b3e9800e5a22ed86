/**
 * What every command needs, from the root command's options and the environment: the config file's path,
 * the target server (context + overrides), a client for it, and the output mode.
 */
import type { Command } from "commander";
import { ApiClient } from "./client.ts";
import { configPath, readConfig, resolveTarget } from "./config.ts";
import { type OutputMode, outputMode } from "./output.ts";
import { sessionAuthorizer } from "./session.ts";

export interface GlobalFlags {
  context?: string;
  json?: boolean;
}

export interface Runtime {
  flags: GlobalFlags;
  configPath: string;
  output: OutputMode;
  /** A client for the chosen context; a usage error (exit 2) when none is configured. */
  client(): ApiClient;
}

export function runtimeOf(cmd: Command): Runtime {
  const flags = cmd.optsWithGlobals<GlobalFlags>();
  const path = configPath();
  return {
    flags,
    configPath: path,
    output: outputMode(flags),
    client: () => {
      const cfg = readConfig(path);
      const target = resolveTarget(cfg, process.env, flags.context);
      const ctx = target.context ? cfg.contexts[target.context] : undefined;
      return new ApiClient(target, target.context && ctx?.refresh_token ? sessionAuthorizer(path, target.context) : undefined);
    },
  };
}

/**
 * `webencode-kernel`: the REST API and orchestrator. Subcommands: `migrate`, `migrate status`, `admin create-key`.
 * Exit codes: 0 ok, 1 failure (logged), 2 invalid configuration (one line on stderr), 3 a port cannot be opened
 * (PORT taken: src/core/listen.ts).
 */
import { EXIT_FAILURE, handleCommonFlags, onShutdownSignal } from "../core/cli.ts";
import { ConfigError, exitOnConfigError } from "../core/config.ts";
import { ListenError } from "../core/listen.ts";
import { errorMessage } from "../core/errors.ts";
import { createLogger } from "../core/logger.ts";
import { runPluginIfRequested } from "../plugin-runtime/entry.ts";
import { assertSecretKey, loadKernelConfig } from "./config.ts";
import { migrateCommand } from "./migrate-command.ts";
import { adminCommand } from "./admin-command.ts";
import { pluginsCommand } from "./plugins-command.ts";
import { installProcessGuard } from "../core/process-guard.ts";
import { type KernelHandle, startKernel } from "./start.ts";

const HELP = `webencode-kernel — WebEncode API and orchestrator

Usage:
  webencode-kernel                 start the kernel (standalone when DATABASE_URL and NATS_URL are unset)
  webencode-kernel migrate         apply pending database migrations and exit
  webencode-kernel migrate status  list applied and pending migrations
  webencode-kernel admin create-key [--name N] [--role viewer|operator|admin] [--expires-days D]
                                   create an API key (printed once, saved in DATA_DIR with mode 0600)
  webencode-kernel admin reencrypt-secrets
                                   rewrite stored secrets with SECRET_KEY (after a key rotation)
  webencode-kernel admin backup [--output FILE]
                                   pg_dump of DATABASE_URL, or the stopped standalone kernel's DATA_DIR (docs/ha.md)
  webencode-kernel admin restore FILE [--force]
                                   pg_restore into DATABASE_URL, or unpack into an empty DATA_DIR
  webencode-kernel plugins list    plugins and whether they are enabled (from the database)
  webencode-kernel plugins enable <id>
                                   enable a plugin in the database (recovery, e.g. a disabled encoder)
  webencode-kernel --version       print the version
  webencode-kernel --help          this text

Configuration comes from environment variables and ./.env (see the README's configuration table):
  DATABASE_URL, NATS_URL, DATA_DIR, PLUGIN_DIR, PORT, HOST, LOG_LEVEL, BUS_PREFIX, MIGRATE_ON_START, …
`;

async function main(argv: string[]): Promise<void> {
  if (await runPluginIfRequested(argv)) return;
  if (handleCommonFlags("webencode-kernel", argv, HELP)) return;
  let config;
  try {
    config = loadKernelConfig();
  } catch (e) {
    exitOnConfigError(e);
  }
  const logger = createLogger("kernel", config.LOG_LEVEL);

  if (argv[0] === "migrate") {
    process.exitCode = await migrateCommand(config, logger, argv.slice(1));
    return;
  }
  if (argv[0] === "admin") {
    process.exitCode = await adminCommand(config, logger, argv.slice(1));
    return;
  }
  if (argv[0] === "plugins") {
    process.exitCode = await pluginsCommand(config, logger, argv.slice(1));
    return;
  }
  if (argv.length > 0) {
    process.stderr.write(`unknown command: ${argv.join(" ")}\n\n${HELP}`);
    process.exit(2);
  }

  try {
    assertSecretKey(config);
  } catch (e) {
    exitOnConfigError(e);
  }
  let handle: KernelHandle | undefined;
  // Errors that escape every handler: fatal while starting, logged and survived once serving (process-guard.ts).
  const guard = installProcessGuard(logger, { service: "kernel", onEscaped: () => handle?.ctx.metrics.errors.inc({ source: "process", code: "WE-SYS-001" }) });
  const starting = startKernel(config, logger);
  // Signals are handled from the start: the port already answers while the rest (embedded worker, plugins)
  // is still starting, and a SIGTERM in that window must stop the kernel cleanly (exit 0), not kill it.
  // If the start fails, the handler's promise rejects and the process exits 1.
  onShutdownSignal(
    async (signal) => {
      guard.setPhase("stopping");
      logger.info({ signal }, "shutting down: draining requests and consumers");
      await (await starting).stop();
    },
    () => {
      logger.warn("second signal: exiting now");
      process.exit(EXIT_FAILURE);
    },
  );
  try {
    handle = await starting;
    guard.setPhase("serving");
  } catch (e) {
    // Found only while starting (HOST does not resolve): still a configuration error, exit 2 with one line.
    if (e instanceof ConfigError) exitOnConfigError(e);
    logger.fatal({ error: errorMessage(e) }, `kernel failed to start: ${errorMessage(e)}`);
    process.exit(e instanceof ListenError ? e.exitCode : EXIT_FAILURE);
  }
}

await main(process.argv.slice(2));

/**
 * Every server the executables open (kernel API, worker metrics, any later one) binds through `listen()`.
 *
 * Why one helper: Elysia's `listen` (and any Bun.serve given `reusePort: true`) sets SO_REUSEPORT, so a second
 * kernel on a taken port logged "listening" and the operating system split connections between two unrelated
 * installations. Here port reuse is always off, and a bind failure becomes a `ListenError` whose one-line
 * message names the variable and the port; the executables exit with `EXIT_PORT_UNAVAILABLE` on it (README).
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { ConfigError } from "./config.ts";
import { errorMessage } from "./errors.ts";

/** Exit code of an executable that cannot open one of its ports (documented in the README and docs/operations.md). */
export const EXIT_PORT_UNAVAILABLE = 3;

/** Which variables chose the address: named in every error so the operator knows what to change. */
export interface ListenTarget {
  portVariable: string;
  hostVariable: string;
  port: number;
  host: string;
}

export class ListenError extends Error {
  readonly exitCode = EXIT_PORT_UNAVAILABLE;
  constructor(
    message: string,
    readonly target: ListenTarget,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = "ListenError";
  }
}

/** The one-line explanation of a bind failure. Pure. */
export function explainListenFailure(target: ListenTarget, code: string | undefined, detail: string): string {
  const where = `${target.host}:${target.port} (${target.hostVariable}=${target.host}, ${target.portVariable}=${target.port})`;
  switch (code) {
    case "EADDRINUSE":
      return `cannot listen on ${where}: port ${target.port} is already in use by another process (another WebEncode installation?); stop it or set ${target.portVariable} to a free port`;
    case "EACCES":
    case "EPERM":
      return `cannot listen on ${where}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE); set ${target.portVariable} to a port above 1023`;
    case "EADDRNOTAVAIL":
      return `cannot listen on ${where}: ${target.host} is not an address of this machine; set ${target.hostVariable} to one of its addresses, 0.0.0.0 (all) or 127.0.0.1 (this machine only)`;
    default:
      return `cannot listen on ${where}: ${detail}; check ${target.hostVariable} (an IP address of this machine or a name that resolves to one) and ${target.portVariable}`;
  }
}

/**
 * Opens a server with `open` — which must spread the given options into Bun.serve / Elysia's listen so port
 * reuse is off — and turns any bind failure into a ListenError naming the variables.
 */
export function listen<T>(target: ListenTarget, open: (o: { port: number; hostname: string; reusePort: false }) => T): T {
  try {
    return open({ port: target.port, hostname: target.host, reusePort: false });
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    const c = typeof code === "string" ? code : undefined;
    throw new ListenError(explainListenFailure(target, c, errorMessage(e)), target, c);
  }
}

/**
 * HOST must be an IP address or a name that resolves (localhost, the machine's name). Checked before anything
 * is opened: a bad name otherwise surfaces late as `EINVAL … listen`, naming nothing. Throws ConfigError (exit 2).
 */
export async function assertListenHost(variable: string, host: string): Promise<void> {
  if (isIP(host)) return;
  const found = await lookup(host).then(
    (r) => r.address,
    () => undefined,
  );
  if (!found) {
    throw new ConfigError(
      `invalid configuration: ${variable} must be an IP address of this machine (0.0.0.0 for all, 127.0.0.1 for this machine only) or a name that resolves to one, such as localhost (got ${JSON.stringify(host)}, which does not resolve)`,
    );
  }
}

/**
 * Checks, before a slow start (database, migrations, plugins), that the address can be bound: a kernel on a
 * taken port then fails in a moment instead of after its whole start. The real bind (listen) checks again.
 */
export async function assertCanListen(target: ListenTarget): Promise<void> {
  await assertListenHost(target.hostVariable, target.host);
  if (target.port === 0) return;
  const probe = listen(target, (bind) => Bun.serve({ ...bind, fetch: () => new Response(null, { status: 503 }) }));
  await probe.stop(true);
}

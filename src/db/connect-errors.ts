/**
 * What a failed first connection to PostgreSQL means, in words an operator can act on. A bare
 * `connect ECONNREFUSED 127.0.0.1:5433` names neither the database nor the variable to fix.
 */
import { errorMessage } from "../core/errors.ts";
import { hostList } from "./pg-ssl.ts";

export class DatabaseConnectError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DatabaseConnectError";
  }
}

/** Host, port and database of a URL, without credentials. Pure. */
export function describeTarget(url: string): string {
  const hosts = hostList(url);
  if (hosts) return `${hosts.split(",").join(" / ")}${/^[^?#]*?\/\/[^/]*(\/[^?#]+)/.exec(url)?.[1] ?? ""}`;
  try {
    const u = new URL(url);
    return `${u.hostname || "localhost"}:${u.port || "5432"}${u.pathname && u.pathname !== "/" ? u.pathname : ""}`;
  } catch {
    return "the DATABASE_URL address";
  }
}

/** The one-line explanation of a connection failure (keeps the driver's own words at the end). Pure. */
export function explainConnectError(url: string, error: unknown): string {
  const where = `PostgreSQL at ${describeTarget(url)} (DATABASE_URL)`;
  const code = codeOf(error);
  const detail = errorMessage(error);
  const hint = (() => {
    switch (code) {
      case "ECONNREFUSED":
        return "nothing accepts connections there: start PostgreSQL, or correct the host and port in DATABASE_URL";
      case "ENOTFOUND":
      case "EAI_AGAIN":
        return "the host name does not resolve: correct the host in DATABASE_URL";
      case "ETIMEDOUT":
      case "CONNECT_TIMEOUT":
      case "EHOSTUNREACH":
      case "ENETUNREACH":
        return "no answer: check that the host is reachable (firewall, listen_addresses in postgresql.conf) and the port in DATABASE_URL";
      case "3D000":
        return "the database does not exist: create it (createdb) or correct its name in DATABASE_URL";
      case "28000":
      case "28P01":
        return "the server refused the login: check the user and password in DATABASE_URL and pg_hba.conf";
      default:
        return /certificate|ssl|tls/i.test(detail)
          ? "the TLS handshake failed: check sslmode and sslrootcert in DATABASE_URL (docs/security.md)"
          : "check DATABASE_URL (postgres://user:password@host:5432/database) and that PostgreSQL is running";
    }
  })();
  return `cannot connect to ${where}: ${hint} (${detail})`;
}

/** The driver's error code, also when a query builder wrapped the error (`cause`). Pure. */
function codeOf(error: unknown, depth = 0): string {
  const e = error as { code?: unknown; cause?: unknown } | undefined;
  if (typeof e?.code === "string") return e.code;
  return e?.cause !== undefined && depth < 5 ? codeOf(e.cause, depth + 1) : "";
}

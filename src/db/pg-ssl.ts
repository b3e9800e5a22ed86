/**
 * libpq-style TLS parameters in DATABASE_URL. postgres.js understands `sslmode` itself but passes unknown
 * parameters to the server as settings, so `sslrootcert`, `sslcert` and `sslkey` would make the server refuse
 * the connection ("unrecognized configuration parameter"). They are taken out of the URL here and turned
 * into TLS options:
 *   sslmode=verify-full  certificate chain (sslrootcert, else the system CAs) and host name
 *   sslmode=verify-ca    certificate chain only
 *   sslmode=require      encrypted; with sslrootcert it is checked like verify-ca (as libpq does)
 * `sslrootcert=system` means the system CAs. Pure apart from reading the named files.
 */
import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";

export interface PgTarget {
  url: string;
  ssl?: ConnectionOptions;
}

const FILE_PARAMS = ["sslrootcert", "sslcert", "sslkey"] as const;

export function pgTarget(url: string, read: (path: string) => string = (p) => readFileSync(p, "utf8")): PgTarget {
  // A host list (`h1:5432,h2:5432`, failover) is not a URL `new URL` accepts: parse with a stand-in host and
  // put the list back afterwards.
  const hosts = hostList(url);
  let u: URL;
  try {
    u = new URL(hosts ? url.replace(hosts, HOSTS_STAND_IN) : url);
  } catch {
    return { url };
  }
  const unparse = (parsed: URL): string => (hosts ? parsed.toString().replace(HOSTS_STAND_IN, hosts) : parsed.toString());
  const q = u.searchParams;
  if (!FILE_PARAMS.some((p) => q.has(p))) return { url };
  const mode = q.get("sslmode") ?? "verify-full";
  const root = q.get("sslrootcert");
  const cert = q.get("sslcert");
  const key = q.get("sslkey");
  for (const p of [...FILE_PARAMS, "sslmode"]) q.delete(p);
  if (mode === "disable") return { url: unparse(u) };
  const ssl: ConnectionOptions = {};
  try {
    if (root && root !== "system") ssl.ca = read(root);
    if (cert) ssl.cert = read(cert);
    if (key) ssl.key = read(key);
  } catch (e) {
    throw new Error(`DATABASE_URL names a TLS file that cannot be read: ${(e as Error).message}`);
  }
  const verify = mode === "verify-full" || mode === "verify-ca" || root !== null;
  ssl.rejectUnauthorized = verify;
  if (mode !== "verify-full") ssl.checkServerIdentity = () => undefined;
  return { url: unparse(u), ssl };
}

const HOSTS_STAND_IN = "webencode-host-list.invalid";

/** The `host:port,host:port` part of a multi-host URL, or undefined for a single host. Pure. */
export function hostList(url: string): string | undefined {
  const hosts = /^[a-z]+:\/\/(?:[^@/]*@)?([^/?#]*)/i.exec(url)?.[1];
  return hosts?.includes(",") ? hosts : undefined;
}

/**
 * TLS settings for the NATS connection (NATS_CA_FILE, NATS_CERT_FILE/NATS_KEY_FILE, tls:// URLs).
 *
 * The files are read here, up front, so a wrong path fails with the variable's name instead of a bare ENOENT
 * from inside the client. TLS is *required* (never silently plain) when any of the files is set or the URL
 * says tls://: the nats.js client by itself only upgrades when the server offers TLS, and would otherwise fall
 * back to plain text against a server that does not.
 */
import { readFileSync } from "node:fs";
import type { TlsOptions } from "@nats-io/transport-node";
import { errorMessage } from "../core/errors.ts";

export interface NatsTlsSettings {
  NATS_URL?: string;
  NATS_CA_FILE?: string;
  NATS_CERT_FILE?: string;
  NATS_KEY_FILE?: string;
}

/** The client's `tls` option, or undefined when nothing asks for TLS. Throws an Error naming the variable. */
export function natsTlsOptions(settings: NatsTlsSettings): TlsOptions | undefined {
  const wantsTls = (settings.NATS_URL ?? "").split(",").some((u) => u.trim().toLowerCase().startsWith("tls://"));
  if (!wantsTls && !settings.NATS_CA_FILE && !settings.NATS_CERT_FILE && !settings.NATS_KEY_FILE) return undefined;
  if (Boolean(settings.NATS_CERT_FILE) !== Boolean(settings.NATS_KEY_FILE)) {
    throw new Error("NATS Connection Failed: NATS_CERT_FILE and NATS_KEY_FILE must be set together (a client certificate needs its key)");
  }
  const tls: TlsOptions = {};
  if (settings.NATS_CA_FILE) tls.ca = readPem("NATS_CA_FILE", settings.NATS_CA_FILE);
  if (settings.NATS_CERT_FILE) tls.cert = readPem("NATS_CERT_FILE", settings.NATS_CERT_FILE);
  if (settings.NATS_KEY_FILE) tls.key = readPem("NATS_KEY_FILE", settings.NATS_KEY_FILE);
  return tls;
}

function readPem(variable: string, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`NATS Connection Failed: cannot read ${variable} ${path} (${errorMessage(e)})`, { cause: e });
  }
  if (!text.includes("-----BEGIN ")) throw new Error(`NATS Connection Failed: ${variable} ${path} is not a PEM file (expected "-----BEGIN …")`);
  return text;
}

/**
 * A hint for connection errors that look like TLS or credential trouble; undefined otherwise. Pure.
 * `tlsOn`: the connection asked for TLS. A server that demands a client certificate closes the connection
 * after the TLS 1.3 handshake, which the client only reports as a timeout.
 */
export function tlsHint(message: string, tlsOn = false): string | undefined {
  if (/altnames|does not match certificate|ERR_TLS_CERT_ALTNAME/i.test(message)) {
    return "the NATS server's certificate does not name the host in NATS_URL: use a host name or IP from its subjectAltName";
  }
  if (/self[- ]signed|unable to (get|verify)|certificate|CERT_|DEPTH_ZERO/i.test(message)) {
    return "the NATS server's certificate is not trusted: set NATS_CA_FILE to the CA bundle (PEM) that signed it";
  }
  if (/server does not support 'tls'/i.test(message)) {
    return "TLS was requested (tls:// URL or NATS_*_FILE set) but the server does not offer it: start nats-server with --tls or use a nats:// URL";
  }
  if (/Authorization Violation|authentication/i.test(message)) {
    return "the server refused the credentials: check NATS_USER/NATS_PASSWORD, NATS_TOKEN or NATS_CREDS";
  }
  if (tlsOn && /timeout/i.test(message)) {
    return "the TLS connection was set up but the server never answered: if it requires client certificates (mutual TLS), set NATS_CERT_FILE and NATS_KEY_FILE";
  }
  return undefined;
}

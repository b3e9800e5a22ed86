/**
 * HTTPS for the kernel (TLS_CERT_FILE + TLS_KEY_FILE, PEM). The files are read and checked before anything
 * else starts, so a wrong path, a key that does not belong to the certificate, or a file that is not PEM
 * stops the kernel with one line naming the variable — not a TLS library error at the first connection.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError } from "../core/config.ts";
import { errorMessage } from "../core/errors.ts";

export interface KernelTls {
  /** PEM certificate chain (server certificate first) and private key, as given to Bun.serve's `tls`. */
  cert: string;
  key: string;
}

export interface TlsSettings {
  TLS_CERT_FILE?: string;
  TLS_KEY_FILE?: string;
}

/** The `tls` option for Bun.serve, or undefined for plain HTTP. Throws ConfigError naming the variable. */
export function loadKernelTls(config: TlsSettings): KernelTls | undefined {
  if (!config.TLS_CERT_FILE || !config.TLS_KEY_FILE) return undefined;
  const cert = readPem("TLS_CERT_FILE", config.TLS_CERT_FILE);
  const key = readPem("TLS_KEY_FILE", config.TLS_KEY_FILE);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    throw new ConfigError(`invalid configuration: TLS_CERT_FILE ${config.TLS_CERT_FILE} holds no valid PEM certificate (${errorMessage(e)})`);
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (e) {
    throw new ConfigError(`invalid configuration: TLS_KEY_FILE ${config.TLS_KEY_FILE} holds no valid unencrypted PEM private key (${errorMessage(e)})`);
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new ConfigError(`invalid configuration: TLS_KEY_FILE ${config.TLS_KEY_FILE} is not the private key of the certificate in TLS_CERT_FILE ${config.TLS_CERT_FILE}`);
  }
  return { cert, key };
}

function readPem(variable: string, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === "ENOENT" ? "does not exist" : code === "EACCES" ? "is not readable by this process" : errorMessage(e);
    throw new ConfigError(`invalid configuration: ${variable} ${path} ${why}`);
  }
  if (!text.includes("-----BEGIN ")) throw new ConfigError(`invalid configuration: ${variable} ${path} is not a PEM file (expected "-----BEGIN …")`);
  return text;
}

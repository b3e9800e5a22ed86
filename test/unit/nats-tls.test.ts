/** NATS TLS options: when TLS is required, file errors that name the variable, and the hints on failures. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { natsTlsOptions, tlsHint } from "../../src/bus/nats-tls.ts";

const dir = mkdtempSync(join(tmpdir(), "we-nats-tls-"));
const pem = join(dir, "ca.pem");
const notPem = join(dir, "ca.txt");
writeFileSync(pem, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
writeFileSync(notPem, "hello");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("natsTlsOptions", () => {
  test("plain nats:// without files: no TLS option (the client upgrades only if the server asks)", () => {
    expect(natsTlsOptions({ NATS_URL: "nats://a:4222" })).toBeUndefined();
  });

  test("tls:// alone requires TLS with the system CAs", () => {
    expect(natsTlsOptions({ NATS_URL: "nats://a:4222, tls://b:4222" })).toEqual({});
  });

  test("files are read up front and passed as PEM text", () => {
    expect(natsTlsOptions({ NATS_URL: "nats://a:4222", NATS_CA_FILE: pem })).toEqual({ ca: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" });
  });

  test("errors name the variable", () => {
    expect(() => natsTlsOptions({ NATS_CA_FILE: join(dir, "missing.pem") })).toThrow(`cannot read NATS_CA_FILE ${join(dir, "missing.pem")}`);
    expect(() => natsTlsOptions({ NATS_CA_FILE: notPem })).toThrow(`NATS_CA_FILE ${notPem} is not a PEM file`);
    expect(() => natsTlsOptions({ NATS_CERT_FILE: pem })).toThrow("NATS_CERT_FILE and NATS_KEY_FILE must be set together");
  });
});

describe("tlsHint", () => {
  test("names what to set", () => {
    expect(tlsHint("self-signed certificate in certificate chain")).toContain("NATS_CA_FILE");
    expect(tlsHint("unable to verify the first certificate")).toContain("NATS_CA_FILE");
    expect(tlsHint("Hostname/IP does not match certificate's altnames: IP: 10.0.0.1 is not in the cert's list")).toContain("subjectAltName");
    expect(tlsHint("server does not support 'tls'")).toContain("--tls");
    expect(tlsHint("Authorization Violation")).toContain("NATS_USER/NATS_PASSWORD");
    expect(tlsHint("timeout", true)).toContain("NATS_CERT_FILE");
    expect(tlsHint("timeout", false)).toBeUndefined();
    expect(tlsHint("connect ECONNREFUSED 127.0.0.1:4222")).toBeUndefined();
  });
});

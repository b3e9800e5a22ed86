/**
 * Transport security with real certificates (a private CA made with openssl in a temp dir): the kernel over
 * HTTPS, and the bus over TLS to a throwaway nats-server that requires TLS and a user/password (and, for
 * mutual TLS, a client certificate). Every failure must say what to set.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openBus } from "../../src/bus/factory.ts";
import { ConfigError } from "../../src/core/config.ts";
import { createLogger } from "../../src/core/logger.ts";
import { loadKernelTls } from "../../src/kernel/tls.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { startThrowawayPostgres, type ThrowawayPostgres } from "../helpers/cluster.ts";
import { openDatabase } from "../../src/db/client.ts";
import { rowsOf } from "../../src/db/exec.ts";
import { sql } from "drizzle-orm";
import { errorMessage } from "../../src/core/errors.ts";
import { uniquePrefix } from "../helpers/nats.ts";
import { freePort } from "../helpers/proc.ts";
import { waitFor } from "../helpers/wait.ts";

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? "/usr/sbin/nats-server";
const dir = mkdtempSync(join(tmpdir(), "webencode-tls-"));
const f = (name: string) => join(dir, name);
const logger = createLogger("test", "silent");

async function run(argv: string[]): Promise<void> {
  const p = Bun.spawn(argv, { cwd: dir, stdout: "ignore", stderr: "pipe" });
  if ((await p.exited) !== 0) throw new Error(`${argv.join(" ")} failed: ${await new Response(p.stderr).text()}`);
}

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all signed by the CA. */
async function makeCertificates(): Promise<void> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run(["openssl", "req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=WebEncode test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  for (const [name, usage, san] of [["server", "serverAuth", "subjectAltName=IP:127.0.0.1,DNS:localhost"], ["client", "clientAuth", "subjectAltName=DNS:webencode-client"]] as const) {
    writeFileSync(f(`${name}.ext`), `${san}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=${usage}\n`);
    await run(["openssl", "req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`]);
    await run(["openssl", "x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`]);
  }
  // An unrelated key, to prove a mismatched pair is refused.
  await run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", "other.key"]);
}

interface NatsProc {
  port: number;
  stop(): Promise<void>;
}

/** A private nats-server with JetStream: TLS and a user/password (plus client verification for "mtls"), or a token. */
async function startSecureNats(mode: "tls" | "mtls" | "token"): Promise<NatsProc> {
  const port = await freePort();
  const store = mkdtempSync(join(dir, "js-"));
  const args = ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", store];
  if (mode === "token") args.push("--auth", "t0ken-value");
  else args.push("--user", "webencode", "--pass", "s3cret-pass", "--tlscert", f("server.pem"), "--tlskey", f("server.key"));
  if (mode === "tls") args.push("--tls");
  if (mode === "mtls") args.push("--tlsverify", "--tlscacert", f("ca.pem"));
  const proc = Bun.spawn([NATS_SERVER, ...args], { stdout: "ignore", stderr: "ignore" });
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`nats-server ${args.join(" ")} exited with ${proc.exitCode}`);
    return Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then(
      (s) => (s.end(), true),
      () => false,
    );
  }, 10_000, `nats-server with TLS on port ${port}`);
  return {
    port,
    async stop() {
      proc.kill("SIGKILL");
      await proc.exited;
    },
  };
}

let nats: NatsProc;
let mtlsNats: NatsProc;
let tokenNats: NatsProc;

beforeAll(async () => {
  await makeCertificates();
  [nats, mtlsNats, tokenNats] = await Promise.all([startSecureNats("tls"), startSecureNats("mtls"), startSecureNats("token")]);
}, 60_000);
afterAll(async () => {
  await Promise.all([nats?.stop(), mtlsNats?.stop(), tokenNats?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

const base = () => ({ BUS_PREFIX: uniquePrefix(), BUS_ACK_WAIT: 60_000 });
const creds = { NATS_USER: "webencode", NATS_PASSWORD: "s3cret-pass" };

describe("kernel over HTTPS", () => {
  let k: TestKernel;
  beforeAll(async () => {
    k = await startTestKernel({
      env: { TLS_CERT_FILE: f("server.pem"), TLS_KEY_FILE: f("server.key"), NATS_URL: `tls://127.0.0.1:${nats.port}`, NATS_CA_FILE: f("ca.pem"), ...creds },
    });
  }, 60_000);
  afterAll(async () => {
    await k?.stop();
  });

  test("serves HTTPS that verifies against the CA; the bus connected over TLS with credentials", async () => {
    expect(k.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = readFileSync(f("ca.pem"), "utf8");
    const r = await fetch(`${k.url}/v1/system/health`, { tls: { ca } });
    expect(r.status).toBe(200);
    const health = (await r.json()) as { checks: Record<string, { status: string; detail?: string }> };
    expect(health.checks.bus?.status).toBe("ok");
  });

  test("plain HTTP on the same port is not served", async () => {
    const plain = k.url.replace("https://", "http://");
    const outcome = await fetch(`${plain}/v1/health`).then(
      (r) => r.status,
      () => "failed",
    );
    expect(outcome).not.toBe(200);
  });

  test("a client that does not trust the CA is refused", async () => {
    const outcome = await fetch(`${k.url}/v1/health`).then(
      () => "connected",
      (e: Error) => e.message,
    );
    expect(outcome).not.toBe("connected");
  });
});

describe("kernel certificate files", () => {
  test("a missing file is named in the error", () => {
    expect(() => loadKernelTls({ TLS_CERT_FILE: f("nope.pem"), TLS_KEY_FILE: f("server.key") })).toThrow(
      new ConfigError(`invalid configuration: TLS_CERT_FILE ${f("nope.pem")} does not exist`),
    );
  });

  test("a key that is not the certificate's is refused", () => {
    expect(() => loadKernelTls({ TLS_CERT_FILE: f("server.pem"), TLS_KEY_FILE: f("other.key") })).toThrow(/TLS_KEY_FILE .* is not the private key of the certificate in TLS_CERT_FILE/);
  });

  test("a file that is not PEM is refused", () => {
    expect(() => loadKernelTls({ TLS_CERT_FILE: f("server.ext"), TLS_KEY_FILE: f("server.key") })).toThrow(/TLS_CERT_FILE .* is not a PEM file/);
  });

  test("startKernel stops before opening anything when the files are wrong", async () => {
    const failed = await startTestKernel({ env: { TLS_CERT_FILE: f("server.pem"), TLS_KEY_FILE: f("missing.key") } }).then(
      (k) => (void k.stop(), "started"),
      (e: Error) => e.message,
    );
    expect(failed).toBe(`invalid configuration: TLS_KEY_FILE ${f("missing.key")} does not exist`);
  });
});

describe("bus: TLS and credentials", () => {
  test("connects with NATS_CA_FILE and NATS_USER/NATS_PASSWORD, and JetStream works", async () => {
    const bus = await openBus({ ...base(), NATS_URL: `tls://127.0.0.1:${nats.port}`, NATS_CA_FILE: f("ca.pem"), ...creds }, logger, "tls-test");
    try {
      // openBus already created the JetStream queues (ensureQueues); a round trip proves messages flow.
      expect(bus.health().ok).toBe(true);
      const got: unknown[] = [];
      const unsubscribe = bus.subscribe("tls.check", (data) => void got.push(data));
      await waitFor(async () => {
        await bus.publish("tls.check", { hello: "tls" });
        return got.length > 0;
      }, 10_000, "an event over the TLS connection");
      unsubscribe();
      expect(got[0]).toEqual({ hello: "tls" });
    } finally {
      await bus.close();
    }
  });

  test("without the CA: fails and says to set NATS_CA_FILE", async () => {
    const err = await openBus({ ...base(), NATS_URL: `tls://127.0.0.1:${nats.port}`, ...creds }, logger, "tls-test").then(
      (b) => (void b.close(), "connected"),
      (e: Error) => e.message,
    );
    expect(err).toContain("NATS Connection Failed");
    expect(err).toContain("set NATS_CA_FILE");
  });

  test("without credentials, or with a wrong password: fails and names the variables", async () => {
    for (const auth of [{}, { NATS_USER: "webencode", NATS_PASSWORD: "wrong" }]) {
      const err = await openBus({ ...base(), NATS_URL: `tls://127.0.0.1:${nats.port}`, NATS_CA_FILE: f("ca.pem"), ...auth }, logger, "tls-test").then(
        (b) => (void b.close(), "connected"),
        (e: Error) => e.message,
      );
      expect(err).toContain("NATS Connection Failed");
      expect(err).toContain("NATS_USER/NATS_PASSWORD");
    }
  });

  test("NATS_TOKEN: connects with the token, refused without", async () => {
    const url = `nats://127.0.0.1:${tokenNats.port}`;
    const bus = await openBus({ ...base(), NATS_URL: url, NATS_TOKEN: "t0ken-value" }, logger, "token-test");
    expect(bus.health().ok).toBe(true);
    await bus.close();
    const err = await openBus({ ...base(), NATS_URL: url, NATS_TOKEN: "wrong" }, logger, "token-test").then(
      (b) => (void b.close(), "connected"),
      (e: Error) => e.message,
    );
    expect(err).toContain("NATS_TOKEN");
  });

  test("a tls:// URL never falls back to plain text against a server without TLS", async () => {
    const err = await openBus({ ...base(), NATS_URL: "tls://127.0.0.1:4222" }, logger, "tls-test").then(
      (b) => (void b.close(), "connected"),
      (e: Error) => e.message,
    );
    expect(err).toContain("does not offer it");
  });

  test("an unreadable NATS_CA_FILE is named", async () => {
    const err = await openBus({ ...base(), NATS_URL: `tls://127.0.0.1:${nats.port}`, NATS_CA_FILE: f("missing-ca.pem"), ...creds }, logger, "tls-test").then(
      (b) => (void b.close(), "connected"),
      (e: Error) => e.message,
    );
    expect(err).toContain(`cannot read NATS_CA_FILE ${f("missing-ca.pem")}`);
  });

  test("mutual TLS: connects with NATS_CERT_FILE/NATS_KEY_FILE, refused without", async () => {
    const url = `tls://127.0.0.1:${mtlsNats.port}`;
    const bus = await openBus({ ...base(), NATS_URL: url, NATS_CA_FILE: f("ca.pem"), NATS_CERT_FILE: f("client.pem"), NATS_KEY_FILE: f("client.key"), ...creds }, logger, "mtls-test");
    expect(bus.health().ok).toBe(true);
    await bus.close();
    const err = await openBus({ ...base(), NATS_URL: url, NATS_CA_FILE: f("ca.pem"), ...creds }, logger, "mtls-test").then(
      (b) => (void b.close(), "connected"),
      (e: Error) => e.message,
    );
    expect(err).toContain("NATS Connection Failed");
    expect(err).toContain("set NATS_CERT_FILE and NATS_KEY_FILE");
  }, 60_000);
});

describe("PostgreSQL over TLS (sslmode, sslrootcert in DATABASE_URL)", () => {
  let pg: ThrowawayPostgres;
  beforeAll(async () => {
    pg = await startThrowawayPostgres({ ssl: { certFile: f("server.pem"), keyFile: f("server.key") } });
  }, 90_000);
  afterAll(async () => {
    await pg?.dispose();
  });

  const sslInUse = async (url: string) => {
    const database = await openDatabase({ url, dataDir: "", maxConnections: 1 });
    try {
      const rows = rowsOf<{ ssl: boolean }>(await database.db.execute(sql`select ssl from pg_stat_ssl where pid = pg_backend_pid()`));
      return rows[0]?.ssl;
    } finally {
      await database.close();
    }
  };

  test("verify-full with the private CA: connected, and the session is encrypted", async () => {
    expect(await sslInUse(`${pg.url}?sslmode=verify-full&sslrootcert=${f("ca.pem")}`)).toBe(true);
  });

  test("verify-ca with a CA that did not sign the server certificate is refused", async () => {
    const err = await sslInUse(`${pg.url}?sslmode=verify-ca&sslrootcert=${f("client.pem")}`).then(() => undefined, (e: Error) => e);
    expect(err).toBeDefined();
    expect(errorMessage(err)).toMatch(/certificate|self.signed|issuer/i);
  });

  test("a kernel runs on it (DATABASE_URL with sslrootcert)", async () => {
    const k = await startTestKernel({ env: { DATABASE_URL: `${pg.url}?sslmode=verify-full&sslrootcert=${f("ca.pem")}` } });
    try {
      const r = await k.fetch("/v1/system/health");
      expect(((await r.json()) as { checks: { database: { status: string } } }).checks.database.status).toBe("ok");
    } finally {
      await k.stop();
    }
  });
});

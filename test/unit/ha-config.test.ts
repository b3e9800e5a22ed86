/**
 * Configuration for the HA deployment (docs/ha.md): a NATS cluster's URLs in NATS_URL, a primary and its
 * replicas in DATABASE_URL with target_session_attrs, and what the rest of the code does with such URLs.
 */
import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { firstHostUrl, postgresUrl, urlList } from "../../src/core/config.ts";
import { describeTarget } from "../../src/db/connect-errors.ts";
import { hostList, pgTarget } from "../../src/db/pg-ssl.ts";
import { loadKernelConfig } from "../../src/kernel/config.ts";

const MULTI = "postgres://webencode:pw@db1:5432,db2:5433/webencode?target_session_attrs=read-write";

describe("NATS_URL with several servers", () => {
  const schema = urlList(["nats", "tls"]);
  test("accepts one URL and a comma-separated cluster list", () => {
    expect(v.safeParse(schema, "nats://n1:4222").success).toBe(true);
    expect(v.safeParse(schema, "nats://n1:4222, nats://n2:4223,nats://n3:4224").success).toBe(true);
  });
  test("refuses a list with one bad member, naming the cluster form", () => {
    const result = v.safeParse(schema, "nats://n1:4222,http://n2:4222");
    expect(result.success).toBe(false);
    expect(result.issues?.[0]?.message).toContain("several separated by commas");
  });
});

describe("DATABASE_URL with several hosts", () => {
  test("is accepted; a non-PostgreSQL scheme is not", () => {
    expect(v.safeParse(postgresUrl(), MULTI).success).toBe(true);
    expect(v.safeParse(postgresUrl(), "postgres://db1/webencode").success).toBe(true);
    expect(v.safeParse(postgresUrl(), "mysql://db1,db2/webencode").success).toBe(false);
  });
  test("firstHostUrl and hostList split the host list out", () => {
    expect(firstHostUrl(MULTI)).toBe("postgres://webencode:pw@db1:5432/webencode?target_session_attrs=read-write");
    expect(hostList(MULTI)).toBe("db1:5432,db2:5433");
    expect(hostList("postgres://db1:5432/x")).toBeUndefined();
  });
  test("TLS file parameters are taken out of a multi-host URL and the host list is kept", () => {
    const target = pgTarget(`${MULTI}&sslmode=verify-ca&sslrootcert=/etc/ca.pem`, () => "CA PEM");
    expect(target.url).toBe(MULTI);
    expect(target.ssl?.ca).toBe("CA PEM");
    expect(target.ssl?.rejectUnauthorized).toBe(true);
  });
  test("connection errors name every host, never the password", () => {
    const where = describeTarget(MULTI);
    expect(where).toBe("db1:5432 / db2:5433/webencode");
    expect(where).not.toContain("pw");
  });
  test("the kernel's configuration loads with both lists", () => {
    const config = loadKernelConfig({ DATABASE_URL: MULTI, NATS_URL: "nats://n1:4222,nats://n2:4223", SECRET_KEY: "x".repeat(40) });
    expect(config.DATABASE_URL).toBe(MULTI);
    expect(config.NATS_URL).toBe("nats://n1:4222,nats://n2:4223");
  });
});

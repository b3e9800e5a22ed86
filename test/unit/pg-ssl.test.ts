import { describe, expect, test } from "bun:test";
import { pgTarget } from "../../src/db/pg-ssl.ts";

const read = (p: string) => `PEM(${p})`;

describe("pgTarget: libpq TLS parameters → postgres.js options", () => {
  test("URLs without TLS files are passed through untouched (postgres.js handles sslmode itself)", () => {
    for (const url of ["postgres://u@h/db", "postgres://u@h/db?sslmode=require", "postgres://u@h/db?sslmode=verify-full&application_name=x"]) expect(pgTarget(url, read)).toEqual({ url });
  });

  test("verify-full: CA from sslrootcert, host name checked; the file parameters leave the URL", () => {
    const t = pgTarget("postgres://u:p@db.example:5432/we?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=k", read);
    expect(t.url).toBe("postgres://u:p@db.example:5432/we?application_name=k");
    expect(t.ssl).toEqual({ ca: "PEM(/etc/ca.pem)", rejectUnauthorized: true });
  });

  test("verify-ca and require-with-a-CA check the chain but not the host name; client certificates are loaded", () => {
    const ca = pgTarget("postgres://h/db?sslmode=verify-ca&sslrootcert=/ca&sslcert=/c&sslkey=/k", read).ssl!;
    expect(ca).toMatchObject({ ca: "PEM(/ca)", cert: "PEM(/c)", key: "PEM(/k)", rejectUnauthorized: true });
    expect(ca.checkServerIdentity!("h", {} as never)).toBeUndefined();
    const req = pgTarget("postgres://h/db?sslmode=require&sslrootcert=/ca", read).ssl!;
    expect(req.rejectUnauthorized).toBe(true);
    expect(req.checkServerIdentity).toBeDefined();
  });

  test("sslrootcert=system uses the system CAs; an unreadable file is a clear error; disable drops TLS", () => {
    expect(pgTarget("postgres://h/db?sslmode=verify-full&sslrootcert=system", read).ssl).toEqual({ rejectUnauthorized: true });
    expect(() => pgTarget("postgres://h/db?sslrootcert=/nope.pem")).toThrow(/DATABASE_URL names a TLS file that cannot be read/);
    expect(pgTarget("postgres://h/db?sslmode=disable&sslcert=/c", read)).toEqual({ url: "postgres://h/db" });
  });
});

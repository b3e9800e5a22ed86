/**
 * The one-line explanations of first-run failures (pure): a bind failure names the variables and the fix
 * (src/core/listen.ts), a failed PostgreSQL connection names PostgreSQL, DATABASE_URL and the likely cause
 * (src/db/connect-errors.ts), never the password.
 */
import { describe, expect, test } from "bun:test";
import { EXIT_PORT_UNAVAILABLE, explainListenFailure, ListenError, listen } from "../../src/core/listen.ts";
import { describeTarget, explainConnectError } from "../../src/db/connect-errors.ts";

const target = { portVariable: "PORT", hostVariable: "HOST", port: 8080, host: "0.0.0.0" };

describe("explainListenFailure", () => {
  test.each([
    ["EADDRINUSE", "port 8080 is already in use", "set PORT to a free port"],
    ["EACCES", "permission denied", "set PORT to a port above 1023"],
    ["EADDRNOTAVAIL", "0.0.0.0 is not an address of this machine", "set HOST to one of its addresses"],
    ["EINVAL", "invalid argument", "check HOST"],
  ])("%s", (code, says, fix) => {
    const m = explainListenFailure(target, code, "invalid argument");
    expect(m).toStartWith("cannot listen on 0.0.0.0:8080 (HOST=0.0.0.0, PORT=8080): ");
    expect(m).toContain(says);
    expect(m).toContain(fix);
    expect(m).not.toContain("\n");
  });

  test("listen() turns a throw into a ListenError with exit code 3 and always asks for no port reuse", () => {
    let asked: unknown;
    const e = (() => {
      try {
        listen({ ...target, portVariable: "WORKER_METRICS_PORT", hostVariable: "WORKER_METRICS_HOST" }, (o) => {
          asked = o;
          throw Object.assign(new Error("Failed to start server. Is port 8080 in use?"), { code: "EADDRINUSE" });
        });
      } catch (err) {
        return err;
      }
    })();
    expect(asked).toEqual({ port: 8080, hostname: "0.0.0.0", reusePort: false });
    expect(e).toBeInstanceOf(ListenError);
    expect((e as ListenError).exitCode).toBe(EXIT_PORT_UNAVAILABLE);
    expect(EXIT_PORT_UNAVAILABLE).toBe(3);
    expect((e as ListenError).message).toContain("WORKER_METRICS_PORT=8080");
  });
});

describe("explainConnectError", () => {
  const url = "postgres://webencode:hunter2@db.example:5433/webencode";
  const err = (code: string, message: string) => Object.assign(new Error(message), { code });

  test.each([
    ["ECONNREFUSED", "connect ECONNREFUSED 10.0.0.5:5433", "start PostgreSQL, or correct the host and port in DATABASE_URL"],
    ["ENOTFOUND", "getaddrinfo ENOTFOUND db.example", "the host name does not resolve"],
    ["CONNECT_TIMEOUT", "write CONNECT_TIMEOUT db.example:5433", "check that the host is reachable"],
    ["3D000", 'database "webencode" does not exist', "create it (createdb)"],
    ["28P01", 'password authentication failed for user "webencode"', "check the user and password in DATABASE_URL"],
  ])("%s", (code, message, fix) => {
    const m = explainConnectError(url, err(code, message));
    expect(m).toStartWith("cannot connect to PostgreSQL at db.example:5433/webencode (DATABASE_URL): ");
    expect(m).toContain(fix);
    expect(m).toContain(message);
    expect(m).not.toContain("hunter2");
  });

  test("a code carried by a wrapped error (query builders wrap driver errors) is still found", () => {
    const wrapped = new Error("Failed query: select 1", { cause: err("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:5433") });
    expect(explainConnectError("postgres://u@127.0.0.1:5433/x", wrapped)).toContain("start PostgreSQL");
  });

  test("describeTarget: defaults and no credentials", () => {
    expect(describeTarget("postgres://u:p@h/db")).toBe("h:5432/db");
    expect(describeTarget("postgresql://h2:6000")).toBe("h2:6000");
  });
});

describe("urlHost (the kernel's own URL in its 'listening on' line and for tests)", () => {
  test("wildcards become loopback, IPv6 goes in brackets", async () => {
    const { urlHost } = await import("../../src/kernel/start.ts");
    expect(["0.0.0.0", "::", "::1", "fd00::5", "localhost", "10.0.0.1"].map(urlHost)).toEqual(["127.0.0.1", "[::1]", "[::1]", "[fd00::5]", "localhost", "10.0.0.1"]);
  });
});

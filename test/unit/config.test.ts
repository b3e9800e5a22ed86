/**
 * Configuration: `.env` parsing, duration/size parsing, the two executables' defaults, and the one-line
 * errors a bad value produces (naming the variable, never echoing a secret).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, environment, parseBytes, parseDotEnv, parseDuration } from "../../src/core/config.ts";
import { loadKernelConfig } from "../../src/kernel/config.ts";
import { loadWorkerConfig } from "../../src/worker/config.ts";

/** Runs `fn`, expects a ConfigError, and returns its message. */
function configError(fn: () => unknown): string {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  return (caught as ConfigError).message;
}

function expectOneLineNaming(message: string, variable: string): void {
  expect(message).not.toContain("\n");
  expect(message).toContain(variable);
  expect(message.length).toBeLessThan(300);
}

describe("parseDotEnv", () => {
  test("plain values, comments, blank lines and export", () => {
    const env = parseDotEnv(["# a comment", "", "PORT=9090", "export LOG_LEVEL=debug", "   # indented comment", "  HOST = 127.0.0.1  "].join("\n"));
    expect(env).toEqual({ PORT: "9090", LOG_LEVEL: "debug", HOST: "127.0.0.1" });
  });

  test("double quotes keep '#' and spaces, and unescape \\n and \\\"", () => {
    const env = parseDotEnv(['A="hello # not a comment"', 'B="line1\\nline2"', 'C="say \\"hi\\""', 'D="  padded  "'].join("\n"));
    expect(env.A).toBe("hello # not a comment");
    expect(env.B).toBe("line1\nline2");
    expect(env.C).toBe('say "hi"');
    expect(env.D).toBe("  padded  ");
  });

  test("single quotes are literal", () => {
    expect(parseDotEnv("A='x\\ny # z'").A).toBe("x\\ny # z");
  });

  test("an unquoted value drops a trailing ' # comment' but keeps '#' inside a word", () => {
    const env = parseDotEnv(["A=value # trailing", "B=pass#word", "C=postgres://u:p@h/db"].join("\n"));
    expect(env.A).toBe("value");
    expect(env.B).toBe("pass#word");
    expect(env.C).toBe("postgres://u:p@h/db");
  });

  test("a quoted value followed by a comment loses the quotes and the comment", () => {
    const env = parseDotEnv(['A="quoted value" # note', "B='single' # note"].join("\n"));
    expect(env.A).toBe("quoted value");
    expect(env.B).toBe("single");
  });

  test("CRLF line endings, empty values and invalid lines", () => {
    const env = parseDotEnv("A=1\r\nB=\r\nnot a line\r\n1BAD=x\r\nC=3");
    expect(env).toEqual({ A: "1", B: "", C: "3" });
  });
});

describe("environment", () => {
  const dir = mkdtempSync(join(tmpdir(), "webencode-env-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("ENV_FILE values sit underneath real variables", () => {
    const file = join(dir, "test.env");
    writeFileSync(file, "PORT=1111\nLOG_LEVEL=debug\n");
    const env = environment({ ENV_FILE: file, PORT: "2222" });
    expect(env.PORT).toBe("2222");
    expect(env.LOG_LEVEL).toBe("debug");
    expect(loadKernelConfig(env).LOG_LEVEL).toBe("debug");
  });

  test("a missing ENV_FILE is a ConfigError naming ENV_FILE", () => {
    const msg = configError(() => environment({ ENV_FILE: join(dir, "does-not-exist.env") }));
    expectOneLineNaming(msg, "ENV_FILE");
  });
});

describe("parseDuration", () => {
  test.each([
    ["500ms", 500],
    ["30s", 30_000],
    ["1.5s", 1500],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["10", 10_000],
    [" 2s ", 2000],
    ["0", 0],
  ])("%p → %p ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  test.each(["", "abc", "10 seconds", "-1s", "1d", "s", "1.s"])("%p is not a duration", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe("parseBytes", () => {
  test.each([
    ["512", 512],
    ["0", 0],
    ["64KiB", 65_536],
    ["64kib", 65_536],
    ["10KB", 10_000],
    ["10MB", 10_000_000],
    ["1MiB", 1_048_576],
    ["2GiB", 2 * 1024 ** 3],
    ["1GB", 1e9],
    ["100 B", 100],
  ])("%p → %p bytes", (text, n) => {
    expect(parseBytes(text)).toBe(n);
  });

  test.each(["", "lots", "1.5MiB", "-1", "10TB", "MiB"])("%p is not a size", (text) => {
    expect(parseBytes(text)).toBeUndefined();
  });
});

describe("loadKernelConfig", () => {
  test("defaults: standalone with an embedded worker on port 8080", () => {
    const c = loadKernelConfig({});
    expect(c.PORT).toBe(8080);
    expect(c.HOST).toBe("127.0.0.1"); // standalone listens on loopback; distributed on 0.0.0.0 (below)
    expect(c.DATA_DIR).toBe(join(process.cwd(), "data")) // made absolute at load (config-paths.ts);
    expect(c.PLUGIN_DIR).toBe(join(process.cwd(), "plugins"));
    expect(c.LOG_LEVEL).toBe("info");
    expect(c.BUS_PREFIX).toBe("webencode");
    expect(c.MIGRATE_ON_START).toBe(true);
    expect(c.MAX_BODY_SIZE).toBe(1_048_576);
    expect(c.SHUTDOWN_TIMEOUT).toBe(15_000);
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.NATS_URL).toBeUndefined();
    expect(c.standalone).toBe(true);
    expect(c.EMBEDDED_WORKER).toBe(true);
    expect(Object.isFrozen(c)).toBe(true);
  });

  test("distributed: DATABASE_URL + NATS_URL, no embedded worker unless asked for", () => {
    const c = loadKernelConfig({ DATABASE_URL: "postgres://u@db:5432/we", NATS_URL: "nats://nats:4222", PORT: "9000", MAX_BODY_SIZE: "10MiB", SHUTDOWN_TIMEOUT: "500ms" });
    expect(c.standalone).toBe(false);
    expect(c.EMBEDDED_WORKER).toBe(false);
    expect(c.PORT).toBe(9000);
    expect(c.MAX_BODY_SIZE).toBe(10 * 1024 * 1024);
    expect(c.SHUTDOWN_TIMEOUT).toBe(500);
    expect(loadKernelConfig({ NATS_URL: "nats://n:4222", EMBEDDED_WORKER: "yes" }).EMBEDDED_WORKER).toBe(true);
  });

  test("only DATABASE_URL: not standalone, but the bus is in-process so the embedded worker is on", () => {
    const c = loadKernelConfig({ DATABASE_URL: "postgresql://db/we" });
    expect(c.standalone).toBe(false);
    expect(c.EMBEDDED_WORKER).toBe(true);
  });

  test("an empty assignment means the default", () => {
    expect(loadKernelConfig({ PORT: "", LOG_LEVEL: "" }).PORT).toBe(8080);
  });

  test("booleans accept the usual spellings", () => {
    for (const f of ["false", "0", "no", "off", "FALSE"]) expect(loadKernelConfig({ MIGRATE_ON_START: f }).MIGRATE_ON_START).toBe(false);
    for (const t of ["true", "1", "yes", "on", "True"]) expect(loadKernelConfig({ MIGRATE_ON_START: t }).MIGRATE_ON_START).toBe(true);
  });

  test.each([
    ["PORT", "abc"],
    ["PORT", "70000"],
    ["PORT", "-1"],
    ["LOG_LEVEL", "loud"],
    ["DATABASE_URL", "mysql://x"],
    ["DATABASE_URL", "not a url"],
    ["NATS_URL", "http://nats:4222"],
    ["MAX_BODY_SIZE", "lots"],
    ["SHUTDOWN_TIMEOUT", "forever"],
    ["MIGRATE_ON_START", "maybe"],
    ["BUS_PREFIX", "1bad.prefix"],
    ["HOST", "   "],
  ])("%s=%p throws one line naming the variable", (name, value) => {
    const msg = configError(() => loadKernelConfig({ [name]: value }));
    expectOneLineNaming(msg, name);
    expect(msg.startsWith("invalid configuration: ")).toBe(true);
  });

  test("the message says what is wrong and shows the value given", () => {
    const msg = configError(() => loadKernelConfig({ PORT: "abc" }));
    expect(msg).toBe('invalid configuration: PORT must be a whole number from 0 to 65535 (got "abc")');
    expect(configError(() => loadKernelConfig({ LOG_LEVEL: "loud" }))).toContain("must be one of trace, debug, info");
    expect(configError(() => loadKernelConfig({ DATABASE_URL: "mysql://x" }))).toContain("postgres://");
  });

  test("the first bad variable is named even when several are bad", () => {
    const msg = configError(() => loadKernelConfig({ LOG_LEVEL: "loud", PORT: "abc" }));
    expectOneLineNaming(msg, "PORT");
  });

  test.each([
    ["mysql://admin:hunter2@db/we"],
    ["mysql://admin:hun@ter2@db/we"],
    ["mysql://admin:hun/ter2@db/we"],
    ["postgres://admin:hunter2@db:port/we"],
  ])("a password inside DATABASE_URL %p is not echoed", (value) => {
    const msg = configError(() => loadKernelConfig({ DATABASE_URL: value }));
    expectOneLineNaming(msg, "DATABASE_URL");
    expect(msg).not.toContain("hunter2");
    expect(msg).not.toContain("ter2");
    expect(msg).toContain("admin:***@");
  });

  test("a password inside NATS_URL is not echoed", () => {
    const msg = configError(() => loadKernelConfig({ NATS_URL: "http://bus:s3cretpw@nats:4222" }));
    expectOneLineNaming(msg, "NATS_URL");
    expect(msg).not.toContain("s3cretpw");
  });

  test("secret-named variables are never echoed", () => {
    const msg = configError(() => loadKernelConfig({ NATS_PASSWORD: "   " }));
    expectOneLineNaming(msg, "NATS_PASSWORD");
    expect(msg).not.toContain('"   "');
  });
});

describe("loadWorkerConfig", () => {
  test("defaults", () => {
    const c = loadWorkerConfig({});
    expect(c.NATS_URL).toBe("nats://localhost:4222");
    expect(c.WORKER_CONCURRENCY).toBe(1);
    expect(c.HEARTBEAT_INTERVAL).toBe(5000);
    expect(c.WORKER_SHUTDOWN_GRACE).toBe(60_000);
    expect(c.FFMPEG_PATH).toBe("ffmpeg");
    expect(c.FFPROBE_PATH).toBe("ffprobe");
    expect(c.PLUGIN_DIR).toBe(join(process.cwd(), "plugins"));
    expect(c.LOG_LEVEL).toBe("info");
    expect(c.WORKER_ID).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
    expect(c.WORK_DIR).toContain(c.WORKER_ID);
    expect(Object.isFrozen(c)).toBe(true);
  });

  test("explicit values", () => {
    const c = loadWorkerConfig({ WORKER_ID: "gpu-1", WORKER_CONCURRENCY: "4", HEARTBEAT_INTERVAL: "2s", WORK_DIR: "/var/tmp/w" });
    expect(c.WORKER_ID).toBe("gpu-1");
    expect(c.WORKER_CONCURRENCY).toBe(4);
    expect(c.HEARTBEAT_INTERVAL).toBe(2000);
    expect(c.WORK_DIR).toBe("/var/tmp/w");
  });

  test.each([
    ["HEARTBEAT_INTERVAL", "10s", "at most 5s"],
    ["HEARTBEAT_INTERVAL", "50ms", "at least 200ms"],
    ["HEARTBEAT_INTERVAL", "soon", "duration"],
    ["WORKER_CONCURRENCY", "0", "whole number"],
    ["WORKER_CONCURRENCY", "65", "whole number"],
    ["WORKER_ID", "bad id", "letters"],
    ["WORKER_ID", "x".repeat(65), "letters"],
    ["NATS_URL", "localhost:4222", "nats://"],
    ["LOG_LEVEL", "loud", "one of"],
    ["WORKER_SHUTDOWN_GRACE", "1 minute", "duration"],
  ])("%s=%p throws one line naming the variable", (name, value, reason) => {
    const msg = configError(() => loadWorkerConfig({ [name]: value }));
    expectOneLineNaming(msg, name);
    expect(msg).toContain(reason);
  });
});

describe("first-run mistakes are refused with one line naming the variable", () => {
  test("HOST defaults to loopback in standalone mode and to 0.0.0.0 in distributed mode; an explicit HOST wins", () => {
    expect(loadKernelConfig({}).HOST).toBe("127.0.0.1");
    expect(loadKernelConfig({ DATABASE_URL: "postgres://db/x" }).HOST).toBe("0.0.0.0");
    expect(loadKernelConfig({ NATS_URL: "nats://n:4222" }).HOST).toBe("0.0.0.0");
    expect(loadKernelConfig({ HOST: "0.0.0.0" }).HOST).toBe("0.0.0.0");
    for (const HOST of ["::", "::1", "10.1.2.3", "localhost", "kernel-01.example.com"]) expect(loadKernelConfig({ HOST }).HOST).toBe(HOST);
  });

  test.each(["not an ip", "http://127.0.0.1", "127.0.0.1:8080", "-bad", "a..b"])("HOST=%p is not an address", (HOST) => {
    const m = configError(() => loadKernelConfig({ HOST }));
    expectOneLineNaming(m, "HOST");
    expect(m).toContain("IP address");
  });

  test("CORS_ORIGINS: '*' and non-origins are refused; origins are kept without a trailing slash", () => {
    for (const CORS_ORIGINS of ["*", "https://a.example.com,*", "app.example.com", "https://a.example.com/path"]) {
      const m = configError(() => loadKernelConfig({ CORS_ORIGINS }));
      expectOneLineNaming(m, "CORS_ORIGINS");
      expect(m).toContain("never *");
    }
    expect(loadKernelConfig({ CORS_ORIGINS: "https://a.example.com/, http://localhost:3000" }).CORS_ORIGINS).toEqual(["https://a.example.com", "http://localhost:3000"]);
    expect(loadKernelConfig({}).CORS_ORIGINS).toEqual([]);
  });

  test("MEDIA_CORS_ORIGINS: '*' by default, or a list of origins; '*' mixed into a list is refused", () => {
    expect(loadKernelConfig({}).MEDIA_CORS_ORIGINS).toEqual(["*"]);
    expect(loadKernelConfig({ MEDIA_CORS_ORIGINS: "https://player.example.com" }).MEDIA_CORS_ORIGINS).toEqual(["https://player.example.com"]);
    expectOneLineNaming(configError(() => loadKernelConfig({ MEDIA_CORS_ORIGINS: "*,https://a.example.com" })), "MEDIA_CORS_ORIGINS");
    expectOneLineNaming(configError(() => loadKernelConfig({ MEDIA_CORS_ORIGINS: "player.example.com" })), "MEDIA_CORS_ORIGINS");
  });

  test("ADMIN_API_KEY: we_ and 29-125 of A-Za-z0-9_- are accepted; anything else is refused without echoing it", () => {
    const shortest = `we_${"a".repeat(29)}`;
    const longest = `we_${"Z9_-".repeat(31)}x`;
    expect(longest).toHaveLength(128);
    for (const key of [shortest, longest]) expect(loadKernelConfig({ ADMIN_API_KEY: key }).ADMIN_API_KEY).toBe(key);
    for (const bad of ["a".repeat(40), `we_${"a".repeat(28)}`, `${longest}x`, `WE_${"a".repeat(40)}`, `we_${"a".repeat(30)}!`]) {
      const m = configError(() => loadKernelConfig({ ADMIN_API_KEY: bad }));
      expectOneLineNaming(m, "ADMIN_API_KEY");
      expect(m).toContain("must start with we_");
      expect(m).not.toContain(bad);
    }
  });
});

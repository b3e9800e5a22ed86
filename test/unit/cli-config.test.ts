import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configPath, parseConfig, readConfig, resolveTarget, serializeConfig, writeConfig } from "../../src/cli/config.ts";
import { CliError } from "../../src/cli/errors.ts";
import { needsRefresh, withTokens } from "../../src/cli/session.ts";

const exitOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as CliError).exitCode;
  }
  return "no error";
};

describe("cli config file", () => {
  test("path: XDG_CONFIG_HOME when absolute, else ~/.config", () => {
    expect(configPath({ XDG_CONFIG_HOME: "/x/cfg", HOME: "/home/a" })).toBe("/x/cfg/webencode/config.toml");
    expect(configPath({ XDG_CONFIG_HOME: "relative", HOME: "/home/a" })).toBe("/home/a/.config/webencode/config.toml");
    expect(configPath({ HOME: "/home/a" })).toBe("/home/a/.config/webencode/config.toml");
  });

  test("serialize and parse round-trip, keys with quotes and backslashes included", () => {
    const cfg = { current: "prod", contexts: { prod: { url: "https://e.example.com", api_key: 'we_a"b\\c' }, local: { url: "http://127.0.0.1:8080" } } };
    const text = serializeConfig(cfg);
    expect(text.indexOf("[contexts.local]")).toBeLessThan(text.indexOf("[contexts.prod]"));
    expect(parseConfig(text)).toEqual(cfg);
  });

  test("parses hand-written TOML: comments, quoted table names; refuses what it does not know, naming the line", () => {
    expect(parseConfig('# hi\ncurrent = "a"  # note\n\n[contexts."a"]\nurl = "http://h:1"\n')).toEqual({ current: "a", contexts: { a: { url: "http://h:1" } } });
    expect(() => parseConfig("current = a")).toThrow(/line 1/);
    expect(() => parseConfig('[contexts.a]\nurl = "http://h"\ntoken = "x"')).toThrow(/line 3: unknown key token/);
    expect(() => parseConfig('[contexts.a]\napi_key = "x"')).toThrow(/context a has no url/);
    expect(() => parseConfig('colour = "x"')).toThrow(/unknown top-level key/);
  });

  test("written with mode 0600, and a broken file is a usage error (2) naming it", () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-config-"));
    try {
      const path = join(dir, "webencode", "config.toml");
      writeConfig(path, { current: "a", contexts: { a: { url: "http://h:1", api_key: "we_k" } } });
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(readConfig(path).contexts.a?.api_key).toBe("we_k");
      writeFileSync(path, "nonsense");
      expect(exitOf(() => readConfig(join(dir, "webencode", "config.toml")))).toBe(2);
      expect(readFileSync(path, "utf8")).toBe("nonsense");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("target: --context, then current; the environment overrides url and key; none is exit 2", () => {
    const cfg = { current: "a", contexts: { a: { url: "http://a:1/", api_key: "we_a" }, b: { url: "http://b:2", api_key: "we_b" } } };
    expect(resolveTarget(cfg, {})).toEqual({ url: "http://a:1", apiKey: "we_a", context: "a" });
    expect(resolveTarget(cfg, {}, "b")).toEqual({ url: "http://b:2", apiKey: "we_b", context: "b" });
    expect(resolveTarget(cfg, { WEBENCODE_URL: "https://env:3", WEBENCODE_API_KEY: "we_env" })).toEqual({ url: "https://env:3", apiKey: "we_env", context: "a" });
    expect(resolveTarget({ contexts: {} }, { WEBENCODE_URL: "http://env" })).toEqual({ url: "http://env", apiKey: undefined, context: undefined });
    expect(exitOf(() => resolveTarget({ contexts: {} }, {}))).toBe(2);
    expect(exitOf(() => resolveTarget(cfg, {}, "missing"))).toBe(2);
    expect(exitOf(() => resolveTarget(cfg, { WEBENCODE_URL: "ftp://x" }))).toBe(2);
  });
});

describe("cli password sessions", () => {
  test("session fields round-trip; refresh when missing, unparsable or within a minute of expiry", () => {
    const ctx = withTokens({ url: "http://h:1", username: "ana" }, { access_token: "a", refresh_token: "r", expires_in: 900 }, Date.parse("2026-01-01T00:00:00Z"));
    expect(ctx).toEqual({ url: "http://h:1", username: "ana", access_token: "a", refresh_token: "r", access_expires_at: "2026-01-01T00:15:00.000Z" });
    expect(parseConfig(serializeConfig({ current: "s", contexts: { s: ctx } })).contexts.s).toEqual(ctx);
    const t0 = Date.parse("2026-01-01T00:00:00Z");
    expect(needsRefresh(ctx, t0)).toBe(false);
    expect(needsRefresh(ctx, t0 + 14 * 60_000 + 1)).toBe(true);
    expect(needsRefresh({ access_token: "a" }, t0)).toBe(true);
    expect(needsRefresh({ access_token: "a", access_expires_at: "soon" }, t0)).toBe(true);
  });
});

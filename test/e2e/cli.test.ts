/**
 * The compiled `webencode` client against a compiled kernel (PGlite and its embedded worker, started like
 * `npm start` in a scratch directory): login with the admin key, submit a generated clip with --wait and
 * --download (the file checked with ffprobe), the exit codes scripts branch on (1 failed job, 3 cancelled,
 * 4 wrong key / unreachable server, 2 bad usage), --json output parsed, and a run in a pseudo-terminal
 * (`script`) where the progress bar redraws in place and reaches 100 %.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeClip, probe } from "../helpers/media.ts";
import { binary, DIST, freePort, killAllProcs, type Proc, runProc, spawnProc } from "../helpers/proc.ts";
import { waitFor } from "../helpers/wait.ts";

const scratch = mkdtempSync(join(tmpdir(), "webencode-cli-"));
const CLI = join(DIST, "webencode");
const cfgHome = join(scratch, "config");
let kernel: Proc;
let base = "";
let adminKey = "";
let clip = "";

/** Runs the compiled client with only the given environment (plus PATH/HOME and the scratch config home). */
function cli(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000) {
  return runProc([CLI, ...args], { cwd: scratch, env: { XDG_CONFIG_HOME: cfgHome, ...env }, timeoutMs });
}
const shown = (r: { code: number | null; stdout: string; stderr: string }) => `exit ${r.code}\n--- stdout ---\n${r.stdout.slice(-3000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`;

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`bun run build\` before the end-to-end tests`);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  kernel = spawnProc([binary("webencode-kernel")], { cwd: scratch, env: { PORT: String(port), HOST: "127.0.0.1" } });
  await kernel.waitForHttp200(`${base}/v1/health`, 120_000);
  await waitFor(() => kernel.stderr.includes("worker registered"), 60_000, "the embedded worker to register", 200);
  adminKey = readFileSync(join(scratch, "data", "admin-api-key"), "utf8").trim();
  clip = await makeClip(join(scratch, "media"), "clip", { width: 320, height: 240, rate: "25", duration_s: 2, audio: true, gop: 50 });
}, 300_000);

afterAll(async () => {
  await killAllProcs();
  rmSync(scratch, { recursive: true, force: true });
});

describe("webencode (compiled) against a compiled kernel", () => {
  test("login checks the key and saves the context 0600; whoami --json", async () => {
    const bad = await cli(["login", base, "--api-key", "we_not_a_real_key"]);
    expect(bad.code, shown(bad)).toBe(4);
    expect(bad.stderr).toContain("WE-AUTH-001");
    expect(existsSync(join(cfgHome, "webencode", "config.toml"))).toBe(false);

    const r = await cli(["login", base, "--api-key", adminKey]);
    expect(r.code, shown(r)).toBe(0);
    const file = join(cfgHome, "webencode", "config.toml");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8")).toContain(`url = "${base}"`);

    const who = await cli(["whoami", "--json"]);
    expect(who.code, shown(who)).toBe(0);
    const me = JSON.parse(who.stdout) as { role: string; url: string; context: string };
    expect(me).toMatchObject({ role: "admin", url: base, context: "default" });
  }, 60_000);

  test("password login (auth-basic): tokens saved (never the password), refreshed when expired or refused", async () => {
    const made = await fetch(`${base}/v1/users`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ username: "ana", password: "a long passphrase", roles: ["operator"], name: "Ana" }),
    });
    expect(made.status).toBe(201);
    const login = (password: string) =>
      runProc(["bash", "-c", `printf '%s\\n' "$PW" | "${CLI}" --context ana login ${base} --username ana`], { cwd: scratch, env: { XDG_CONFIG_HOME: cfgHome, PW: password } });
    const wrong = await login("not the password");
    expect(wrong.code, shown(wrong)).toBe(4);
    expect(wrong.stderr).toContain("WE-AUTH-001");
    const r = await login("a long passphrase");
    expect(r.code, shown(r)).toBe(0);
    const file = join(cfgHome, "webencode", "config.toml");
    const saved = readFileSync(file, "utf8");
    expect(saved).not.toContain("a long passphrase");
    expect(saved).toContain('username = "ana"');
    expect(saved).toMatch(/refresh_token = "ey/);
    const who = await cli(["--context", "ana", "whoami", "--json"]);
    expect(who.code, shown(who)).toBe(0);
    expect(JSON.parse(who.stdout)).toMatchObject({ role: "operator", context: "ana" });

    // An expired access token is refreshed before use (the refresh token rotates, the file is rewritten) ...
    const refreshOf = (t: string) => /\[contexts\.ana\][^[]*refresh_token = "([^"]+)"/.exec(t)?.[1];
    const before = refreshOf(readFileSync(file, "utf8"));
    writeFileSync(file, readFileSync(file, "utf8").replace(/access_expires_at = "[^"]+"/, 'access_expires_at = "2000-01-01T00:00:00.000Z"'));
    expect((await cli(["--context", "ana", "jobs", "ls", "--json"])).code).toBe(0);
    const after = refreshOf(readFileSync(file, "utf8"));
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // ... and one the server refuses is refreshed once and the call resent.
    writeFileSync(file, readFileSync(file, "utf8").replace(/access_token = "[^"]+"/, 'access_token = "garbage"'));
    const again = await cli(["--context", "ana", "jobs", "ls", "--json"]);
    expect(again.code, shown(again)).toBe(0);
    // A session that cannot be refreshed any more: exit 4, log in again.
    writeFileSync(file, readFileSync(file, "utf8").replace(/refresh_token = "[^"]+"/, 'refresh_token = "garbage"').replace(/access_token = "[^"]+"/, 'access_token = "garbage"'));
    const ended = await cli(["--context", "ana", "jobs", "ls"]);
    expect(ended.code, shown(ended)).toBe(4);
    expect(ended.stderr).toContain("webencode login");
    // The default context (the admin key) is untouched by all this; `contexts use` makes it current again.
    expect((await cli(["--context", "default", "whoami", "--json"])).stdout).toContain('"role":"admin"');
    const ctxs = JSON.parse((await cli(["contexts", "ls"])).stdout) as { current: string; items: { name: string; auth: string }[] };
    expect(ctxs).toEqual({ current: "ana", items: [{ name: "ana", url: base, auth: "password (ana)" }, { name: "default", url: base, auth: "api key" }] } as never);
    expect((await cli(["contexts", "use", "default"])).code).toBe(0);
    expect((await cli(["contexts", "use", "nope"])).code).toBe(2);
    expect((await cli(["whoami", "--json"])).stdout).toContain('"role":"admin"');
  }, 60_000);

  test("submit --wait --download: exit 0, JSON on stdout, a playable MP4, plain progress lines when piped", async () => {
    const out = join(scratch, "out");
    const r = await cli(["submit", clip, "--profile", "360p_h264", "--output", "mp4,hls", "--wait", "--download", out, "--json"], {}, 400_000);
    expect(r.code, shown(r)).toBe(0);
    const doc = JSON.parse(r.stdout) as { job_id: string; items: { kind: string; profile: string }[]; downloaded: string[] };
    expect(doc.items.map((o) => o.kind).sort()).toEqual(["hls", "mp4"]);
    expect(doc.downloaded.sort()).toEqual([join(out, "360p_h264.mp4"), join(out, "hls", "master.m3u8")]);
    const info = await probe(join(out, "360p_h264.mp4"));
    expect(info.video).toMatchObject({ codec: "h264", width: 320, height: 240 });
    expect(info.audio?.codec).toBe("aac");
    expect(info.duration_s).toBeGreaterThan(1.5);
    // The HLS ladder came down whole: the local master playlist plays from disk (variants and segments beside it).
    const hls = await probe(join(out, "hls", "master.m3u8"));
    expect(hls.video).toMatchObject({ codec: "h264", width: 320, height: 240 });
    expect(hls.video!.frames).toBeGreaterThan(40);
    // Not a terminal: no carriage returns, the upload and the job's end each on a line of their own.
    expect(r.stderr).not.toContain("\r");
    expect(r.stderr).toMatch(/^upload clip\.mp4 \[=+\] 100%/m);
    expect(r.stderr).toMatch(new RegExp(`^job ${doc.job_id.slice(0, 8)} completed\\s+\\[=+\\] 100%`, "m"));

    const ls = await cli(["jobs", "ls", "--state", "completed", "--json"]);
    expect(ls.code, shown(ls)).toBe(0);
    expect((JSON.parse(ls.stdout) as { items: { id: string }[] }).items.map((j) => j.id)).toContain(doc.job_id);
    const get = await cli(["jobs", "get", doc.job_id, "--json"]);
    expect(JSON.parse(get.stdout)).toMatchObject({ id: doc.job_id, status: "completed", progress: 100 });
  }, 420_000);

  test("a source that is not a video: exit 1 with the job's error code", async () => {
    const junk = join(scratch, "not-a-video.mp4");
    writeFileSync(junk, "this is text, not media\n".repeat(200));
    const r = await cli(["submit", junk, "-p", "360p_h264", "--wait", "--json"], {}, 300_000);
    expect(r.code, shown(r)).toBe(1);
    expect(r.stderr).toMatch(/job [0-9a-f-]{36} failed: WE-[A-Z]+-\d{3}: /);
    const end = JSON.parse(r.stdout) as { status: string; error: { code: string } };
    expect(end.status).toBe("failed");
    expect(end.error.code).toMatch(/^WE-[A-Z]+-\d{3}$/);
  }, 320_000);

  test("a job cancelled while watched: exit 3", async () => {
    const long = await makeClip(join(scratch, "media"), "long", { width: 320, height: 240, rate: "25", duration_s: 6, audio: false, gop: 50 });
    const sub = await cli(["submit", long, "-p", "360p_h264", "--json"]);
    expect(sub.code, shown(sub)).toBe(0);
    const id = (JSON.parse(sub.stdout) as { id: string }).id;
    const watch = spawnProc([CLI, "jobs", "watch", id], { cwd: scratch, env: { XDG_CONFIG_HOME: cfgHome } });
    await watch.waitForLine(`job ${id.slice(0, 8)}`, 30_000);
    const cancel = await cli(["jobs", "cancel", id]);
    expect(cancel.code, shown(cancel)).toBe(0);
    const s = await watch.exited;
    expect(s.code, watch.describe()).toBe(3);
    expect(watch.stderr).toContain(`job ${id} was cancelled`);
  }, 120_000);

  test("wrong key and unreachable server: exit 4; bad usage: exit 2", async () => {
    const wrong = await cli(["jobs", "ls"], { WEBENCODE_API_KEY: "we_wrong" });
    expect(wrong.code, shown(wrong)).toBe(4);
    expect(wrong.stderr).toContain("WE-AUTH-001");
    const away = await cli(["jobs", "ls"], { WEBENCODE_URL: `http://127.0.0.1:${await freePort()}` });
    expect(away.code, shown(away)).toBe(4);
    expect(away.stderr).toContain("cannot reach");
    for (const args of [["submit", clip], ["jobs", "ls", "--state", "bogus"], ["jobs", "frobnicate"], ["submit", clip, "-p", "360p_h264", "--download", "x"]]) {
      const r = await cli(args);
      expect(r.code, `${args.join(" ")}: ${shown(r)}`).toBe(2);
    }
    // stdout is a pipe here: listings are JSON without --json.
    const piped = await cli(["jobs", "ls", "--limit", "1"]);
    expect((JSON.parse(piped.stdout) as { limit: number }).limit).toBe(1);
    const missing = await cli(["jobs", "get", "00000000-0000-4000-8000-000000000000"]);
    expect(missing.code, shown(missing)).toBe(1);
    expect(missing.stderr).toContain("WE-JOB-004");
  }, 60_000);

  test("Ctrl-C while watching detaches (130) and the job runs on; retry, cancel, rm", async () => {
    const long = await makeClip(join(scratch, "media"), "long2", { width: 320, height: 240, rate: "25", duration_s: 6, audio: false, gop: 50 });
    const sub = await cli(["submit", long, "-p", "360p_h264", "--json"]);
    expect(sub.code, shown(sub)).toBe(0);
    const id = (JSON.parse(sub.stdout) as { id: string }).id;
    const watch = spawnProc([CLI, "jobs", "watch", id], { cwd: scratch, env: { XDG_CONFIG_HOME: cfgHome } });
    await watch.waitForLine(`job ${id.slice(0, 8)}`, 30_000);
    watch.kill("SIGINT");
    const s = await watch.exited;
    expect(s.code, watch.describe()).toBe(130);
    expect(watch.stderr).toContain(`webencode jobs watch ${id}`);
    const after = JSON.parse((await cli(["jobs", "get", id, "--json"])).stdout) as { status: string };
    expect(after.status).not.toBe("cancelled");

    expect((await cli(["jobs", "cancel", id])).code).toBe(0);
    const again = await cli(["jobs", "cancel", id]);
    expect(again.code, shown(again)).toBe(1);
    expect(again.stderr).toContain("WE-JOB-005");
    const retry = await cli(["jobs", "retry", id, "--json"]);
    expect(retry.code, shown(retry)).toBe(0);
    expect((JSON.parse(retry.stdout) as { status: string }).status).toBe("queued");
    expect((await cli(["jobs", "cancel", id])).code).toBe(0);
    const rm = await cli(["jobs", "rm", id]);
    expect(rm.code, shown(rm)).toBe(0);
    expect((await cli(["jobs", "get", id])).code).toBe(1);
  }, 120_000);

  test("keys create/ls/revoke, a viewer key is refused an operator call (4), events --json streams NDJSON", async () => {
    const created = await cli(["keys", "create", "cli-test", "--role", "viewer"]);
    expect(created.code, shown(created)).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^we_/);
    const ls = JSON.parse((await cli(["keys", "ls", "--json"])).stdout) as { items: { id: string; name: string; status: string }[] };
    const row = ls.items.find((k) => k.name === "cli-test")!;
    expect(row.status).toBe("active");
    const refused = await cli(["jobs", "cancel", "00000000-0000-4000-8000-000000000000"], { WEBENCODE_API_KEY: key });
    expect(refused.code, shown(refused)).toBe(4);
    expect(refused.stderr).toMatch(/WE-AUTH-\d{3}/);

    const events = spawnProc([CLI, "events", "--since", "0", "--types", "job.completed", "--json"], { cwd: scratch, env: { XDG_CONFIG_HOME: cfgHome, WEBENCODE_API_KEY: key } });
    await events.waitForLine('"type":"job.completed"', 30_000, "stdout");
    events.kill("SIGINT");
    expect((await events.exited).code, events.describe()).toBe(0);
    const lines = events.stdout.trim().split("\n").map((l) => JSON.parse(l) as { type: string; id: number });
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((e) => e.type === "job.completed" && e.id > 0)).toBe(true);

    expect((await cli(["keys", "revoke", row.id])).code).toBe(0);
    const revoked = await cli(["whoami"], { WEBENCODE_API_KEY: key });
    expect(revoked.code, shown(revoked)).toBe(4);
  }, 60_000);

  test("in a terminal (WEBENCODE_URL/WEBENCODE_API_KEY, no config file) the progress bar redraws in place and reaches 100 %", async () => {
    mkdirSync(join(scratch, "tty"), { recursive: true });
    const cmd = `${CLI} submit ${clip} -p 360p_h264 --wait`;
    const r = await runProc(["script", "-qfec", cmd, "/dev/null"], { cwd: join(scratch, "tty"), env: { XDG_CONFIG_HOME: join(scratch, "no-config"), WEBENCODE_URL: base, WEBENCODE_API_KEY: adminKey, TERM: "xterm" }, timeoutMs: 300_000 });
    expect(r.code, shown(r)).toBe(0);
    // cli-progress moves to column 1 (CSI 1 G) before each redraw.
    const redraws = r.stdout.split(/\r|\x1b\[1G/).filter((s) => /^job [0-9a-f]{8} /.test(s));
    expect(redraws.length, shown(r)).toBeGreaterThan(1);
    expect(redraws.at(-1)).toMatch(/completed\s+\[=+\] 100%/);
    expect(r.stdout).toMatch(/\x1b\[1Gupload clip\.mp4 \[=+\] 100%/);
  }, 320_000);
});

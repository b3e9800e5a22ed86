/**
 * The README's "First job" section, run as written: its bash blocks, in order, in one shell, against the
 * COMPILED kernel started like `npm start` (in the working directory the commands run in, no DATA_DIR), so
 * `KEY=$(cat data/admin-api-key)` and every curl, jq and ffprobe line are exercised. Only the port (a free one,
 * not 8080) and the test clip's length (3 s instead of 10, for a loaded machine) differ. A README edit that
 * breaks a command fails here.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { binary, freePort, killAllProcs, ROOT, runProc, spawnProc } from "../helpers/proc.ts";
import { waitFor } from "../helpers/wait.ts";

const scratch = mkdtempSync(join(tmpdir(), "webencode-readme-"));

afterAll(async () => {
  await killAllProcs();
  rmSync(scratch, { recursive: true, force: true });
});

/** The bash blocks of the README's "First job" section as one script, for `port` and a 3 s clip (pure). */
export function firstJobScript(readme: string, port: number): string {
  const start = readme.indexOf("\n## First job\n");
  if (start < 0) throw new Error('README.md has no "## First job" section');
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const blocks = [...section.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]!);
  if (blocks.length < 4) throw new Error(`the First job section has ${blocks.length} bash blocks, expected upload, submit, follow, download`);
  return ["set -e", ...blocks].join("\n").replaceAll("8080", String(port)).replace(/ -t 10 /, " -t 3 ");
}

describe("README: First job", () => {
  test("the extraction changes only the port and the clip length", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const script = firstJobScript(readme, 4321);
    expect(script).toContain("API=http://127.0.0.1:4321");
    expect(script).toContain("-F file=@clip.mp4");
    expect(script).toContain("/v1/events?job_id=$JOB");
    expect(script).not.toContain("8080");
  });

  test("every command works as written: upload, submit, follow (SSE and polling), download", async () => {
    const port = await freePort();
    const kernel = spawnProc([binary("webencode-kernel")], { cwd: scratch, env: { PORT: String(port), HOST: "127.0.0.1" } });
    await kernel.waitForHttp200(`http://127.0.0.1:${port}/v1/health`, 120_000);
    // The embedded worker registers after the API answers; a job submitted before waits for it anyway.
    await waitFor(() => kernel.stderr.includes("worker registered"), 60_000, "the embedded worker to register", 200);

    const script = firstJobScript(readFileSync(join(ROOT, "README.md"), "utf8"), port);
    const run = await runProc(["bash", "-c", script], { cwd: scratch, timeoutMs: 400_000 });
    const shown = `exit ${JSON.stringify({ code: run.code, signal: run.signal })}\n--- stdout ---\n${run.stdout.slice(-3000)}\n--- stderr ---\n${run.stderr.slice(-3000)}`;
    expect(run.code, shown).toBe(0);
    // Upload and submit answers are shown.
    expect(run.stdout).toMatch(/"source_url":"uploads\/[0-9a-f-]{36}\/clip\.mp4"/);
    expect(run.stdout).toMatch(/"status":"queued"/);
    // SSE: the job's life, one line per event, ending with its completion.
    expect(run.stdout).toMatch(/^job\.created/m);
    expect(run.stdout).toMatch(/^task\.completed package/m);
    expect(run.stdout).toMatch(/^job\.completed {2}100$/m);
    // Polling, then the outputs and the downloaded 720p MP4 as ffprobe sees it.
    expect(run.stdout).toContain("completed 100%");
    expect(run.stdout).toMatch(/^hls\tnull\thttp:\/\/127\.0\.0\.1:\d+\/v1\/storage\/storage-fs\/t\/.+\/hls\/master\.m3u8$/m);
    expect(run.stdout).toMatch(/^mp4\t720p_h264\thttp/m);
    expect(run.stdout).toMatch(/^h264,1280,720$/m);
    expect(run.stdout).toMatch(/^aac$/m);
    await kernel.stop();
  }, 600_000);
});

/**
 * The web dashboard in headless Chromium against the compiled kernel (E2E_DIST or dist/) with its embedded
 * worker (standalone mode): sign in with a key, upload a clip and submit an HLS ladder job, watch it reach
 * 100 % without a reload, play the HLS output, drain the worker, cancel and retry a job, create and revoke
 * API keys, a viewer's read-only view (and the API refusing its forged call), a plugin form's field error.
 * One kernel and one browser for the file; no console error or uncaught exception in any step.
 * UPDATE_SCREENSHOTS=1 writes the screenshots in docs/ui/.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TEST_ADMIN_KEY, withAuth } from "../helpers/auth.ts";
import { generateClip } from "../helpers/cluster.ts";
import { startCompiledKernel, type CompiledKernel } from "../helpers/compiled-kernel.ts";
import { navTo, openDashboard, signInWithKey, signOut, type Dashboard } from "../helpers/dashboard.ts";
import { collectSse } from "../helpers/sse.ts";
import { startTcpProxy } from "../helpers/tcp-proxy.ts";
import { holdsFor, waitFor } from "../helpers/wait.ts";

let kernel: CompiledKernel;
let d: Dashboard;
let clip: string;
const scratch = mkdtempSync(join(tmpdir(), "webencode-dashboard-"));
let completedJob = "";
let viewerKey = "";

const call = (path: string, init?: RequestInit) => fetch(`${kernel.base}${path}`, withAuth(init));
const json = async <T>(path: string, init?: RequestInit) => (await (await call(path, init)).json()) as T;
const jobStatus = async (id: string) => (await json<{ status: string }>(`/v1/jobs/${id}`)).status;
const worker = async () => (await json<{ items: Array<{ id: string; drain_requested: boolean }> }>("/v1/workers")).items[0]!;

beforeAll(async () => {
  clip = await generateClip(join(scratch, "clip.mp4"), { seconds: 2, width: 320, height: 240 });
  kernel = await startCompiledKernel({ EMBEDDED_WORKER: "true" });
  // The embedded worker registers shortly after the kernel answers: the pages below expect it listed.
  await waitFor(async () => (await json<{ items: unknown[] }>("/v1/workers")).items.length > 0, 60_000, "the embedded worker to register");
  d = await openDashboard(kernel.base);
}, 180_000);

afterAll(async () => {
  await d?.close();
  await kernel?.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

describe("dashboard (standalone, compiled kernel)", () => {
  test("the page is served with a CSP without inline scripts, hashed long-cached assets, brotli; API paths are not shadowed", async () => {
    const page = await fetch(`${kernel.base}/jobs`, { headers: { "accept-encoding": "br" } });
    expect(page.status).toBe(200);
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    const html = await page.text();
    const script = /src="(\/ui\/assets\/main-[a-z0-9]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${kernel.base}${script}`, { headers: { "accept-encoding": "gzip, br" } });
    expect(asset.headers.get("cache-control")).toContain("immutable");
    expect((await fetch(`${kernel.base}/v1/jobs`)).status).toBe(401);
    expect((await fetch(`${kernel.base}/not-a-page`)).status).toBe(404);
  });

  test("sign in with an API key, upload a clip, submit an HLS ladder job, progress reaches 100 % live, the HLS output plays", async () => {
    await d.goto("/");
    await d.waitFor(`document.querySelector("[data-test=api-key]")`, "the sign-in form");
    await d.screenshot("sign-in");
    await signInWithKey(d, TEST_ADMIN_KEY);
    // The queue card reads GET /metrics: a table per pool, or (nothing queued yet) its empty state, never an error.
    await d.waitFor(`document.querySelector("[data-test=job-counts]") && document.querySelector("[data-test=queues-card] [data-test=queues], [data-test=queues-card] [data-test=empty]")`, "the overview's counts and queues");
    expect(await d.eval("Boolean(document.querySelector('[data-test=queues-card] [data-test=error]'))")).toBe(false);
    await d.screenshot("overview");
    await navTo(d, "new-job");
    await d.setFile("[data-test=file]", clip);
    await d.click("[data-test=profile-hls_h264_ladder]");
    await d.click("[data-test=output-hls]");
    await d.click("input[name=poster]");
    await d.screenshot("new-job");
    // Set on this document: a reload would lose it.
    await d.eval("window.__sameDocument = true");
    await d.click("[data-test=submit-job]");
    await d.waitFor(`/^\\/jobs\\/[0-9a-f-]{36}$/.test(location.pathname)`, "the job page after submitting");
    completedJob = (await d.eval<string>("location.pathname")).split("/")[2]!;
    await d.waitFor(`document.querySelector("[data-test=job-progress]")?.dataset.progress === "100" && document.querySelector("[data-test=job-status]")?.textContent === "completed"`, "the job page to show 100 % and completed", 120_000);
    expect(await d.eval("window.__sameDocument === true")).toBe(true);
    expect(await jobStatus(completedJob)).toBe("completed");
    // hls.js (a lazily loaded chunk) attaches itself to the element first: play once the metadata is in.
    await d.waitFor(`document.querySelector("[data-test=hls-player]")?.readyState >= 1`, "the HLS player to load the playlist", 60_000);
    await d.eval(`document.querySelector("[data-test=hls-player]").play()`);
    await d.waitFor(`document.querySelector("[data-test=hls-player]").currentTime > 0.5`, "the HLS video to advance", 60_000);
    await d.eval(`document.querySelector("[data-test=hls-player]").pause()`);
    await d.waitFor(`document.querySelector("[data-test=poster]")?.naturalWidth > 0`, "the poster image to load");
    await d.screenshot("job");
    await navTo(d, "jobs");
    await d.waitFor(`document.querySelector("tr[data-job='${completedJob}']")`, "the job in the list");
    await d.screenshot("jobs");
  }, 180_000);

  test("drain the worker in the UI: a new job waits; cancel it and retry it; undrain and it completes", async () => {
    const w = await worker();
    await navTo(d, "workers");
    await d.click(`tr[data-worker='${w.id}'] [data-test=drain]`);
    await waitFor(async () => (await worker()).drain_requested, 30_000, "the API to report the worker draining");
    await d.waitFor(`document.querySelector("tr[data-worker='${w.id}'] [data-test=undrain]")`, "the Undrain button");
    const upload = await json<{ source_url: string }>(`/v1/files?filename=clip.mp4`, { method: "POST", body: Bun.file(clip) });
    const job = await json<{ id: string }>("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source_url: upload.source_url, profiles: ["360p_h264"] }) });
    await d.goto(`/jobs/${job.id}`);
    await d.click("[data-test=cancel]");
    await waitFor(async () => (await jobStatus(job.id)) === "cancelled", 30_000, "the job to be cancelled");
    await d.waitFor(`document.querySelector("[data-test=job-status]")?.textContent === "cancelled"`, "the page to show cancelled");
    await d.click("[data-test=retry]");
    await waitFor(async () => (await jobStatus(job.id)) === "queued", 30_000, "the retried job to be queued again");
    await navTo(d, "workers");
    await d.click(`tr[data-worker='${w.id}'] [data-test=undrain]`);
    await waitFor(async () => !(await worker()).drain_requested, 30_000, "the worker to be undrained");
    await waitFor(async () => (await jobStatus(job.id)) === "completed", 120_000, "the retried job to complete after the undrain");
  }, 240_000);

  test("the job page's event stream resumes after the connection drops: a completion that happened while cut off shows without a reload", async () => {
    const w = await worker();
    expect((await call(`/v1/workers/${w.id}/drain`, { method: "POST" })).status).toBe(200);
    await waitFor(async () => (await worker()).drain_requested, 30_000, "the worker to drain");
    const upload = await json<{ source_url: string }>(`/v1/files?filename=clip.mp4`, { method: "POST", body: Bun.file(clip) });
    const job = await json<{ id: string }>("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source_url: upload.source_url, profiles: ["360p_h264"] }) });
    // The page talks to the kernel through a relay the test can cut: a real drop of every connection,
    // the event stream's included (the browser's offline emulation leaves an open stream flowing).
    const proxy = startTcpProxy({ hostname: "127.0.0.1", port: Number(new URL(kernel.base).port) });
    const streamed: string[] = [];
    const sse = new AbortController();
    d.browser.on("Network.eventSourceMessageReceived", (m: { eventName: string }) => void streamed.push(m.eventName));
    await d.browser.send("Network.enable");
    try {
      // Signed in on the relay's origin with the same session (storage is per origin).
      const stores = await d.eval<string>("JSON.stringify([{ ...sessionStorage }, { ...localStorage }])");
      await d.browser.send("Page.navigate", { url: `${proxy.url}/` });
      await d.waitFor(`document.readyState === "complete" && location.origin === ${JSON.stringify(proxy.url)}`, "the relay's origin to load");
      await d.eval(`(() => { const [s, l] = ${stores}; for (const [k, v] of Object.entries(s)) sessionStorage.setItem(k, v); for (const [k, v] of Object.entries(l)) localStorage.setItem(k, v); })()`);
      await d.browser.send("Page.navigate", { url: `${proxy.url}/jobs/${job.id}` });
      await d.waitFor(`document.querySelector("[data-test=job-status]")?.textContent === "queued"`, "the queued job");
      await waitFor(() => streamed.includes("job.created"), 30_000, "the page's event stream to replay job.created");
      await d.eval("window.__sameDocument = true");
      proxy.cut();
      // The test's own stream, straight to the kernel: once job.completed is on it, a connected page has it too.
      const seen = collectSse(call(`/v1/events?job_id=${job.id}&last_event_id=0`, { signal: sse.signal }));
      expect((await call(`/v1/workers/${w.id}/undrain`, { method: "POST" })).status).toBe(200);
      await waitFor(() => seen.some((e) => e.type === "job.completed"), 120_000, "the job to complete while the page is cut off (on the test's own event stream)");
      await holdsFor(() => !streamed.includes("job.completed"), 1000, "the cut-off page not to receive job.completed");
      expect(await d.eval<string>(`document.querySelector("[data-test=job-status]").textContent`)).not.toBe("completed");
      proxy.restore();
      await d.waitFor(`document.querySelector("[data-test=job-status]")?.textContent === "completed" && document.querySelector("[data-test=job-progress]")?.dataset.progress === "100"`, "the page to catch up after reconnecting", 60_000);
      expect(streamed).toContain("job.completed");
      expect(await d.eval("window.__sameDocument === true")).toBe(true);
    } finally {
      sse.abort();
      proxy.close();
      await d.browser.send("Network.disable");
      await d.goto(`/jobs/${job.id}`); // back on the kernel's own origin for the tests below
    }
  }, 240_000);

  test("an upload in progress can be cancelled (nothing is kept); the jobs list filters by state", async () => {
    const big = join(scratch, "big.mp4");
    await Bun.write(big, new Uint8Array(8 * 1024 * 1024));
    await d.browser.send("Network.enable");
    // A slow uplink, so the upload is still running when Cancel is clicked.
    await d.browser.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 256 * 1024 });
    try {
      await navTo(d, "new-job");
      await d.setFile("[data-test=file]", big);
      await d.click("[data-test=profile-360p_h264]");
      await d.click("[data-test=submit-job]");
      await d.waitFor(`Number(document.querySelector("[data-test=upload-progress] [role=progressbar]")?.getAttribute("aria-valuenow")) > 0`, "the upload's progress to move");
      await d.click("[data-test=cancel-upload]");
      await d.waitFor(`document.querySelector("[data-test=error-code]")?.textContent === "CANCELLED"`, "the upload to be cancelled");
    } finally {
      await d.browser.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    }
    expect(await d.eval("location.pathname")).toBe("/jobs/new");
    await waitFor(async () => (await json<{ items: Array<{ filename: string }> }>("/v1/files")).items.every((f) => f.filename !== "big.mp4"), 30_000, "no upload named big.mp4 to be kept");
    await navTo(d, "jobs");
    await d.waitFor(`document.querySelector("[data-test=jobs-table]")`, "the jobs table");
    await d.eval(`(() => { const s = document.querySelector("select"); s.value = "completed"; s.dispatchEvent(new Event("change", { bubbles: true })); })()`);
    await d.waitFor(`location.search === "?status=completed" && document.querySelectorAll("[data-test=jobs-table] tbody tr").length >= 2 && [...document.querySelectorAll("[data-test=jobs-table] tbody .badge")].every((b) => b.textContent === "completed")`, "only completed jobs listed");
  }, 90_000);

  test("create an API key (shown once) and revoke one", async () => {
    await navTo(d, "api-keys");
    for (const [name, role] of [["dashboard-viewer", "viewer"], ["dashboard-temp", "operator"]] as const) {
      await d.type("[data-test=key-name]", name);
      await d.eval(`(() => { const s = document.querySelector("[data-test=key-role]"); s.value = "${role}"; })()`);
      await d.click("[data-test=create-key]");
      await d.waitFor(`document.querySelector("tr[data-key='${name}']") && document.querySelector("[data-test=created-key]")?.textContent.startsWith("we_")`, `key ${name} to be created and shown`);
      if (name === "dashboard-viewer") viewerKey = await d.eval<string>(`document.querySelector("[data-test=created-key]").textContent`);
    }
    await d.screenshot("api-keys");
    await d.click("tr[data-key='dashboard-temp'] [data-test=revoke]");
    await d.waitFor(`!document.querySelector("tr[data-key='dashboard-temp'] [data-test=revoke]")`, "the revoked key to lose its button");
    const keys = await json<{ items: Array<{ name: string; status: string }> }>("/v1/api-keys");
    expect(keys.items.find((k) => k.name === "dashboard-temp")?.status).toBe("revoked");
    expect((await fetch(`${kernel.base}/v1/auth/whoami`, { headers: { authorization: `Bearer ${viewerKey}` } })).status).toBe(200);
  }, 60_000);

  test("the other pages render their data or empty state; dark theme; the keyboard reaches the navigation", async () => {
    for (const [page, ready] of [
      ["profiles", "document.querySelector('table code')?.textContent === '1080p_h264'"],
      ["webhooks", "document.querySelector('[data-test=empty]')?.textContent.includes('No webhooks')"],
      ["users", "document.querySelector('[data-test=empty]') || document.querySelector('table')"],
      ["audit", "document.querySelector('table') && document.body.textContent.includes('jobs.create')"],
      ["streams", "document.querySelector('[data-test=empty]')?.textContent.includes('No live streams')"],
    ] as const) {
      await navTo(d, page);
      await d.waitFor(ready, `the ${page} page`);
      expect(await d.eval("document.querySelectorAll('[data-test=error]').length")).toBe(0);
      await d.screenshot(page);
    }
    // Streams: create one (its key is shown once), then it is listed idle.
    await d.click("main .page-head .primary");
    await d.type("input[name=name]", "dashboard-stream");
    await d.click("main form.inline button[type=submit]");
    await d.waitFor(`document.querySelector("code.secret")?.textContent.length > 10 && document.querySelector("[data-test=streams-table] [data-stream]")`, "the new stream and its key");
    const streams = await json<{ items: Array<{ name: string; is_live: boolean }> }>("/v1/streams");
    expect(streams.items.map((x) => [x.name, x.is_live])).toEqual([["dashboard-stream", false]]);
    await d.screenshot("streams");
    await d.click("button[aria-label='toggle light or dark theme']");
    const dark = await d.eval<string>("document.documentElement.dataset.theme");
    await navTo(d, "overview");
    await d.waitFor(`document.querySelector("[data-test=job-counts]")`, "the overview");
    await d.screenshot(`overview-${dark}`);
    await d.click("button[aria-label='toggle light or dark theme']");
    expect(await d.eval<string>("document.documentElement.dataset.theme")).not.toBe(dark);
    // A fresh load: the keyboard starts at the top of the document.
    await d.goto("/");
    await d.waitFor(`document.querySelector("[data-test=job-counts]")`, "the overview");
    for (let i = 0; i < 3; i++) {
      await d.browser.send("Input.dispatchKeyEvent", { type: "keyDown", key: "Tab", code: "Tab", windowsVirtualKeyCode: 9 });
      await d.browser.send("Input.dispatchKeyEvent", { type: "keyUp", key: "Tab", code: "Tab", windowsVirtualKeyCode: 9 });
    }
    // Skip link, brand, then the first navigation entry.
    expect(await d.eval<string>("document.activeElement?.dataset.test ?? document.activeElement?.textContent")).toBe("nav-overview");
  }, 60_000);

  test("a plugin config form shows the API's message at the invalid field", async () => {
    await navTo(d, "plugins");
    await d.click("[data-plugin=auth-basic] [data-test=configure]");
    await d.type("[data-test=config-auth-basic] input[name=session_ttl]", "5");
    await d.click("[data-test=config-auth-basic] [data-test=save-config]");
    await d.waitFor(`document.querySelector("[data-test=config-auth-basic] .field-error[data-field=session_ttl]")`, "the field's error");
    const message = await d.eval<string>(`document.querySelector("[data-test=config-auth-basic] .field-error[data-field=session_ttl]").textContent`);
    expect(message).toContain("60");
    expect(await d.eval<string>(`document.querySelector("[data-test=error-code]").textContent`)).toBe("WE-PLG-003");
    await d.screenshot("plugins");
  }, 60_000);

  test("a viewer sees no mutating buttons; the API refuses its forged call with 403; a 403 page shows code and message", async () => {
    await signOut(d);
    await signInWithKey(d, viewerKey);
    expect(await d.eval("Boolean(document.querySelector('[data-test=nav-new-job]'))")).toBe(false);
    await d.goto(`/jobs/${completedJob}`);
    await d.waitFor(`document.querySelector("[data-test=job-status]")?.textContent === "completed"`, "the job page");
    await navTo(d, "workers");
    await d.waitFor(`document.querySelector("[data-test=workers-table]")`, "the workers table");
    await navTo(d, "plugins");
    await d.waitFor(`document.querySelector("[data-plugin=auth-basic]")`, "the plugins");
    await navTo(d, "jobs");
    await d.waitFor(`document.querySelector("[data-test=jobs-table]")`, "the jobs table");
    const mutating = "[data-test=cancel],[data-test=retry],[data-test=delete],[data-test=drain],[data-test=undrain],[data-test=configure],[data-test=new-job],[data-test=revoke]";
    expect(await d.eval(`document.querySelectorAll(${JSON.stringify(mutating)}).length`)).toBe(0);
    const forged = await d.eval<{ status: number; code: string }>(`(async () => {
      const token = JSON.parse(sessionStorage.getItem("webencode.session")).token;
      const r = await fetch("/v1/jobs/${completedJob}", { method: "DELETE", headers: { authorization: "Bearer " + token } });
      return { status: r.status, code: (await r.json()).error.code };
    })()`);
    expect(forged.status).toBe(403);
    expect(forged.code).toMatch(/^WE-AUTH-/);
    expect(await jobStatus(completedJob)).toBe("completed");
    await d.goto("/audit");
    await d.waitFor(`document.querySelector("[data-test=error-code]")`, "the 403 on the audit page");
    expect(await d.eval<string>(`document.querySelector("[data-test=error]").textContent`)).toContain("403");
  }, 90_000);

  test("sign in with a username and password (auth-basic), then sign out; a wrong password shows the API's code", async () => {
    const created = await call("/v1/users", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "ops", password: "correct horse battery", roles: ["operator"] }) });
    expect(created.status).toBe(201);
    await signOut(d);
    for (const [password, ok] of [["wrong password!", false], ["correct horse battery", true]] as const) {
      await d.click("[data-test=tab-password]");
      await d.type("input[name=username]", "ops");
      await d.type("input[name=password]", password);
      await d.click("[data-test=sign-in]");
      if (ok) await d.waitFor(`document.querySelector("[data-test=who]")?.textContent.includes("operator")`, "the operator's session");
      else await d.waitFor(`document.querySelector("[data-test=error-code]")?.textContent === "WE-AUTH-001"`, "the refused login");
    }
    const stored = await d.eval<{ via: string; refresh: boolean }>(`(() => { const s = JSON.parse(sessionStorage.getItem("webencode.session")); return { via: s.via, refresh: Boolean(s.refresh_token) }; })()`);
    expect(stored).toEqual({ via: "password", refresh: true });
    expect(await d.eval("localStorage.getItem('webencode.session')")).toBeNull();
    await d.waitFor(`document.querySelector("[data-test=nav-new-job]") && !document.querySelector("[data-test=nav-api-keys]")`, "an operator's navigation");
    await signOut(d);
    expect(await d.eval("sessionStorage.getItem('webencode.session')")).toBeNull();
  }, 60_000);

  test("phone width: no page-wide horizontal scroll", async () => {
    await signInWithKey(d, TEST_ADMIN_KEY);
    await d.resize(390, 844);
    await navTo(d, "jobs");
    await d.waitFor(`document.querySelector("[data-test=jobs-table]")`, "the jobs table");
    expect(await d.eval<number>("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await d.screenshot("jobs-phone");
    await d.resize(1280, 860);
  }, 30_000);

  test("no console error or uncaught exception in any step", () => {
    expect(d.problems).toEqual([]);
  });
});

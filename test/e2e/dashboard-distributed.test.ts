/**
 * The web dashboard with the kernel in distributed mode (compiled kernel without an embedded worker, one
 * compiled worker process over NATS): the worker appears on the Workers page, and a job uploaded and
 * submitted through the UI runs on it and reaches 100 % on the job page without a reload. No console errors.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { TEST_ADMIN_KEY } from "../helpers/auth.ts";
import { Cluster, generateClip, type KernelProc } from "../helpers/cluster.ts";
import { navTo, openDashboard, signInWithKey, type Dashboard } from "../helpers/dashboard.ts";

let cluster: Cluster;
let kernel: KernelProc;
let d: Dashboard;
let clip: string;

beforeAll(async () => {
  cluster = await Cluster.create({ name: "dashboard-distributed" });
  clip = await generateClip(join(cluster.scratch, "clip.mp4"), { seconds: 2, width: 320, height: 240 });
  kernel = await cluster.startKernel("k1");
  await cluster.startWorker("ui-worker-1");
  d = await openDashboard(kernel.url);
}, 180_000);

afterAll(async () => {
  await d?.close();
  await cluster?.dispose();
});

test("distributed: the worker is listed; an uploaded job runs on it and reaches 100 % live", async () => {
  await signInWithKey(d, TEST_ADMIN_KEY);
  await navTo(d, "workers");
  await d.waitFor(`document.querySelector("tr[data-worker='ui-worker-1']")`, "the worker on the Workers page");
  await navTo(d, "new-job");
  await d.setFile("[data-test=file]", clip);
  await d.click("[data-test=profile-360p_h264]");
  await d.eval("window.__sameDocument = true");
  await d.click("[data-test=submit-job]");
  await d.waitFor(`/^\\/jobs\\/[0-9a-f-]{36}$/.test(location.pathname)`, "the job page after submitting");
  const id = (await d.eval<string>("location.pathname")).split("/")[2]!;
  await d.waitFor(`document.querySelector("[data-test=job-progress]")?.dataset.progress === "100" && document.querySelector("[data-test=job-status]")?.textContent === "completed"`, "100 % and completed", 120_000);
  expect(await d.eval("window.__sameDocument === true")).toBe(true);
  const job = (await (await kernel.fetch(`/v1/jobs/${id}`)).json()) as { status: string; tasks: Array<{ worker_id: string | null; type: string }> };
  expect(job.status).toBe("completed");
  expect(job.tasks.filter((t) => t.type === "video").every((t) => t.worker_id === "ui-worker-1")).toBe(true);
  await d.waitFor(`document.querySelector("[data-test=task-strip]")?.textContent.includes("ui-worker-1")`, "the task strip naming the worker");
  await d.waitFor(`document.querySelector("[data-test=mp4-player]")`, "the MP4 player");
  expect(d.problems).toEqual([]);
}, 240_000);

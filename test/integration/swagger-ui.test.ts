/**
 * Swagger UI in a real browser (headless Chromium over the DevTools protocol), as a new user uses it: the page
 * loads offline from the kernel, Authorize takes the API key, and "Try it out → Execute" shows the response —
 * a 200 body for the profile list, the upload file picker sending a real file (201 with its key), and the
 * job example, edited to that key, creating a job (201). An error (404) shows the envelope.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { TEST_ADMIN_KEY } from "../helpers/auth.ts";
import { type Browser, launchBrowser } from "../helpers/browser.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";

let k: TestKernel;
let b: Browser;

/** In-page helpers: wait for a condition; set a React-controlled field the way typing does. */
const PAGE_HELPERS = `
window.__wait = async (fn, ms = 30000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) { const v = fn(); if (v) return v; await new Promise((r) => setTimeout(r, 100)); }
  throw new Error("timed out waiting for " + fn);
};
window.__type = (el, value) => {
  const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
  Object.getOwnPropertyDescriptor(proto, "value").set.call(el, value);
  el.dispatchEvent(new Event("input", { bubbles: true }));
  el.dispatchEvent(new Event("change", { bubbles: true }));
};
window.__op = (id) => document.getElementById(id);
true`;

beforeAll(async () => {
  k = await startTestKernel();
  b = await launchBrowser();
  await b.send("Page.enable");
  await b.send("Page.navigate", { url: `${k.url}/swagger` });
  // The document is ready once Swagger UI rendered the operations.
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const ready = await b.evaluate<boolean>("document.readyState === 'complete' && !!window.ui").catch(() => false);
    if (ready) break;
    await Bun.sleep(200);
  }
  await b.evaluate(PAGE_HELPERS);
  await b.evaluate("__wait(() => document.querySelectorAll('.opblock').length > 40)");
}, 120_000);
afterAll(async () => {
  await b?.close();
  await k?.stop();
});

/** Expands an operation, presses Try it out, runs `prepare` (JS in the page), presses Execute; returns status and body shown. */
async function tryItOut(opId: string, prepare = ""): Promise<{ status: string; body: string }> {
  return b.evaluate(`(async () => {
    const op = await __wait(() => __op(${JSON.stringify(opId)}));
    if (!op.classList.contains("is-open")) op.querySelector(".opblock-summary-control").click();
    (await __wait(() => op.querySelector(".try-out__btn"))).click();
    await __wait(() => op.querySelector(".execute"));
    ${prepare}
    // Swagger UI debounces what is typed into parameters and bodies (300 ms) before it takes it.
    ${prepare ? "await new Promise((r) => setTimeout(r, 1000));" : ""}
    op.querySelector(".execute").click();
    const status = await __wait(() => op.querySelector(".live-responses-table tr.response .response-col_status")?.textContent.trim());
    const body = op.querySelector(".live-responses-table tr.response .response-col_description pre")?.textContent ?? "";
    return { status, body };
  })()`);
}

describe("Swagger UI, Try it out", () => {
  test("Authorize with the API key, then GET /v1/profiles shows 200 and the profiles", async () => {
    await b.evaluate(`(async () => {
      document.querySelector(".btn.authorize").click();
      const input = await __wait(() => document.getElementById("auth-bearer-value"));
      __type(input, ${JSON.stringify(TEST_ADMIN_KEY)});
      document.querySelector(".auth-btn-wrapper .btn.authorize").click();
      (await __wait(() => document.querySelector(".auth-btn-wrapper .btn-done"))).click();
      return true;
    })()`);
    const r = await tryItOut("operations-profiles-getV1Profiles");
    expect(r.status).toBe("200");
    expect(r.body).toContain('"720p_h264"');
  }, 60_000);

  test("POST /v1/files: the file picker uploads a real file (201 with its key)", async () => {
    const file = join(k.dataDir, "picked.mp4");
    writeFileSync(file, new Uint8Array(4096).fill(1));
    await b.evaluate(`(async () => {
      const op = await __wait(() => __op("operations-files-postV1Files"));
      op.querySelector(".opblock-summary-control").click();
      (await __wait(() => op.querySelector(".try-out__btn"))).click();
      await __wait(() => op.querySelector('input[type="file"]'));
      return true;
    })()`);
    // A file chosen in the picker: what a user's click on "Choose File" does, through the DevTools protocol.
    const { root } = await b.send<{ root: { nodeId: number } }>("DOM.getDocument", { depth: -1 });
    const { nodeId } = await b.send<{ nodeId: number }>("DOM.querySelector", { nodeId: root.nodeId, selector: '#operations-files-postV1Files input[type="file"]' });
    expect(nodeId).toBeGreaterThan(0);
    await b.send("DOM.setFileInputFiles", { nodeId, files: [file] });
    const r = await b.evaluate<{ status: string; body: string }>(`(async () => {
      const op = __op("operations-files-postV1Files");
      op.querySelector(".execute").click();
      const status = await __wait(() => op.querySelector(".live-responses-table tr.response .response-col_status")?.textContent.trim());
      return { status, body: op.querySelector(".live-responses-table tr.response .response-col_description pre")?.textContent ?? "" };
    })()`);
    expect(r.status).toBe("201");
    const uploaded = JSON.parse(r.body) as { key: string; size_bytes: number; filename: string };
    expect(uploaded).toMatchObject({ size_bytes: 4096, filename: "picked.mp4" });

    // The job example, with the uploaded key as source_url: a job is created.
    const job = await tryItOut(
      "operations-jobs-postV1Jobs",
      `const area = await __wait(() => op.querySelector("textarea.body-param__text"));
       const example = JSON.parse(area.value);
       if (!example.profiles.includes("720p_h264") || example.priority !== 0) throw new Error("unexpected example " + area.value);
       example.source_url = ${JSON.stringify(uploaded.key)};
       __type(area, JSON.stringify(example));`,
    );
    expect(job.status).toBe("201");
    expect(JSON.parse(job.body)).toMatchObject({ status: "queued", source_url: uploaded.key });
  }, 60_000);

  test("an error shows the envelope: an unknown job id is 404 WE-JOB-004 with a request id", async () => {
    const r = await tryItOut("operations-jobs-getV1JobsById", `__type(op.querySelector('input[placeholder="id"], tr[data-param-name="id"] input'), "00000000-0000-4000-8000-000000000000");`);
    expect(r.status).toBe("404");
    const body = JSON.parse(r.body) as { error: { code: string; message: string; request_id: string } };
    expect(body.error.code).toBe("WE-JOB-004");
    expect(body.error.request_id.length).toBeGreaterThan(0);
  }, 60_000);
});

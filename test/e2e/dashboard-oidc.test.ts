/**
 * Dashboard follow-ups (issue 17) in headless Chromium against the compiled kernel (embedded worker):
 * - sign-in through an OpenID Connect provider (test/helpers/oidc-provider.ts on another origin): the browser
 *   goes to the provider's authorization endpoint, comes back with a code, trades it (PKCE) at the token
 *   endpoint and lands on the overview with the role the provider gave; a viewer from the provider sees no
 *   mutating buttons; sign-out; the page's CSP lets it reach the provider's origin and no other;
 * - the Workers page lists the worker's current task with a link to its job (the task is held leased by a
 *   source server that never sends the body);
 * - the Jobs page's profile filter is the API's.
 * No console error in any step.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { withAuth } from "../helpers/auth.ts";
import { startCompiledKernel, type CompiledKernel } from "../helpers/compiled-kernel.ts";
import { navTo, openDashboard, signOut, type Dashboard } from "../helpers/dashboard.ts";
import { startOidcProvider, type TestOidcProvider } from "../helpers/oidc-provider.ts";
import { waitFor } from "../helpers/wait.ts";

let idp: TestOidcProvider;
let kernel: CompiledKernel;
let d: Dashboard;
/** A source that answers with headers and then never sends a byte: the analyze task stays leased. */
let stalled: ReturnType<typeof Bun.serve>;
const heldOpen: Array<ReadableStreamDefaultController<Uint8Array>> = [];

const call = (path: string, init?: RequestInit) => fetch(`${kernel.base}${path}`, withAuth(init));
const json = async <T>(path: string, init?: RequestInit) => (await (await call(path, init)).json()) as T;

beforeAll(async () => {
  idp = await startOidcProvider({ clientId: "webencode-ui" });
  stalled = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const headers = { "content-type": "video/mp4", "content-length": "10000000" };
      if (req.method === "HEAD") return new Response(null, { headers });
      return new Response(new ReadableStream<Uint8Array>({ start: (controller) => void heldOpen.push(controller) }), { headers });
    },
  });
  kernel = await startCompiledKernel({ EMBEDDED_WORKER: "true", OIDC_ISSUER_URL: idp.issuer, OIDC_CLIENT_ID: idp.clientId, OIDC_PROVIDER_NAME: "Test IdP" });
  await waitFor(async () => (await json<{ items: unknown[] }>("/v1/workers")).items.length > 0, 60_000, "the embedded worker to register");
  // auth-oidc discovers the provider when it starts.
  await waitFor(async () => (await json<{ state: string }>("/v1/plugins/auth-oidc")).state === "healthy", 60_000, "auth-oidc to be healthy");
  d = await openDashboard(kernel.base);
}, 180_000);

afterAll(async () => {
  await d?.close();
  await kernel?.dispose();
  for (const controller of heldOpen) controller.error(new Error("test over"));
  await stalled?.stop(true);
  await idp?.stop();
});

async function signInThroughProvider(roles: string[]): Promise<void> {
  idp.user = { sub: `user-${roles.join("-")}`, claims: { roles, name: `Pat ${roles.join(" ")}` } };
  await d.goto("/");
  await d.click("[data-test=sign-in-oidc]");
  await d.waitFor(`document.querySelector("[data-test=who]")`, "the signed-in shell after the provider's redirect", 30_000);
}

describe("dashboard: OIDC sign-in, current tasks, profile filter (compiled kernel)", () => {
  test("GET /v1/auth/providers is public and names the provider; the page's CSP admits its origin only", async () => {
    const providers = (await (await fetch(`${kernel.base}/v1/auth/providers`)).json()) as { oidc: { name: string; client_id: string; authorization_endpoint: string; token_endpoint: string } | null };
    expect(providers.oidc).toMatchObject({ name: "Test IdP", client_id: "webencode-ui", authorization_endpoint: `${idp.issuer}/protocol/openid-connect/auth`, token_endpoint: `${idp.issuer}/protocol/openid-connect/token` });
    const csp = (await fetch(`${kernel.base}/`)).headers.get("content-security-policy") ?? "";
    const origin = new URL(idp.issuer).origin;
    expect(csp).toContain(`connect-src 'self' ${origin};`);
    expect(csp).toContain(`form-action 'self' ${origin};`);
    expect(csp).toContain("script-src 'self';");
  });

  test("an admin from the provider signs in (code + PKCE), lands on the overview with its role, and signs out", async () => {
    const tokensBefore = idp.requests.token;
    await signInThroughProvider(["admin"]);
    expect(await d.eval<string>("location.pathname")).toBe("/");
    expect(await d.eval<string>("location.search")).toBe("");
    expect(await d.eval<string>(`document.querySelector("[data-test=who]").textContent`)).toBe("Pat admin · admin");
    expect(idp.requests.token).toBe(tokensBefore + 1);
    // In this tab only; the verifier was used once and is gone.
    const stored = await d.eval<{ tab: string | null; remembered: string | null; pending: string | null }>(`({ tab: sessionStorage.getItem("webencode.session"), remembered: localStorage.getItem("webencode.session"), pending: sessionStorage.getItem("webencode.oidc.pending") })`);
    expect(stored.remembered).toBeNull();
    expect(stored.pending).toBeNull();
    const session = JSON.parse(stored.tab ?? "{}") as { via: string; expires_at: number; refresh_token?: string };
    expect(session.via).toBe("oidc");
    expect(session.refresh_token).toBeUndefined();
    expect(session.expires_at).toBeGreaterThan(Date.now());
    expect(session.expires_at).toBeLessThanOrEqual(Date.now() + idp.tokenLifetime * 1000);
    // The token is the provider's: the API knows the caller as oidc:<sub>.
    const who = await d.eval<{ id: string; role: string }>(`(async () => (await fetch("/v1/auth/whoami", { headers: { authorization: "Bearer " + JSON.parse(sessionStorage.getItem("webencode.session")).token } })).json())()`);
    expect(who).toMatchObject({ id: "oidc:user-admin", role: "admin" });
    await navTo(d, "workers");
    await d.waitFor(`document.querySelector("[data-test=drain]")`, "an admin's Drain button");
    await signOut(d);
    expect(await d.eval("sessionStorage.getItem('webencode.session')")).toBeNull();
  }, 90_000);

  test("a callback this tab did not start (wrong state) is refused, and the code leaves the address bar", async () => {
    await d.goto("/sign-in?code=code-forged&state=not-ours");
    await d.waitFor(`document.querySelector("[data-test=error-message]")`, "the refusal");
    expect(await d.eval<string>(`document.querySelector("[data-test=error-message]").textContent`)).toContain("state mismatch");
    expect(await d.eval("location.search")).toBe("");
  });

  test("a viewer from the provider sees no mutating buttons", async () => {
    await signInThroughProvider(["viewer"]);
    expect(await d.eval<string>(`document.querySelector("[data-test=who]").textContent`)).toBe("Pat viewer · viewer");
    await navTo(d, "workers");
    await d.waitFor(`document.querySelector("[data-test=workers-table]")`, "the workers table");
    await navTo(d, "jobs");
    await d.waitFor(`document.querySelector("[data-test=jobs-table],[data-test=empty]")`, "the jobs page");
    const mutating = "[data-test=cancel],[data-test=retry],[data-test=delete],[data-test=drain],[data-test=undrain],[data-test=configure],[data-test=new-job],[data-test=revoke]";
    expect(await d.eval(`document.querySelectorAll(${JSON.stringify(mutating)}).length`)).toBe(0);
    await signOut(d);
  }, 90_000);

  test("the Workers page lists the worker's current task, linked to its job; the Jobs profile filter asks the API", async () => {
    const submit = (profiles: string[], file: string) =>
      json<{ id: string }>("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source_url: `http://127.0.0.1:${stalled.port}/${file}`, profiles }) });
    const held = await submit(["360p_h264"], "held.mp4");
    const [worker] = (await json<{ items: Array<{ id: string; current_tasks: Array<{ job_id: string; type: string }> }> }>("/v1/workers")).items;
    await waitFor(async () => (await json<{ current_tasks: Array<{ job_id: string }> }>(`/v1/workers/${worker!.id}`)).current_tasks.some((t) => t.job_id === held.id), 60_000, "the analyze task to be leased");
    await signInThroughProvider(["operator"]);
    await navTo(d, "workers");
    const link = `tr[data-worker='${worker!.id}'] [data-test=current-tasks] a[href='/jobs/${held.id}']`;
    await d.waitFor(`document.querySelector(${JSON.stringify(link)})`, "the current task's link");
    expect(await d.eval<string>(`document.querySelector(${JSON.stringify(link)}).textContent`)).toBe("analyze #0");
    await d.screenshot("workers");
    await d.click(link);
    await d.waitFor(`location.pathname === "/jobs/${held.id}" && document.querySelector("[data-test=job-status]")`, "the job page from the link");

    // Profile filter: a second job with another profile; the filter shows one of the two.
    const other = await submit(["720p_h264"], "other.mp4");
    await d.goto("/jobs?profile=720p_h264");
    await d.waitFor(`document.querySelector("[data-test=jobs-table] a[href='/jobs/${other.id}']")`, "the 720p job in the filtered list");
    expect(await d.eval(`Boolean(document.querySelector("[data-test=jobs-table] a[href='/jobs/${held.id}']"))`)).toBe(false);
    expect(await d.eval<string>(`document.querySelector("[data-test=profile-filter]").closest("label").textContent`)).not.toContain("this page");
    for (const id of [held.id, other.id]) expect((await call(`/v1/jobs/${id}/cancel`, { method: "POST" })).status).toBe(200);
    await signOut(d);
  }, 120_000);

  test("no console error or uncaught exception in any step", () => {
    expect(d.problems).toEqual([]);
  });
});

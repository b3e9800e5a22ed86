/**
 * Connecting a YouTube account through the kernel (local stand-in for YouTube's OAuth endpoints): an admin's
 * GET /v1/publishers/publisher-youtube/connect redirects to the consent page with state + PKCE; the callback
 * (public, reached by the provider's redirect) exchanges the code and stores the refresh token encrypted as the
 * plugin's secret; the plugin restarts connected; the connect is audited; no token in any response or log.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { callPublisher } from "../../src/kernel/publishers/call.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { type YouTubeStandIn, startYouTubeStandIn } from "../helpers/platform-standins.ts";
import { waitFor } from "../helpers/wait.ts";

let k: TestKernel;
let standIn: YouTubeStandIn;
let sql: postgres.Sql;
const logs: string[] = [];
beforeAll(async () => {
  standIn = startYouTubeStandIn();
  k = await startTestKernel({ logSink: logs });
  sql = postgres(k.db.url, { max: 1 });
  const configured = await k.fetch("/v1/plugins/publisher-youtube/config", {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      config: { client_id: standIn.clientId, client_secret: standIn.clientSecret, api_base_url: standIn.url, authorization_endpoint: `${standIn.url}/auth`, token_endpoint: `${standIn.url}/token` },
    }),
  });
  expect(configured.status).toBe(200);
  expect((await k.fetch("/v1/plugins/publisher-youtube/enable", { method: "POST" })).status).toBe(200);
}, 120_000);
afterAll(async () => {
  await sql?.end();
  await k?.stop();
  await standIn?.stop();
});

type PluginView = { state: string; health: { detail: string | null }; secrets: Record<string, string> };
const view = async () => (await (await k.fetch("/v1/plugins/publisher-youtube")).json()) as PluginView;

describe("connecting a publisher account (local stand-in for YouTube)", () => {
  test("connect → consent → callback stores the refresh token encrypted; the plugin comes up connected; audited", async () => {
    expect((await view()).health.detail).toBe("no YouTube account connected");
    const start = await k.fetch("/v1/publishers/publisher-youtube/connect", { redirect: "manual" });
    expect(start.status).toBe(302);
    const consentUrl = start.headers.get("location")!;
    expect(consentUrl.startsWith(`${standIn.url}/auth?`)).toBe(true);
    const params = new URL(consentUrl).searchParams;
    // PUBLIC_URL's origin (the test kernel listens on a random port, so only the path is compared).
    expect(new URL(params.get("redirect_uri")!).pathname).toBe("/v1/publishers/publisher-youtube/callback");
    expect(params.get("code_challenge_method")).toBe("S256");

    const back = new URL(standIn.consent(consentUrl));
    // The browser arrives without WebEncode credentials.
    const done = await fetch(`${k.url}${back.pathname}${back.search}`);
    const body = await done.text();
    expect(done.status).toBe(200);
    expect(JSON.parse(body)).toEqual({ plugin: "publisher-youtube", connected: true });

    const issued = standIn.tokenRequests.filter((r) => r.grant_type === "authorization_code");
    expect(issued.length).toBe(1);
    const [row] = await sql<{ secrets: Record<string, string> }[]>`select secrets from plugin_configs where id = 'publisher-youtube'`;
    expect(row!.secrets.refresh_token).toBeTruthy();
    expect(row!.secrets.refresh_token).not.toContain("1//refresh");
    await waitFor(async () => (await view()).state === "healthy", 30_000, "publisher-youtube healthy after connecting");
    expect((await view()).secrets.refresh_token).toBe("set");

    const [audit] = await sql<{ actor: string; action: string; status: number; target: string }[]>`select actor, action, status, target from audit_log where action = 'publishers.connect'`;
    expect(audit).toMatchObject({ action: "publishers.connect", status: 200, target: "publisher-youtube" });
    expect(audit!.actor).not.toBe("anonymous");

    const everything = logs.join("\n") + body;
    expect(everything).not.toContain("1//refresh");
    expect(everything).not.toContain("ya29-");
    expect(everything).not.toContain(standIn.clientSecret);
  }, 60_000);

  test("a refresh token rotated during a call is stored encrypted and stripped from the result", async () => {
    const stored = async () => (await sql<{ secrets: Record<string, string> }[]>`select secrets from plugin_configs where id = 'publisher-youtube'`)[0]!.secrets.refresh_token!;
    const before = k.handle.ctx.secrets.decrypt(await stored());
    standIn.rotate = true;
    try {
      const ingest = await callPublisher<Record<string, unknown>>(k.handle.ctx, "publisher-youtube", "prepare_live", { title: "rotation" });
      expect(Object.keys(ingest).sort()).toEqual(["broadcast_id", "key", "url", "watch_url"]);
      const after = k.handle.ctx.secrets.decrypt(await stored());
      expect(after).not.toBe(before);
      expect(standIn.tokenRequests.at(-1)).toMatchObject({ grant_type: "refresh_token", refresh_token: before });
      // The stored token is the one the provider now accepts (the old one was invalidated by the rotation).
      const next = await fetch(`${standIn.url}/token`, { method: "POST", body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: after, client_id: standIn.clientId, client_secret: standIn.clientSecret }) });
      expect(next.status).toBe(200);
    } finally {
      standIn.rotate = false;
    }
  });

  test("a forged or replayed state is refused with 400; connect needs an admin", async () => {
    const forged = await fetch(`${k.url}/v1/publishers/publisher-youtube/callback?code=x&state=${Buffer.from("nope").toString("base64url")}`);
    expect(forged.status).toBe(400);
    expect(((await forged.json()) as { error: { message: string } }).error.message).toBe("publisher-youtube: the state parameter is not one this kernel issued");
    const refused = await fetch(`${k.url}/v1/publishers/publisher-youtube/callback?error=access_denied`);
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { code: string; message: string } }).error.message).toBe("publisher-youtube: the provider refused the connection: access_denied");
    expect((await fetch(`${k.url}/v1/publishers/publisher-youtube/connect`, { redirect: "manual" })).status).toBe(401);
    const rtmp = await k.fetch("/v1/publishers/publisher-rtmp/connect", { redirect: "manual" });
    expect(rtmp.status).toBe(400);
    expect(((await rtmp.json()) as { error: { message: string } }).error.message).toBe("publisher publisher-rtmp has no account to connect (its settings hold everything it needs)");
    expect((await k.fetch("/v1/publishers/publisher-nope/connect", { redirect: "manual" })).status).toBe(404);
  });
});

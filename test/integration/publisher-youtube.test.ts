/**
 * publisher-youtube against a local stand-in for YouTube's documented OAuth 2.0 token endpoint and Data API
 * v3 live endpoints (test/helpers/platform-standins.ts; the only mock). The plugin's clock is injected, so
 * "an hour later" needs no waiting.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as v from "valibot";
import { pkceChallenge, pkcePair } from "../../src/plugin-runtime/shared/oauth.ts";
import { SCOPES, config, createYouTube } from "../../plugins/publisher-youtube/plugin.ts";
import { REFRESH_MARGIN_MS } from "../../src/plugin-runtime/shared/oauth-tokens.ts";
import { type YouTubeStandIn, callFailure, startYouTubeStandIn, youtubeStandInSettings } from "../helpers/platform-standins.ts";
import { callContext, runPublisherContract } from "../contract/publisher.contract.ts";

function youtube(standIn: YouTubeStandIn, refreshToken: string | undefined, clock = { now: Date.now() }) {
  const settings = v.parse(config, youtubeStandInSettings(standIn, refreshToken ? { refresh_token: refreshToken } : {}));
  return createYouTube(settings, () => clock.now);
}

let shared: YouTubeStandIn;
beforeAll(() => {
  shared = startYouTubeStandIn();
});
afterAll(async () => {
  await shared.stop();
});

runPublisherContract("publisher-youtube (local stand-in for YouTube)", async () => ({
  publisher: youtube(shared, shared.grantRefreshToken()),
  expectedUrl: "rtmps://a.rtmps.youtube.com/live2",
  hasBroadcasts: true,
  cleanup: async () => {},
}));

describe("publisher-youtube (local stand-in for YouTube)", () => {
  test("connect: the authorization URL carries state, PKCE S256 and the scopes; the code exchange yields the refresh token for the kernel", async () => {
    const plugin = youtube(shared, undefined);
    expect(plugin.health?.()).toEqual({ status: "degraded", detail: "no YouTube account connected" });
    const { verifier, challenge } = pkcePair();
    expect(pkceChallenge(verifier)).toBe(challenge);
    const redirect = "https://webencode.example/v1/publishers/publisher-youtube/callback";
    const { url } = await plugin.connect_url({ redirect_uri: redirect, state: "st-1", code_challenge: challenge });
    const params = new URL(url).searchParams;
    expect(url.startsWith(`${shared.url}/auth?`)).toBe(true);
    expect(Object.fromEntries(params)).toMatchObject({ response_type: "code", client_id: shared.clientId, redirect_uri: redirect, state: "st-1", code_challenge: challenge, code_challenge_method: "S256", access_type: "offline" });
    expect(params.get("scope")).toBe(SCOPES.join(" "));

    const connected = await plugin.connect_complete({ code: shared.grantCode(verifier, redirect), code_verifier: verifier, redirect_uri: redirect });
    expect(connected.connected).toBe(true);
    expect(connected.credentials?.refresh_token).toMatch(/^1\/\/refresh-/);
    // The connected token works.
    const live = await youtube(shared, connected.credentials!.refresh_token).prepare_live({ title: "after connect" }, callContext());
    expect(shared.broadcasts.get(live.broadcast_id!)?.status).toBe("ready");

    // A wrong verifier (PKCE) is refused by the provider.
    const wrong = await callFailure(plugin.connect_complete({ code: shared.grantCode(verifier, redirect), code_verifier: pkcePair().verifier, redirect_uri: redirect }));
    expect(wrong.code).toBe("WE-PUB-001");
    expect(wrong.message).toBe("publisher-youtube: the YouTube account must be reconnected: invalid_grant: Invalid code verifier.");
  });

  test("prepare_live creates, configures and binds a broadcast and a stream; end_live completes it", async () => {
    const before = shared.apiRequests.length;
    const plugin = youtube(shared, shared.grantRefreshToken());
    const live = await plugin.prepare_live({ title: "Launch", description: "d" }, callContext());
    const calls = shared.apiRequests.slice(before).map((r) => `${r.method} ${r.path}`);
    expect(calls).toEqual(["POST liveBroadcasts", "POST liveStreams", "POST liveBroadcasts/bind"]);
    const broadcast = shared.broadcasts.get(live.broadcast_id!)!;
    expect(broadcast).toMatchObject({ title: "Launch", privacy: "private", status: "ready" });
    expect(live.watch_url).toBe(`https://www.youtube.com/watch?v=${live.broadcast_id}`);
    expect(live.key).toMatch(/^[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}$/);
    expect(await plugin.start_live({ broadcast_id: live.broadcast_id! }, callContext())).toEqual({ started: true });
    expect(broadcast.status).toBe("live");
    expect(await plugin.end_live({ broadcast_id: live.broadcast_id }, callContext())).toEqual({ ended: true });
    expect(broadcast.status).toBe("complete");
    // YouTube's own refusal comes back with its message.
    const again = await callFailure(plugin.end_live({ broadcast_id: live.broadcast_id }, callContext()));
    expect(again.code).toBe("WE-PUB-003");
    expect(again.message).toBe("publisher-youtube: YouTube refused to end the broadcast (HTTP 403, redundantTransition): The broadcast is already in the requested status.");
  });

  test("the access token is refreshed before it expires, not after; one refresh however many calls wait", async () => {
    const clock = { now: Date.now() };
    const refreshToken = shared.grantRefreshToken();
    const plugin = youtube(shared, refreshToken, clock);
    const refreshes = () => shared.tokenRequests.filter((r) => r.grant_type === "refresh_token" && r.refresh_token === refreshToken).length;
    await Promise.all([plugin.prepare_live({}, callContext()), plugin.prepare_live({}, callContext())]);
    expect(refreshes()).toBe(1);
    // Still well within the hour: the same access token.
    clock.now += 3600_000 - REFRESH_MARGIN_MS - 60_000;
    await plugin.prepare_live({}, callContext());
    expect(refreshes()).toBe(1);
    // Inside the margin (the stand-in would still accept the old token): refreshed ahead of expiry.
    clock.now += 120_000;
    const tokenBefore = shared.apiRequests.at(-1)!.token;
    await plugin.prepare_live({}, callContext());
    expect(refreshes()).toBe(2);
    expect(shared.apiRequests.at(-1)!.token).not.toBe(tokenBefore);
  });

  test("an access token the API refuses (401) before its expiry is refreshed once and the call retried", async () => {
    const refreshToken = shared.grantRefreshToken();
    const plugin = youtube(shared, refreshToken);
    await plugin.prepare_live({}, callContext());
    shared.expireAccessTokens();
    const before = shared.tokenRequests.filter((r) => r.refresh_token === refreshToken).length;
    const live = await plugin.prepare_live({}, callContext());
    expect(shared.broadcasts.get(live.broadcast_id!)?.status).toBe("ready");
    expect(shared.tokenRequests.filter((r) => r.refresh_token === refreshToken).length).toBe(before + 1);
  });

  test("a rotated refresh token is handed to the kernel once, and the plugin goes on with it", async () => {
    const rotating = startYouTubeStandIn();
    try {
      rotating.rotate = true;
      const clock = { now: Date.now() };
      const first = rotating.grantRefreshToken();
      const plugin = youtube(rotating, first, clock);
      const live = await plugin.prepare_live({}, callContext());
      const second = live.credentials?.refresh_token;
      expect(second).toMatch(/^1\/\/refresh-/);
      expect(second).not.toBe(first);
      expect((await plugin.end_live({ broadcast_id: live.broadcast_id }, callContext())).credentials).toBeUndefined();
      // The old token is dead at the provider; the plugin refreshes with the new one an hour later.
      clock.now += 3600_000;
      const later = await plugin.prepare_live({}, callContext());
      expect(rotating.tokenRequests.at(-1)).toMatchObject({ grant_type: "refresh_token", refresh_token: second });
      expect(later.credentials?.refresh_token).toMatch(/^1\/\/refresh-/);
      expect(later.credentials?.refresh_token).not.toBe(second);
      // The stored (kernel's) copy is what a restarted plugin starts from: it works.
      expect((await youtube(rotating, later.credentials!.refresh_token).prepare_live({}, callContext())).key).toBeTruthy();
    } finally {
      await rotating.stop();
    }
  });

  test("a revoked refresh token is a terminal 'reconnect the account' state: no retry loop", async () => {
    const clock = { now: Date.now() };
    const refreshToken = shared.grantRefreshToken();
    const plugin = youtube(shared, refreshToken, clock);
    await plugin.prepare_live({}, callContext());
    shared.revoke(refreshToken);
    clock.now += 3600_000;
    const message = "publisher-youtube: the YouTube account must be reconnected: invalid_grant: Token has been expired or revoked.";
    const error = await callFailure(plugin.prepare_live({}, callContext()));
    expect(error.code).toBe("WE-PUB-001");
    expect(error.message).toBe(message);
    expect(error.details).toEqual({ reconnect: true });
    const asked = shared.tokenRequests.length;
    for (let i = 0; i < 3; i++) expect((await callFailure(plugin.prepare_live({}, callContext()))).message).toBe(message);
    expect(shared.tokenRequests.length).toBe(asked);
    expect(plugin.health?.()).toEqual({ status: "degraded", detail: message });
  });

  test("an exhausted API quota is reported as a quota error", async () => {
    const plugin = youtube(shared, shared.grantRefreshToken());
    shared.quotaExhausted = true;
    try {
      const error = await callFailure(plugin.prepare_live({}, callContext()));
      expect(error.code).toBe("WE-PUB-002");
      expect(error.message).toBe(
        "publisher-youtube: YouTube API quota exceeded (quotaExceeded) while trying to create the broadcast: The request cannot be completed because you have exceeded your quota.",
      );
      expect(error.details).toEqual({ status: 403, reason: "quotaExceeded" });
    } finally {
      shared.quotaExhausted = false;
    }
  });

  test("no access token appears in any result or error; refresh tokens only in `credentials`", async () => {
    const plugin = youtube(shared, shared.grantRefreshToken());
    const outputs: string[] = [];
    const live = await plugin.prepare_live({}, callContext());
    outputs.push(JSON.stringify(live), JSON.stringify(await plugin.end_live({ broadcast_id: live.broadcast_id }, callContext())));
    shared.quotaExhausted = true;
    try {
      const error = await callFailure(plugin.prepare_live({}, callContext()));
      outputs.push(error.message, JSON.stringify(error.details));
    } finally {
      shared.quotaExhausted = false;
    }
    const secrets = [...shared.issuedAccessTokens(), shared.clientSecret];
    for (const output of outputs) for (const secret of secrets) expect(output).not.toContain(secret);
    expect(outputs.join(" ")).not.toContain("1//refresh");
  });

  test("missing client settings: WE-PLG-003 naming them; endpoints must be https (http only on loopback)", async () => {
    const plugin = createYouTube(v.parse(config, {}));
    const error = await callFailure(plugin.prepare_live({}, callContext()));
    expect(error.code).toBe("WE-PLG-003");
    expect(error.message).toBe("publisher-youtube: set client_id and client_secret in the plugin settings (PUT /v1/plugins/publisher-youtube/config)");
    expect(v.safeParse(config, { token_endpoint: "http://oauth.example/token" }).success).toBe(false);
    expect(v.safeParse(config, { privacy: "everyone" }).success).toBe(false);
  });
});

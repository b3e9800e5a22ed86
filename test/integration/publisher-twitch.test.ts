/**
 * publisher-twitch against a local stand-in for Twitch's documented OAuth token endpoint, Helix API and ingest
 * list (test/helpers/platform-standins.ts; the only mock): stream key from the API, ingest server choice,
 * refresh-token rotation handed to the kernel, a refused refresh token → terminal reconnect, rate limit.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as v from "valibot";
import { chooseIngest } from "../../plugins/publisher-twitch/ingests.ts";
import { config, createTwitch } from "../../plugins/publisher-twitch/plugin.ts";
import { type TwitchStandIn, callFailure, startTwitchStandIn } from "../helpers/platform-standins.ts";
import { callContext, runPublisherContract } from "../contract/publisher.contract.ts";

let standIn: TwitchStandIn;
beforeAll(() => {
  standIn = startTwitchStandIn();
});
afterAll(async () => {
  await standIn.stop();
});

function twitch(refreshToken: string, ingestServer = "auto") {
  return createTwitch(
    v.parse(config, {
      client_id: standIn.clientId,
      client_secret: standIn.clientSecret,
      refresh_token: refreshToken,
      ingest_server: ingestServer,
      api_base_url: standIn.url,
      ingests_url: `${standIn.url}/ingests`,
      authorization_endpoint: `${standIn.url}/oauth2/authorize`,
      token_endpoint: `${standIn.url}/oauth2/token`,
    }),
  );
}

runPublisherContract("publisher-twitch (local stand-in for Twitch)", async () => ({
  publisher: twitch(standIn.grantRefreshToken()),
  expectedUrl: "rtmp://sea02.contribute.live-video.net/app",
  hasBroadcasts: false,
  cleanup: async () => {},
}));

describe("publisher-twitch (local stand-in for Twitch)", () => {
  test("the stream key comes from the API; the ingest server is the one chosen; the rotated refresh token is handed on once", async () => {
    const first = standIn.grantRefreshToken();
    const plugin = twitch(first, "EU: Frankfurt, DE");
    const live = await plugin.prepare_live({});
    expect(live.url).toBe("rtmp://fra05.contribute.live-video.net/app");
    expect(live.key).toBe(standIn.streamKey);
    expect(live.watch_url).toBe("https://www.twitch.tv/standin_streamer");
    expect(live.credentials?.refresh_token).toMatch(/^twrefresh-/);
    expect(live.credentials?.refresh_token).not.toBe(first);
    expect((await plugin.prepare_live({})).credentials).toBeUndefined();
    const unknown = await callFailure(twitch(standIn.grantRefreshToken(), "Atlantis").prepare_live({}));
    expect(unknown.code).toBe("WE-PLG-003");
    expect(unknown.message).toBe(`publisher-twitch: no available Twitch ingest server named "Atlantis"; use "auto" or a name from ${standIn.url}/ingests`);
  });

  test("a refused refresh token is terminal: reconnect the account, no retries", async () => {
    const refreshToken = standIn.grantRefreshToken();
    standIn.revoke(refreshToken);
    const plugin = twitch(refreshToken);
    const message = "publisher-twitch: the Twitch account must be reconnected: Bad Request: Invalid refresh token";
    expect(await callFailure(plugin.prepare_live({}))).toMatchObject({ code: "WE-PUB-001", message });
    const asked = standIn.tokenRequests.length;
    expect(await callFailure(plugin.prepare_live({}))).toMatchObject({ code: "WE-PUB-001", message });
    expect(standIn.tokenRequests.length).toBe(asked);
    expect(plugin.health?.()).toEqual({ status: "degraded", detail: message });
  });

  test("Helix's rate limit is reported as such", async () => {
    const plugin = twitch(standIn.grantRefreshToken());
    standIn.rateLimited = true;
    try {
      expect(await callFailure(plugin.prepare_live({}))).toMatchObject({ code: "WE-PUB-002", message: "publisher-twitch: Twitch API rate limit exceeded while trying to read the connected user: Too Many Requests" });
    } finally {
      standIn.rateLimited = false;
    }
    // The refresh before the refused call rotated the token: the next result hands it on.
    const ended = await plugin.end_live({}, callContext());
    expect(ended.ended).toBe(false);
    expect((ended as { credentials?: { refresh_token: string } }).credentials?.refresh_token).toMatch(/^twrefresh-/);
  });

  test("ingest choice: auto takes Twitch's default; unavailable servers are never chosen", () => {
    const ingests = [
      { _id: 7, availability: 0, default: true, name: "Down", priority: 0, url_template: "rtmp://down/app/{stream_key}" },
      { _id: 8, availability: 1, default: false, name: "B", priority: 5, url_template: "rtmp://b/app/{stream_key}" },
      { _id: 9, availability: 1, default: false, name: "A", priority: 1, url_template: "rtmp://a/app/{stream_key}" },
    ];
    expect(chooseIngest(ingests, "auto")).toEqual({ name: "A", url: "rtmp://a/app" });
    expect(chooseIngest(ingests, "8")).toEqual({ name: "B", url: "rtmp://b/app" });
    expect(chooseIngest(ingests, "down")).toBeNull();
  });
});

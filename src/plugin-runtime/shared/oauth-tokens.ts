/**
 * Keeps one account's access token fresh: refreshed before it expires (REFRESH_MARGIN_MS ahead, one refresh
 * at a time however many calls wait), a rotated refresh token handed to `persist` before it is used, and a
 * refused refresh token turned into a terminal state: every later call fails at once with WE-PUB-001
 * ("reconnect the account") without asking the provider again, until the account is connected anew.
 */
import { PluginError } from "../sdk.ts";
import { GrantRefused, type OAuthClient, requestToken } from "./oauth.ts";

/** Refresh this long before the access token expires, so a call never carries a token about to lapse. */
export const REFRESH_MARGIN_MS = 5 * 60_000;

export interface TokenKeeperOptions {
  /** The OAuth client; throws WE-PLG-003 while its settings are missing. */
  client(): OAuthClient;
  refreshToken: string | undefined;
  /** Stores a rotated refresh token (encrypted, as the plugin's secret). Awaited before the new token is used. */
  persist(refreshToken: string): Promise<void>;
  now?: () => number;
}

export type TokenState = { kind: "connected" } | { kind: "not_connected" } | { kind: "reconnect"; message: string };

export class TokenKeeper {
  private refreshToken: string | undefined;
  private access: { token: string; expiresAt: number } | undefined;
  private inflight: Promise<string> | undefined;
  private refused: string | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: TokenKeeperOptions) {
    this.refreshToken = opts.refreshToken;
    this.now = opts.now ?? Date.now;
  }

  state(): TokenState {
    if (this.refused) return { kind: "reconnect", message: this.refused };
    return this.refreshToken ? { kind: "connected" } : { kind: "not_connected" };
  }

  /** A valid access token, refreshed first when it expires within REFRESH_MARGIN_MS. */
  async accessToken(): Promise<string> {
    if (this.refused) throw new PluginError("WE-PUB-001", this.refused, { reconnect: true });
    if (!this.refreshToken) {
      const client = this.opts.client();
      throw new PluginError("WE-PUB-001", `${client.pluginId}: no ${client.platform} account is connected; an admin connects one at GET /v1/publishers/${client.pluginId}/connect`, { reconnect: true });
    }
    if (this.access && this.access.expiresAt - REFRESH_MARGIN_MS > this.now()) return this.access.token;
    this.inflight ??= this.refresh().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /** Forgets the access token (the API answered 401 for it), so the next call refreshes. */
  invalidate(): void {
    this.access = undefined;
  }

  private async refresh(): Promise<string> {
    let answer;
    try {
      answer = await requestToken(this.opts.client(), { grant_type: "refresh_token", refresh_token: this.refreshToken! });
    } catch (e) {
      if (e instanceof GrantRefused) {
        this.refused = e.message;
        this.access = undefined;
      }
      throw e;
    }
    if (answer.refresh_token && answer.refresh_token !== this.refreshToken) {
      // Persist first: the provider may already have invalidated the old token, and losing the new one
      // would disconnect the account at the next kernel restart.
      await this.opts.persist(answer.refresh_token);
      this.refreshToken = answer.refresh_token;
    }
    this.access = { token: answer.access_token, expiresAt: this.now() + answer.expires_in * 1000 };
    return answer.access_token;
  }
}

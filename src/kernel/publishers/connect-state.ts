/**
 * The OAuth `state` of a publisher connect: which plugin, which admin, the PKCE verifier and an expiry,
 * encrypted with the kernel's secret key. The provider hands it back to the callback unchanged, so any kernel
 * behind the balancer can finish the flow with no stored session, and nobody else can mint or read one (the
 * verifier stays secret; a forged or replayed-late state is refused).
 */
import * as v from "valibot";
import type { SecretBox } from "../../core/secret-box.ts";

/** Ten minutes to consent on the provider's page. */
export const CONNECT_STATE_TTL_MS = 10 * 60_000;

const payload = v.object({ plugin: v.string(), actor: v.string(), role: v.string(), verifier: v.string(), expires_at: v.number() });
export type ConnectState = v.InferOutput<typeof payload>;

export function sealConnectState(box: SecretBox, state: Omit<ConnectState, "expires_at">, now = Date.now()): string {
  return Buffer.from(box.encrypt(JSON.stringify({ ...state, expires_at: now + CONNECT_STATE_TTL_MS }))).toString("base64url");
}

/** The state, or why it is refused ("expired", "invalid", "for another plugin"). */
export function openConnectState(box: SecretBox, sealed: string, plugin: string, now = Date.now()): { state: ConnectState } | { problem: string } {
  let parsed: unknown;
  try {
    const stored = Buffer.from(sealed, "base64url").toString("utf8");
    if (!box.isEncrypted(stored)) return { problem: "the state parameter is not one this kernel issued" };
    parsed = JSON.parse(box.decrypt(stored));
  } catch {
    return { problem: "the state parameter is not one this kernel issued" };
  }
  const result = v.safeParse(payload, parsed);
  if (!result.success) return { problem: "the state parameter is not one this kernel issued" };
  if (result.output.plugin !== plugin) return { problem: `the state parameter was issued for ${result.output.plugin}, not ${plugin}` };
  if (result.output.expires_at < now) return { problem: "the connect link expired (10 minutes); start again at GET /v1/publishers/" + plugin + "/connect" };
  return { state: result.output };
}

/**
 * Connecting a publisher account (OAuth 2.0 authorization code + PKCE, docs/publishers.md): `beginConnect`
 * makes the provider's consent URL for an admin, `completeConnect` exchanges the code the provider sends back
 * and stores the refresh token as the plugin's secret, then restarts the plugin here and announces the change
 * to the other kernels so every one of them uses the new account.
 */
import { createHash, randomBytes } from "node:crypto";
import { AppError } from "../../core/errors.ts";
import { PLUGIN_CHANGED, type PluginChanged } from "../../plugin-runtime/remote-settings.ts";
import type { PluginSupervisor } from "../../plugin-runtime/host/supervisor.ts";
import { recordAudit } from "../auth/audit.ts";
import type { Principal } from "../auth/principal.ts";
import type { KernelContext } from "../context.ts";
import { publicUrl } from "../plugin-registry/defaults.ts";
import { openConnectState, sealConnectState } from "./connect-state.ts";
import { keepCredentials } from "./credentials.ts";

function connectablePublisher(ctx: KernelContext, id: string): PluginSupervisor {
  const sup = ctx.plugins.get(id);
  if (!sup || sup.manifest?.pillar !== "publisher") throw new AppError("WE-PLG-001", `publisher ${id} not found; GET /v1/plugins lists the installed ones`);
  if (!sup.manifest.capabilities.includes("oauth")) throw new AppError("WE-REQ-001", `publisher ${id} has no account to connect (its settings hold everything it needs)`);
  return sup;
}

export function callbackUrl(ctx: KernelContext, id: string): string {
  return `${publicUrl(ctx.config)}/v1/publishers/${id}/callback`;
}

/** The provider's consent URL (state + PKCE S256) for `principal`, an admin. */
export async function beginConnect(ctx: KernelContext, id: string, principal: Principal): Promise<string> {
  const sup = connectablePublisher(ctx, id);
  const verifier = randomBytes(32).toString("base64url");
  const state = sealConnectState(ctx.secrets, { plugin: id, actor: principal.id, role: principal.role, verifier });
  const { url } = await sup.call<{ url: string }>("connect_url", {
    redirect_uri: callbackUrl(ctx, id),
    state,
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
  });
  return url;
}

export interface CallbackQuery {
  code?: string;
  state?: string;
  error?: string;
  error_description?: string;
}

/** Finishes a connect; audited as `publishers.connect` under the admin who began it. */
export async function completeConnect(ctx: KernelContext, id: string, query: CallbackQuery, request: { requestId: string; clientIp: string | null; userAgent: string | null }): Promise<{ plugin: string; connected: true }> {
  const sup = connectablePublisher(ctx, id);
  if (query.error) throw new AppError("WE-PUB-001", `${id}: the provider refused the connection: ${query.error}${query.error_description ? `: ${query.error_description}` : ""}`);
  if (!query.code || !query.state) throw new AppError("WE-REQ-001", `${id}: the callback needs the code and state the provider sends; start at GET /v1/publishers/${id}/connect`);
  const opened = openConnectState(ctx.secrets, query.state, id);
  if ("problem" in opened) throw new AppError("WE-REQ-001", `${id}: ${opened.problem}`);
  const principal: Principal = { id: opened.state.actor, name: opened.state.actor, role: opened.state.role as Principal["role"], via: "publisher-connect" };
  const audit = (status: number) =>
    recordAudit(ctx, { principal, method: "GET", route: "/v1/publishers/:id/callback", params: { id }, status, clientIp: request.clientIp, userAgent: request.userAgent, requestId: request.requestId });
  try {
    const result = await sup.call<{ connected: boolean; credentials?: unknown }>("connect_complete", { code: query.code, code_verifier: opened.state.verifier, redirect_uri: callbackUrl(ctx, id) });
    await keepCredentials(ctx.pluginSettings, id, result);
  } catch (error) {
    await audit(error instanceof AppError ? error.status : 500);
    throw error;
  }
  if (sup.state !== "disabled") await sup.restart();
  await ctx.bus
    .publish(PLUGIN_CHANGED, { id, origin: ctx.instanceId } satisfies PluginChanged)
    .catch((error) => ctx.logger.warn({ error, plugin: id }, "could not announce the publisher's new account"));
  await audit(200);
  return { plugin: id, connected: true };
}

/**
 * `/v1/plugins`: state, health, version, capabilities and configuration (secrets never returned: shown as
 * set/unset) of the kernel's plugins; configuration changes validated by the plugin itself; enable/disable.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { AppError } from "../../core/errors.ts";
import type { PluginSupervisor } from "../../plugin-runtime/host/supervisor.ts";
import type { KernelContext } from "../context.ts";
import { disableRefusal } from "../plugin-registry/required.ts";
import { splitSecrets } from "../plugin-registry/settings-store.ts";
import { summarizeWorkerStates, workerPluginStates } from "../plugin-registry/worker-states.ts";
import { PLUGIN_CHANGED, type PluginChanged } from "../../plugin-runtime/remote-settings.ts";

export async function pluginView(ctx: KernelContext, sup: PluginSupervisor) {
  const m = sup.manifest;
  const remote = ctx.plugins.getCataloged(sup.id) === sup;
  const settings = await ctx.pluginSettings.get(sup.id);
  const secretFields = m?.secret_fields ?? [];
  const { plain } = splitSecrets(settings?.config ?? {}, secretFields);
  const secrets = Object.fromEntries(secretFields.map((f) => [f, settings?.config?.[f] ? "set" : "unset"]));
  const onWorkers = remote ? await workerPluginStates(ctx, sup.id) : undefined;
  const enabled = remote ? (settings?.enabled ?? true) : sup.state !== "disabled";
  const state = onWorkers ? summarizeWorkerStates(onWorkers, enabled) : sup.state;
  return {
    id: sup.id,
    pillar: m?.pillar ?? null,
    version: m?.version ?? null,
    api_version: m?.api_version ?? null,
    hosted_by: remote ? "workers" : "kernel",
    state,
    health: { status: state, detail: sup.healthDetail ?? null, checked_at: sup.lastHealthAt ?? null },
    ...(onWorkers ? { workers: onWorkers } : {}),
    last_error: sup.lastError ?? null,
    restarts: sup.restarts,
    builtin: sup.source.builtin,
    source: sup.source.builtin ? "built-in" : (sup.source.path ?? null),
    enabled,
    priority: settings?.priority ?? m?.priority ?? 0,
    capabilities: m?.capabilities ?? [],
    schemes: m?.schemes ?? [],
    config: plain,
    secrets,
    config_schema: m?.config_schema ?? null,
  };
}

function mustGet(ctx: KernelContext, id: string): PluginSupervisor {
  const sup = ctx.plugins.get(id) ?? ctx.plugins.getCataloged(id);
  if (!sup) throw new AppError("WE-PLG-001", `plugin ${id} not found; GET /v1/plugins lists the installed ones`);
  return sup;
}

const idParams = v.object({ id: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "invalid plugin id")) });

const configBody = v.object({
  config: v.record(v.string(), v.unknown()),
  priority: v.optional(v.pipe(v.number(), v.integer(), v.minValue(-1000), v.maxValue(1000))),
});

export function pluginRoutes(ctx: KernelContext) {
  const changes = pluginChanges(ctx);
  return new Elysia({ prefix: "/v1/plugins", detail: { tags: ["plugins"] } } as never)
    .get("", async () => ({ items: await Promise.all([...ctx.plugins.list(), ...ctx.plugins.cataloged()].map((s) => pluginView(ctx, s))) }), {
      detail: { summary: "List plugins (the kernel's, and those the workers run, e.g. encoder-ffmpeg)" },
    })
    .get("/:id", ({ params }) => pluginView(ctx, mustGet(ctx, params.id)), { params: idParams, detail: { summary: "One plugin" } })
    .put("/:id/config", ({ params, body }) => changes.configure(params.id, body), {
      params: idParams,
      body: configBody,
      detail: { summary: "Replace a plugin's configuration (validated by the plugin; the plugin restarts)" },
    })
    .post("/:id/enable", ({ params }) => changes.enable(params.id), { params: idParams, detail: { summary: "Enable (and start) a plugin" } })
    .post("/:id/disable", ({ params }) => changes.disable(params.id), {
      params: idParams,
      detail: { summary: "Disable (and stop) a plugin; 409 WE-PLG-002 for the last enabled encoder or storage plugin (every deployment needs one)" },
    })
    .post("/:id/reload", ({ params }) => changes.reload(params.id), {
      params: idParams,
      detail: {
        summary:
          "Hot-reload a plugin from its binary (after replacing it in PLUGIN_DIR): the new version takes over once it has started and answered its health check, calls in flight finish on the old one; 409 WE-PLG-006 when the new version fails (the old one keeps serving). Workers running the plugin are told to do the same.",
      },
    });
}

/** Every plugin this kernel knows (its own and the workers'), enabled or not by the stored settings. */
function enabledStates(ctx: KernelContext) {
  return Promise.all(
    [...ctx.plugins.list(), ...ctx.plugins.cataloged()].map(async (s) => ({ id: s.id, pillar: s.manifest?.pillar, enabled: (await ctx.pluginSettings.get(s.id))?.enabled ?? true })),
  );
}

/** Configure, enable and disable: stored, applied here (a plugin the kernel runs), announced to the others. */
function pluginChanges(ctx: KernelContext) {
  const isRemote = (sup: PluginSupervisor) => isRemotePlugin(ctx, sup);
  const announce = (id: string) => announceChange(ctx, id);
  return {
    async configure(id: string, body: v.InferOutput<typeof configBody>) {
      const sup = mustGet(ctx, id);
      const m = sup.manifest;
      if (!m) throw new AppError("WE-PLG-004", `plugin ${sup.id} never described itself (${sup.lastError ?? "not started"}); it cannot be configured`);
      // Omitted secret fields keep their stored value (write-only): merge before validating.
      const current = (await ctx.pluginSettings.get(sup.id))?.config ?? {};
      const keptSecrets = Object.fromEntries(m.secret_fields.filter((f) => body.config[f] === undefined && current[f] !== undefined).map((f) => [f, current[f]]));
      const candidate = { ...body.config, ...keptSecrets };
      await sup.validateConfig(candidate);
      await ctx.pluginSettings.saveConfig(sup.id, m.pillar, candidate, m.secret_fields, body.priority);
      if (!isRemote(sup) && sup.state !== "disabled") await sup.restart();
      await announce(sup.id);
      return pluginView(ctx, sup);
    },
    async enable(id: string) {
      const sup = mustGet(ctx, id);
      if (!sup.manifest) throw new AppError("WE-PLG-004", `plugin ${sup.id} cannot be enabled: ${sup.lastError ?? "it never started"}`);
      await ctx.pluginSettings.setEnabled(sup.id, sup.manifest.pillar, true);
      if (!isRemote(sup)) await sup.restart();
      await announce(sup.id);
      return pluginView(ctx, sup);
    },
    reload: (id: string) => reloadPlugin(ctx, id),
    async disable(id: string) {
      const sup = mustGet(ctx, id);
      if (!sup.manifest) throw new AppError("WE-PLG-004", `plugin ${sup.id} has no manifest: ${sup.lastError ?? "it never started"}`);
      const refusal = disableRefusal(sup.id, sup.manifest.pillar, await enabledStates(ctx));
      if (refusal) throw new AppError("WE-PLG-002", refusal, { plugin: sup.id, pillar: sup.manifest.pillar });
      await ctx.pluginSettings.setEnabled(sup.id, sup.manifest.pillar, false);
      if (!isRemote(sup)) await sup.disable();
      await announce(sup.id);
      return pluginView(ctx, sup);
    },
  };
}

function isRemotePlugin(ctx: KernelContext, sup: PluginSupervisor): boolean {
  return ctx.plugins.getCataloged(sup.id) === sup;
}

/** Tells the other kernels and the workers (`plugin.changed`); they restart the plugin, or hot-reload it for "reload". */
function announceChange(ctx: KernelContext, id: string, action?: PluginChanged["action"]): Promise<void> {
  return ctx.bus
    .publish(PLUGIN_CHANGED, { id, origin: ctx.instanceId, ...(action ? { action } : {}) } satisfies PluginChanged)
    .catch((error) => ctx.logger.warn({ error, plugin: id }, "could not announce plugin change"));
}

/** Hot reload here first (WE-PLG-006 stops it all when the new version fails), then every other kernel and worker. */
async function reloadPlugin(ctx: KernelContext, id: string) {
  const sup = mustGet(ctx, id);
  const remote = isRemotePlugin(ctx, sup);
  const here = remote ? undefined : await ctx.plugins.hotReload(sup.id);
  await announceChange(ctx, sup.id, "reload");
  return { id: sup.id, hosted_by: remote ? "workers" : "kernel", from: here?.from ?? null, to: here?.to ?? sup.manifest?.version ?? null, swapped: here?.swapped ?? false, announced: true };
}

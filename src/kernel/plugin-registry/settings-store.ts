/**
 * Plugin settings in `plugin_configs`: enabled flag, priority, configuration, and secret fields kept apart
 * (write-only through the API). Cached per kernel; a change anywhere is announced on the bus
 * (`plugin.changed`) so every kernel and worker reloads and restarts that plugin.
 */
import { and, eq, sql } from "drizzle-orm";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../../core/logger.ts";
import type { Db } from "../../db/client.ts";
import { pluginConfigs } from "../../db/schema.ts";
import type { PluginSettings, PluginSettingsSource } from "../../plugin-runtime/host/host.ts";
import { PILLARS, type Pillar } from "../../plugin-runtime/protocol.ts";
import type { SecretBox } from "../../core/secret-box.ts";

export type Row = typeof pluginConfigs.$inferSelect;

/** Splits a configuration into plain and secret fields. Pure. */
export function splitSecrets(config: Record<string, unknown>, secretFields: string[]) {
  const plain: Record<string, unknown> = {};
  const secrets: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) {
    if (secretFields.includes(k)) {
      if (v !== undefined && v !== null && v !== "") secrets[k] = String(v);
    } else plain[k] = v;
  }
  return { plain, secrets };
}

/** Stores a plugin's enabled flag (also used by `webencode-kernel plugins enable`, which has no store). */
export async function setPluginEnabled(db: Db, id: string, pillar: Pillar, enabled: boolean): Promise<void> {
  await db
    .insert(pluginConfigs)
    .values({ id, pillar, enabled })
    .onConflictDoUpdate({ target: pluginConfigs.id, set: { enabled, updatedAt: new Date() } });
}

export class PluginSettingsStore implements PluginSettingsSource {
  private cache = new Map<string, PluginSettings | undefined>();

  constructor(
    private readonly db: Db,
    /** Settings for plugins with no row yet (built-in defaults derived from the kernel's config). */
    private readonly defaults: Record<string, PluginSettings>,
    /** Secret fields are stored encrypted (enc:v1:…) and decrypted only to hand them to the plugin. */
    private readonly box: SecretBox,
  ) {}

  private decryptAll(secrets: Record<string, string>): Record<string, string> {
    return Object.fromEntries(Object.entries(secrets).map(([k, v]) => [k, this.box.decrypt(v)]));
  }

  private encryptAll(secrets: Record<string, string>): Record<string, string> {
    return Object.fromEntries(Object.entries(secrets).map(([k, v]) => [k, this.box.isEncrypted(v) ? v : this.box.encrypt(v)]));
  }

  async get(id: string): Promise<PluginSettings | undefined> {
    if (this.cache.has(id)) return this.cache.get(id);
    const row = await this.row(id);
    const base = this.defaults[id];
    const settings: PluginSettings | undefined = row
      ? { enabled: row.enabled, priority: row.priority ?? base?.priority, config: { ...base?.config, ...row.config, ...this.decryptAll(row.secrets) } }
      : base;
    this.cache.set(id, settings);
    return settings;
  }

  async row(id: string): Promise<Row | undefined> {
    const [row] = await this.db.select().from(pluginConfigs).where(eq(pluginConfigs.id, id));
    return row;
  }

  invalidate(id?: string): void {
    if (id) this.cache.delete(id);
    else this.cache.clear();
  }

  /** Replaces the plain configuration; secret fields given replace stored ones, omitted ones are kept. */
  async saveConfig(id: string, pillar: Pillar, config: Record<string, unknown>, secretFields: string[], priority?: number): Promise<void> {
    const existing = await this.row(id);
    const { plain, secrets } = splitSecrets(config, secretFields);
    const merged = this.encryptAll({ ...(existing?.secrets ?? {}), ...secrets });
    await this.db
      .insert(pluginConfigs)
      .values({ id, pillar, config: plain, secrets: merged, enabled: existing?.enabled ?? this.defaults[id]?.enabled ?? true, priority: priority ?? existing?.priority ?? null })
      .onConflictDoUpdate({ target: pluginConfigs.id, set: { config: plain, secrets: merged, ...(priority !== undefined ? { priority } : {}), updatedAt: new Date() } });
    this.invalidate(id);
  }

  /** Sets one secret field without touching the rest (e.g. a generated signing key). */
  async setSecret(id: string, pillar: Pillar, field: string, value: string): Promise<void> {
    const existing = await this.row(id);
    const secrets = this.encryptAll({ ...(existing?.secrets ?? {}), [field]: value });
    await this.db
      .insert(pluginConfigs)
      .values({ id, pillar, secrets, enabled: this.defaults[id]?.enabled ?? true })
      .onConflictDoUpdate({ target: pluginConfigs.id, set: { secrets, updatedAt: new Date() } });
    this.invalidate(id);
  }

  /**
   * A random secret field the platform generates once per deployment (storage-fs's URL signing key,
   * auth-basic's session key). The write lands only while the field is unset, so kernels starting together
   * all end up with the first one instead of each overwriting the others'.
   */
  async ensureGeneratedSecret(id: string, pillar: Pillar, field: string, bytes: number): Promise<void> {
    if ((await this.get(id))?.config[field]) return;
    const value = this.box.encrypt(Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("base64url"));
    const inserted = await this.db
      .insert(pluginConfigs)
      .values({ id, pillar, enabled: this.defaults[id]?.enabled ?? true, secrets: { [field]: value } })
      .onConflictDoNothing()
      .returning({ id: pluginConfigs.id });
    if (!inserted.length) {
      await this.db
        .update(pluginConfigs)
        .set({ secrets: sql`${pluginConfigs.secrets} || ${JSON.stringify({ [field]: value })}::jsonb`, updatedAt: new Date() })
        .where(and(eq(pluginConfigs.id, id), sql`not (${pluginConfigs.secrets} ? ${field})`));
    }
    this.invalidate(id);
  }

  async setEnabled(id: string, pillar: Pillar, enabled: boolean): Promise<void> {
    await setPluginEnabled(this.db, id, pillar, enabled);
    this.invalidate(id);
  }

  /**
   * Seeds rows from `PLUGIN_DIR/plugins.toml` for plugins that have none yet (the database wins after
   * that: the API is the place to change a running system). Returns the ids seeded.
   *
   *   [storage-s3]
   *   enabled = true
   *   priority = 90
   *   [storage-s3.config]
   *   bucket = "media"
   */
  async seedFromToml(pluginDir: string, logger: Logger): Promise<string[]> {
    const path = join(pluginDir, "plugins.toml");
    if (!existsSync(path)) return [];
    let doc: Record<string, { enabled?: boolean; priority?: number; pillar?: string; config?: Record<string, unknown> }>;
    try {
      doc = Bun.TOML.parse(readFileSync(path, "utf8")) as typeof doc;
    } catch (e) {
      throw new Error(`${path} is not valid TOML: ${(e as Error).message}`);
    }
    const seeded: string[] = [];
    for (const [id, entry] of Object.entries(doc)) {
      const pillar = (entry.pillar ?? guessPillar(id)) as Pillar;
      if (!PILLARS.includes(pillar)) {
        logger.warn({ plugin: id, path }, `plugins.toml: cannot tell the pillar of ${id}; add pillar = "storage" (or auth, encoder, live, publisher)`);
        continue;
      }
      const rows = await this.db
        .insert(pluginConfigs)
        .values({ id, pillar, enabled: entry.enabled ?? true, priority: entry.priority ?? null, config: entry.config ?? {} })
        .onConflictDoNothing()
        .returning({ id: pluginConfigs.id });
      if (rows.length) seeded.push(id);
    }
    this.invalidate();
    return seeded;
  }
}

function guessPillar(id: string): string | undefined {
  return PILLARS.find((p) => id.startsWith(`${p}-`));
}

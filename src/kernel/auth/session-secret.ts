/**
 * auth-basic signs session tokens with `session_secret`, which must be the same on every kernel of a
 * deployment. The first kernel to start generates it and stores it (encrypted) in plugin_configs; the write
 * only lands when no secret exists yet, so kernels starting together cannot end up with different ones.
 */
import { and, eq, sql } from "drizzle-orm";
import type { SecretBox } from "../../core/secret-box.ts";
import type { Db } from "../../db/client.ts";
import { pluginConfigs } from "../../db/schema.ts";
import type { PluginSettingsStore } from "../plugins/settings-store.ts";

const ID = "auth-basic";
const FIELD = "session_secret";

export async function ensureSessionSecret(db: Db, box: SecretBox, store: PluginSettingsStore): Promise<void> {
  const settings = await store.get(ID);
  if (settings?.config[FIELD]) return;
  const value = box.encrypt(Buffer.from(crypto.getRandomValues(new Uint8Array(48))).toString("base64url"));
  const inserted = await db
    .insert(pluginConfigs)
    .values({ id: ID, pillar: "auth", enabled: settings?.enabled ?? true, secrets: { [FIELD]: value } })
    .onConflictDoNothing()
    .returning({ id: pluginConfigs.id });
  if (!inserted.length) {
    await db
      .update(pluginConfigs)
      .set({ secrets: sql`${pluginConfigs.secrets} || ${JSON.stringify({ [FIELD]: value })}::jsonb`, updatedAt: new Date() })
      .where(and(eq(pluginConfigs.id, ID), sql`not (${pluginConfigs.secrets} ? ${FIELD})`));
  }
  store.invalidate(ID);
}

/**
 * The kernel's secret box (secrets at rest) and the key rotation command.
 *
 * Rotation (docs/security.md): set SECRET_KEY to the new key and SECRET_KEY_PREVIOUS to the old one on every
 * kernel, restart them, run `webencode-kernel admin reencrypt-secrets` once, then remove SECRET_KEY_PREVIOUS.
 */
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { createSecretBox, loadOrCreateKeyFile, type SecretBox } from "../core/secret-box.ts";
import type { Db } from "../db/client.ts";
import { pluginConfigs, webhooks } from "../db/schema.ts";
import { assertSecretKey, type KernelConfig } from "./config.ts";

export const SECRET_KEY_FILE = "secret.key";

/** SECRET_KEY, or in standalone mode a key generated once into DATA_DIR/secret.key (0600). */
export function kernelSecretBox(config: Pick<KernelConfig, "SECRET_KEY" | "SECRET_KEY_PREVIOUS" | "DATA_DIR" | "standalone">): SecretBox {
  assertSecretKey(config);
  return createSecretBox(config.SECRET_KEY ?? loadOrCreateKeyFile(join(config.DATA_DIR, SECRET_KEY_FILE)), config.SECRET_KEY_PREVIOUS);
}

/** Rewrites every stored secret with the current key; returns how many values were rewritten. */
export async function reencryptSecrets(db: Db, box: SecretBox): Promise<number> {
  let n = 0;
  await db.transaction(async (tx) => {
    for (const row of await tx.select({ id: pluginConfigs.id, secrets: pluginConfigs.secrets }).from(pluginConfigs).for("update")) {
      const next = Object.fromEntries(Object.entries(row.secrets).map(([k, v]) => [k, box.encrypt(box.decrypt(v))]));
      n += Object.keys(next).length;
      await tx.update(pluginConfigs).set({ secrets: next }).where(eq(pluginConfigs.id, row.id));
    }
    for (const row of await tx.select({ id: webhooks.id, secretEnc: webhooks.secretEnc }).from(webhooks).for("update")) {
      await tx.update(webhooks).set({ secretEnc: box.encrypt(box.decrypt(row.secretEnc)) }).where(eq(webhooks.id, row.id));
      n += 1;
    }
  });
  return n;
}

/**
 * Secrets at rest (plugin secrets, webhook secrets, stream keys, publisher tokens): AES-256-GCM with a key
 * derived from SECRET_KEY by HKDF-SHA256. Stored as `enc:v1:<iv>:<ciphertext+tag>` (base64url), so a value
 * written before encryption existed (plain text) is still readable and is re-encrypted on its next write.
 *
 * Every kernel of a deployment must have the same SECRET_KEY; a value that does not decrypt (wrong key,
 * tampered row) raises a SecretKeyError naming the likely cause instead of returning garbage.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

const PREFIX = "enc:v1:";

export class SecretKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecretKeyError";
  }
}

export interface SecretBox {
  /** HMAC-SHA256 (base64url) of `data` under a key derived for `purpose`: short-lived tokens the kernel signs. */
  mac(purpose: string, data: string): string;
  /** True when `mac` is `data`'s MAC for `purpose` under the current or the previous key (constant time). */
  macMatches(purpose: string, data: string, mac: string): boolean;
  encrypt(plain: string): string;
  /** Plain text passes through unchanged (values stored before encryption). */
  decrypt(stored: string): string;
  isEncrypted(stored: string): boolean;
}

const deriveKey = (secretKey: string) => Buffer.from(hkdfSync("sha256", secretKey, "webencode", "secrets-at-rest/v1", 32));

function open(key: Buffer, ivText: string, bodyText: string): string {
  const body = Buffer.from(bodyText, "base64url");
  const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(ivText, "base64url"));
  decipher.setAuthTag(body.subarray(body.length - 16));
  return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString("utf8");
}

/**
 * `previousKey` (SECRET_KEY_PREVIOUS) is tried when the current key does not open a value: during a key
 * rotation, values written with the old key stay readable until `webencode-kernel admin reencrypt-secrets`
 * has rewritten them with the new one.
 */
export function createSecretBox(secretKey: string, previousKey?: string): SecretBox {
  const key = deriveKey(secretKey);
  const keys = previousKey ? [key, deriveKey(previousKey)] : [key];
  const secrets = previousKey ? [secretKey, previousKey] : [secretKey];
  // MAC keys are derived once per (key, purpose), not on every token checked.
  const macKeys = new Map<string, Buffer>();
  const macWith = (secret: string, purpose: string, data: string) => {
    const id = `${secrets.indexOf(secret)}:${purpose}`;
    let k = macKeys.get(id);
    if (!k) macKeys.set(id, (k = Buffer.from(hkdfSync("sha256", secret, "webencode", `mac/${purpose}`, 32))));
    return createHmac("sha256", k).update(data).digest("base64url");
  };
  return {
    mac: (purpose, data) => macWith(secretKey, purpose, data),
    macMatches(purpose, data, mac) {
      const given = Buffer.from(mac);
      return secrets.some((s) => {
        const want = Buffer.from(macWith(s, purpose, data));
        return want.length === given.length && timingSafeEqual(want, given);
      });
    },
    encrypt(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", key, iv);
      const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final(), cipher.getAuthTag()]);
      return `${PREFIX}${iv.toString("base64url")}:${body.toString("base64url")}`;
    },
    decrypt(stored) {
      if (!stored.startsWith(PREFIX)) return stored;
      const [ivText = "", bodyText = ""] = stored.slice(PREFIX.length).split(":");
      for (const k of keys) {
        try {
          return open(k, ivText, bodyText);
        } catch {
          // try the previous key, if any
        }
      }
      throw new SecretKeyError(
        "a stored secret cannot be decrypted: SECRET_KEY differs from the key it was encrypted with (every kernel must use the same SECRET_KEY; during a rotation set SECRET_KEY_PREVIOUS to the old key)",
      );
    },
    isEncrypted: (stored) => stored.startsWith(PREFIX),
  };
}

/**
 * The key for standalone mode when SECRET_KEY is unset: generated once into `file` (mode 0600) and reused,
 * so secrets survive restarts. Distributed mode requires SECRET_KEY (src/kernel/config.ts).
 */
export function loadOrCreateKeyFile(file: string): string {
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(dirname(file), { recursive: true });
  const key = randomBytes(32).toString("hex");
  writeFileSync(file, `${key}\n`, { mode: 0o600, flag: "wx" });
  chmodSync(file, 0o600);
  return key;
}

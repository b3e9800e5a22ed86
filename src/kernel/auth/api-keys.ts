/**
 * API keys: `we_` + 40 random base62 characters (~238 bits). Only the SHA-256 of a key is stored — a key has
 * enough entropy that a slow hash adds nothing, and a lookup is one indexed query, cached for a second per
 * kernel (API_KEY_CACHE_TTL_MS). The key is returned once, when it is created.
 */
import { createHash, randomBytes } from "node:crypto";
import { and, desc, eq, gt, inArray, isNull, lt, or, sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { apiKeys } from "../../db/schema.ts";
import type { Principal, Role } from "./principal.ts";

export const API_KEY_PREFIX = "we_";
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

export type ApiKeyRow = typeof apiKeys.$inferSelect;

/** A new random key. Rejection sampling keeps every character equally likely. */
export function generateApiKey(): string {
  let out = API_KEY_PREFIX;
  while (out.length < API_KEY_PREFIX.length + 40) {
    for (const b of randomBytes(64)) {
      if (b < 248 && out.length < API_KEY_PREFIX.length + 40) out += ALPHABET[b % 62];
    }
  }
  return out;
}

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/** What lists show so a user can tell keys apart: the first 11 characters ("we_AbC12345"). */
export function displayPrefix(key: string): string {
  return key.slice(0, 11);
}

export async function createApiKey(
  db: Db,
  opts: { name: string; role: Role; createdBy: string; expiresAt?: Date | null; key?: string },
): Promise<{ row: ApiKeyRow; key: string }> {
  const key = opts.key ?? generateApiKey();
  const [row] = await db
    .insert(apiKeys)
    .values({ name: opts.name, role: opts.role, createdBy: opts.createdBy, expiresAt: opts.expiresAt ?? null, prefix: displayPrefix(key), keyHash: hashApiKey(key) })
    .returning();
  return { row: row!, key };
}

export type KeyCheck = { ok: true; row: ApiKeyRow } | { ok: false; reason: "unknown" | "revoked" | "expired" };

/**
 * How long a kernel trusts a key row it read: every authenticated request needs the key, and at a thousand
 * requests a second one indexed query each is a thousand round trips. A revocation through the API drops the
 * key from this kernel's cache at once; another kernel, or a change made directly in the database, is seen
 * within this time. Only usable keys are cached: an unknown, revoked or expired key is looked up every time.
 */
export const API_KEY_CACHE_TTL_MS = 1000;
const API_KEY_CACHE_MAX = 10_000;

/** Per database handle (tests run several kernels, each on its own database, in one process). */
const keyCaches = new WeakMap<object, Map<string, { row: ApiKeyRow; at: number }>>();

function keyCacheOf(db: Db): Map<string, { row: ApiKeyRow; at: number }> {
  let cache = keyCaches.get(db);
  if (!cache) keyCaches.set(db, (cache = new Map()));
  return cache;
}

/** The key's row: from this kernel's cache while it is younger than API_KEY_CACHE_TTL_MS, else one indexed query. */
async function keyRow(db: Db, hash: string): Promise<ApiKeyRow | undefined> {
  const cache = keyCacheOf(db);
  const hit = cache.get(hash);
  if (hit && performance.now() - hit.at < API_KEY_CACHE_TTL_MS) return hit.row;
  const at = performance.now();
  const [row] = await db.select().from(apiKeys).where(eq(apiKeys.keyHash, hash));
  if (!row || row.revokedAt) {
    cache.delete(hash);
    return row;
  }
  if (cache.size >= API_KEY_CACHE_MAX) cache.clear(); // a bound, not an LRU: a refill costs one query per key
  cache.set(hash, { row, at });
  return row;
}

/** Forgets a key this kernel cached (revoked through this kernel: no grace period). */
function forgetKey(db: Db, id: string): void {
  const cache = keyCacheOf(db);
  for (const [hash, entry] of cache) if (entry.row.id === id) cache.delete(hash);
}

/** Looks a presented key up; records its use at most once a minute (a write per request would be waste). */
export async function verifyApiKey(db: Db, key: string, now = new Date()): Promise<KeyCheck> {
  const row = await keyRow(db, hashApiKey(key));
  if (!row) return { ok: false, reason: "unknown" };
  if (row.revokedAt) return { ok: false, reason: "revoked" };
  if (row.expiresAt && row.expiresAt <= now) return { ok: false, reason: "expired" };
  if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > 60_000) {
    // Noted on the cached row too, so the cache does not repeat the write for every request of the next second.
    row.lastUsedAt = now;
    await db
      .update(apiKeys)
      .set({ lastUsedAt: now })
      .where(and(eq(apiKeys.id, row.id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, sql`now() - interval '60 seconds'`))));
  }
  return { ok: true, row };
}

/** The API key a principal stands for ("key:<id>", also through a stream token), or undefined. Pure. */
export function apiKeyIdOf(principal: Principal | undefined): string | undefined {
  const m = principal ? /^key:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i.exec(principal.id) : null;
  return m?.[1];
}

/** Which of `ids` are keys that may still be used (neither revoked nor expired): one query for any number. */
export async function activeApiKeyIds(db: Db, ids: readonly string[], now = new Date()): Promise<Set<string>> {
  if (!ids.length) return new Set();
  const rows = await db
    .select({ id: apiKeys.id })
    .from(apiKeys)
    .where(and(inArray(apiKeys.id, [...ids]), isNull(apiKeys.revokedAt), or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, now))));
  return new Set(rows.map((r) => r.id));
}

export async function listApiKeys(db: Db): Promise<ApiKeyRow[]> {
  return db.select().from(apiKeys).orderBy(desc(apiKeys.createdAt));
}

/** Revokes a key (idempotent); undefined when there is no such key. */
export async function revokeApiKey(db: Db, id: string): Promise<ApiKeyRow | undefined> {
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
    .where(eq(apiKeys.id, id))
    .returning();
  forgetKey(db, id);
  return row;
}

/** The public view of a key (never its hash). */
export function apiKeyView(row: ApiKeyRow) {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    role: row.role,
    created_by: row.createdBy,
    created_at: row.createdAt.toISOString(),
    expires_at: row.expiresAt?.toISOString() ?? null,
    last_used_at: row.lastUsedAt?.toISOString() ?? null,
    revoked_at: row.revokedAt?.toISOString() ?? null,
    status: row.revokedAt ? "revoked" : row.expiresAt && row.expiresAt <= new Date() ? "expired" : "active",
  };
}

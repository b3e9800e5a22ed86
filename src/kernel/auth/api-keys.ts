/**
 * API keys: `we_` + 40 random base62 characters (~238 bits). Only the SHA-256 of a key is stored — a key has
 * enough entropy that a slow hash adds nothing, and lookups stay one indexed query per request. The key is
 * returned once, when it is created.
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

/** Looks a presented key up; records its use at most once a minute (a write per request would be waste). */
export async function verifyApiKey(db: Db, key: string, now = new Date()): Promise<KeyCheck> {
  const [row] = await db.select().from(apiKeys).where(eq(apiKeys.keyHash, hashApiKey(key)));
  if (!row) return { ok: false, reason: "unknown" };
  if (row.revokedAt) return { ok: false, reason: "revoked" };
  if (row.expiresAt && row.expiresAt <= now) return { ok: false, reason: "expired" };
  if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > 60_000) {
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

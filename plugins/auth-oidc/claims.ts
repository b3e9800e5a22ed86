/**
 * From a verified token's claims to WebEncode roles. Pure.
 *
 * Providers put roles in different places: Keycloak `realm_access.roles` (nested), Auth0 a namespaced
 * custom claim whose name is a URL full of dots (`https://example.com/roles`), Okta `groups`. A path is
 * therefore resolved greedily: at each level the longest key that exists wins, so both forms work.
 */
export const WEBENCODE_ROLES = ["viewer", "operator", "admin"] as const;
export type WebEncodeRole = (typeof WEBENCODE_ROLES)[number];

/** The value at a dotted claim path (`realm_access.roles`, `https://x.example/roles`), or undefined. */
export function claimAt(obj: unknown, path: string): unknown {
  if (obj === null || typeof obj !== "object") return undefined;
  const rec = obj as Record<string, unknown>;
  if (Object.hasOwn(rec, path)) return rec[path];
  for (let i = path.lastIndexOf("."); i > 0; i = path.lastIndexOf(".", i - 1)) {
    const head = path.slice(0, i);
    if (Object.hasOwn(rec, head)) {
      const found = claimAt(rec[head], path.slice(i + 1));
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** A claim value as a list of names: an array of strings, or one string of space/comma-separated names. */
export function namesOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((x): x is string => typeof x === "string" && x !== "");
  if (typeof value === "string") return value.split(/[\s,]+/).filter(Boolean);
  return [];
}

/**
 * Provider role/group names → WebEncode roles. With a `roleMap`, only mapped names count (a provider group
 * that happens to be called "admin" grants nothing unless mapped); without one, the names viewer, operator
 * and admin count as themselves. `defaultRole` applies when nothing matched.
 */
export function mapRoles(names: string[], roleMap: Record<string, WebEncodeRole> | undefined, defaultRole?: WebEncodeRole): WebEncodeRole[] {
  const out = new Set<WebEncodeRole>();
  const hasMap = roleMap !== undefined && Object.keys(roleMap).length > 0;
  for (const n of names) {
    if (hasMap) {
      if (Object.hasOwn(roleMap!, n)) out.add(roleMap![n]!);
    } else if ((WEBENCODE_ROLES as readonly string[]).includes(n)) out.add(n as WebEncodeRole);
  }
  if (!out.size && defaultRole) out.add(defaultRole);
  return [...out];
}

/** A display name: the configured claim, else name, preferred_username, email, then the subject. */
export function displayName(claims: Record<string, unknown>, nameClaim?: string): string {
  for (const c of [nameClaim, "name", "preferred_username", "email"]) {
    if (!c) continue;
    const v = claimAt(claims, c);
    if (typeof v === "string" && v) return v;
  }
  return String(claims.sub);
}

/** Who is calling: resolved once per request by the auth middleware (src/kernel/auth/middleware.ts). */
import { ROLES } from "../../db/schema.ts";

export type Role = (typeof ROLES)[number];
export { ROLES };

export interface Principal {
  /** "key:<api key id>", "basic:<username>", "oidc:<sub>", or "dev" in AUTH_DEV_MODE. */
  id: string;
  /** Human-readable name (key name, username, email). */
  name: string;
  role: Role;
  /** Which mechanism authenticated it: "api_key", an auth plugin id, or "dev". */
  via: string;
}

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

/** Roles are nested: an admin may do what an operator may, an operator what a viewer may. Pure. */
export function roleAllows(have: Role, need: Role): boolean {
  return RANK[have] >= RANK[need];
}

/** The strongest of several roles (an OIDC user may carry several); undefined when none is known. Pure. */
export function highestRole(roles: readonly string[]): Role | undefined {
  let best: Role | undefined;
  for (const r of roles) if ((ROLES as readonly string[]).includes(r) && (!best || RANK[r as Role] > RANK[best])) best = r as Role;
  return best;
}

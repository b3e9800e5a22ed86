/** Roles as the API grants them (docs/security.md): each includes the ones below it. */
export type Role = "viewer" | "operator" | "admin";

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export function isRole(value: unknown): value is Role {
  return value === "viewer" || value === "operator" || value === "admin";
}

/** Whether `role` may use what needs `need`: the dashboard hides what the API would refuse. */
export function can(role: Role | undefined, need: Role): boolean {
  return role !== undefined && RANK[role] >= RANK[need];
}

import { ApiError } from "../errors.js";
import { ROLES } from "./schemas.js";

export { ROLES };
export type Role = (typeof ROLES)[number];

const RANK: Record<Role, number> = { owner: 3, admin: 2, member: 1 };

export const isRole = (v: string): v is Role => (ROLES as readonly string[]).includes(v);

export function hasRole(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}

/** The 403 of an action the role cannot do, naming the role it needs. */
export function forbidden(needed: Role, role: Role, what = "This"): ApiError {
  const who = needed === "owner" ? "an owner" : needed === "admin" ? "an admin or owner" : "a member";
  return new ApiError("FORBIDDEN", `${what} needs the ${needed} role (${who}); you act as ${role}.`);
}

/** Whether an actor of `role` may give or take `target` (admins manage admins and members, never owners). */
export function checkManages(role: Role, target: Role): void {
  if (target === "owner" && role !== "owner") throw forbidden("owner", role, "Managing an owner");
}

/**
 * Looking people up: what the other domains (accounts, the Timeline, sending, webhook
 * filters) read of a teammate. Apart from service.ts, which calls into those domains when a
 * person is removed, so that they need not import it back.
 */
import type { DB } from "../db/index.js";
import type { Role } from "./roles.js";

export interface TeammateView {
  id: string;
  full_name: string;
  email: string;
  role: Role;
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export const TEAMMATE_COLUMNS = ["id", "full_name", "email", "role"] as const;

export async function findTeammateByEmail(
  db: DB,
  workspaceId: string,
  email: string,
): Promise<TeammateView | undefined> {
  const row = await db
    .selectFrom("teammates")
    .select(TEAMMATE_COLUMNS)
    .where("workspace_id", "=", workspaceId)
    .where("email", "=", normalizeEmail(email))
    .executeTakeFirst();
  return row as TeammateView | undefined;
}

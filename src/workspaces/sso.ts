import type { DB } from "../db/index.js";
import type { Clock } from "../clock/index.js";
import { newId } from "../db/ids.js";
import type { OidcConfig } from "../config/index.js";
import { audit, THREADLINE } from "../audit/index.js";
import { normalizeEmail } from "./teammates.js";

export interface SsoClaims {
  email?: unknown;
  email_verified?: unknown;
  name?: unknown;
}

/**
 * Who a single sign-on signs in, by the provider's verified e-mail: the person with that
 * e-mail (the newest, when several workspaces have one), else the person invited with it
 * (the invitation is used up), else, when the e-mail's domain is allowed, a new member of the
 * workspace that allows it. Anything else is refused (a sentence saying why).
 */
export async function personForSso(
  db: DB,
  clock: Clock,
  oidc: OidcConfig,
  claims: SsoClaims,
  address: string,
): Promise<{ person: { id: string; workspace_id: string; full_name: string } } | { refused: string }> {
  if (typeof claims.email !== "string" || !claims.email)
    return { refused: "Your identity provider did not give an e-mail address." };
  if (claims.email_verified !== true)
    return { refused: "Your identity provider has not verified your e-mail address." };
  const email = normalizeEmail(claims.email);
  const known = await db
    .selectFrom("teammates")
    .select(["id", "workspace_id", "full_name"])
    .where("email", "=", email)
    .orderBy("created_at", "desc")
    .executeTakeFirst();
  if (known) return { person: known };
  const name =
    typeof claims.name === "string" && claims.name.trim() ? claims.name.trim().slice(0, 200) : email.split("@")[0]!;
  const now = clock.now();
  const invited = await db.transaction().execute(async (tx) => {
    const inv = await tx
      .deleteFrom("invitations")
      .where("email", "=", email)
      .where("expires_at", ">", now)
      .returningAll()
      .executeTakeFirst();
    if (!inv) return undefined;
    const id = newId("tm");
    await tx
      .insertInto("teammates")
      .values({
        id,
        workspace_id: inv.workspace_id,
        full_name: inv.full_name,
        email,
        created_at: now,
        role: inv.role,
        password_hash: null,
      })
      .execute();
    await audit(
      tx,
      clock,
      inv.workspace_id,
      { actor: { type: "person", id, name: inv.full_name }, address },
      {
        action: "invitation.accepted",
        object: { type: "invitation", id: inv.id },
        after: { person: id, email, role: inv.role, method: "sso" },
      },
    );
    return { id, workspace_id: inv.workspace_id, full_name: inv.full_name };
  });
  if (invited) return { person: invited };
  const workspaceId = oidc.allowedDomains.get(email.slice(email.lastIndexOf("@") + 1));
  const ws = workspaceId
    ? await db.selectFrom("workspaces").select("id").where("id", "=", workspaceId).executeTakeFirst()
    : undefined;
  if (!ws) return { refused: `${email} is not a person of a workspace here: ask an admin for an invitation.` };
  const id = newId("tm");
  await db.transaction().execute(async (tx) => {
    await tx
      .insertInto("teammates")
      .values({ id, workspace_id: ws.id, full_name: name, email, created_at: now, role: "member", password_hash: null })
      .execute();
    await audit(
      tx,
      clock,
      ws.id,
      { actor: THREADLINE, address },
      {
        action: "person.created",
        object: { type: "person", id },
        after: { full_name: name, email, role: "member", method: "sso" },
      },
    );
  });
  return { person: { id, workspace_id: ws.id, full_name: name } };
}

/** What the audit routes answer, and who made a change (src/schemas.ts says how schemas are kept). */
import { Type, type Static } from "typebox";
import { AnyJson, Nullable, Page, StringEnum, Time } from "../schemas.js";

/** Who made a change: a person, an API key (by name), or Threadline itself. */
export const Actor = Type.Object({
  type: StringEnum(["person", "api_key", "threadline"] as const),
  id: Type.String(),
  name: Type.String(),
});
export type Actor = Static<typeof Actor>;

export const AuditEntry = Type.Object({
  id: Type.String(),
  at: Time(),
  actor: Actor,
  action: Type.String(),
  object: Type.Object({ type: Type.String(), id: Type.String() }),
  before: AnyJson({ description: "The settings before the change, secrets left out (null: none)" }),
  after: AnyJson({ description: "The settings after the change, secrets left out (null: none)" }),
  address: Nullable(Type.String()),
});
export type AuditEntry = Static<typeof AuditEntry>;
export const AuditPage = Page(AuditEntry);
export type AuditPage = Static<typeof AuditPage>;

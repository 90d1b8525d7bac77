/** What `GET /api/v1/notifications` answers (src/schemas.ts says how schemas are kept). */
import { Type, type Static } from "typebox";
import { Nullable, Time } from "../schemas.js";

/** An e-mail or alert sent (or kept in the outbox) for the workspace. */
export const Notification = Type.Object({
  id: Type.String(),
  at: Time(),
  to: Type.String(),
  subject: Type.String(),
  text: Type.String(),
  delivered: Type.Boolean(),
});
export type Notification = Static<typeof Notification>;
/** The newest notifications; never more than one page (`next_cursor` is null). */
export const NotificationList = Type.Object({ items: Type.Array(Notification), next_cursor: Nullable(Type.String()) });

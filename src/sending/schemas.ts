/** What the sending routes answer (src/schemas.ts says how schemas are kept). */
import { Type, type Static } from "typebox";
import { Nullable, StringEnum, Time } from "../schemas.js";

/** A send taken into the queue (`POST /api/v1/messages/send`, the send URL). */
export const SendQueued = Type.Object({ message_id: Type.String(), status: StringEnum(["queued"] as const) });

/** The workspace's send URL (null: none generated yet). */
export const SendUrl = Type.Object({ url: Nullable(Type.String()), created_at: Nullable(Time()) });
export type SendUrl = Static<typeof SendUrl>;
export const NewSendUrl = Type.Object({ url: Type.String(), created_at: Time() });

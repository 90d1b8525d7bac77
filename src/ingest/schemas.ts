/** What ingest answers (`POST /api/v1/messages`); src/schemas.ts says how schemas are kept. */
import { Type, type Static } from "typebox";
import { StringEnum } from "../schemas.js";

export const IngestResult = Type.Object({
  status: StringEnum(["accepted", "duplicate", "skipped"] as const),
  message_id: Type.String(),
});

export const IngestAnswer = Type.Object({
  accepted: Type.Integer(),
  duplicates: Type.Integer(),
  skipped: Type.Integer(),
  results: Type.Array(IngestResult),
});
export type IngestAnswer = Static<typeof IngestAnswer>;

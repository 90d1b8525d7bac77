import { Readable } from "node:stream";
import type { DB } from "../db/index.js";
import { readDeliverableRange } from "../log/index.js";
import { messagePayloadJson } from "../webhooks/payload.js";

/** Messages read per query: big enough that a million take seconds, small enough to keep memory flat. */
const EXPORT_PAGE = 1000;

export interface ExportRange {
  since?: number;
  until?: number;
  chatId?: number;
}

/**
 * `GET /api/v1/messages/export`: the workspace's text messages as NDJSON, one line per message
 * in the unaggregated payload format, in log order. A page is read only when the client has
 * taken the previous one (Readable.from pulls on demand), so memory stays flat however many.
 */
export function exportMessages(db: DB, workspaceId: string, range: ExportRange, publicUrl: string): Readable {
  async function* pages(): AsyncGenerator<string> {
    let afterSeq = 0;
    for (;;) {
      const page = await readDeliverableRange(db, workspaceId, { afterSeq, limit: EXPORT_PAGE, ...range });
      if (page.length === 0) return;
      let chunk = "";
      for (const m of page) chunk += `${messagePayloadJson(m, publicUrl)}\n`;
      yield chunk;
      if (page.length < EXPORT_PAGE) return;
      afterSeq = page[page.length - 1]!.seq;
    }
  }
  return Readable.from(pages(), { objectMode: false });
}

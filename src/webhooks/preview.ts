import type { DB } from "../db/index.js";
import { notFound } from "../errors.js";
import { readDeliverableRange } from "../log/index.js";
import { getChat } from "../timeline/service.js";
import { getWorkspace } from "../workspaces/service.js";
import type { WebhookRow } from "./consumer.js";
import { matcher } from "./filter.js";
import { bundleParts, bundlePayloadJson } from "./payload.js";
import { windowEndAfter, windowHours, windowStartOf } from "./windows.js";

/** Messages a preview reads at most: the first bundle of a window, never the whole of a huge one. */
const PREVIEW_MESSAGES = 1000;

/**
 * `GET …/preview?chat_id=`: the bundle an aggregated webhook would send now for a chat's open
 * window (what waits past its cursor, as its filter lets through), built by the same code as
 * the delivery. `parts` says how many bundles it would be (the first is shown); `more`, that
 * the chat has more than the preview read.
 */
export async function previewBundle(
  deps: { db: DB; now: number; publicUrl: string; maxBytes: number },
  row: WebhookRow,
  chatId: string,
): Promise<{ payload: unknown; parts: number; more: boolean }> {
  const hours = windowHours(row.aggregation);
  if (hours === undefined)
    throw notFound("An open window (this webhook sends each message as it arrives, so it has no digest to preview)");
  const chat = await getChat(deps.db, row.workspace_id, chatId);
  const read = await readDeliverableRange(deps.db, row.workspace_id, {
    afterSeq: row.cursor_seq,
    chatId: chat.id,
    limit: PREVIEW_MESSAGES + 1,
  });
  const more = read.length > PREVIEW_MESSAGES;
  const accepts = matcher(row.filter);
  const messages = read.slice(0, PREVIEW_MESSAGES).filter((m) => !accepts || accepts(m));
  if (messages.length === 0) throw notFound("An open window of this chat (no message of it waits for this webhook)");
  messages.sort((a, b) => a.timestamp - b.timestamp || a.seq - b.seq);
  const { timezone } = await getWorkspace(deps.db, row.workspace_id);
  const windowEnd = row.window_end ?? windowEndAfter(deps.now, timezone, hours);
  const opts = {
    publicUrl: deps.publicUrl,
    timeZone: timezone,
    aggregation: row.aggregation,
    windowStart: windowStartOf(windowEnd - 1, timezone, hours),
    windowEnd,
    isNewChat: messages.some((m) => m.chat_created_by === m.id),
  };
  const parts = bundleParts(messages, opts, deps.maxBytes);
  return { payload: JSON.parse(bundlePayloadJson(parts[0]!.messages, parts[0]!.opts)), parts: parts.length, more };
}

import { chatUrl, permalinkUrl } from "../timeline/links.js";
import type { DeliverableMessage } from "../log/index.js";
import { escapeHtml } from "../html.js";

/** `YYYY-MM-DDTHH:MM:` of UTC minutes already written (a bundle writes a dozen timestamps). */
const isoMinutes = new Map<number, string>();

/** `2021-02-24T16:25:29+0000`: the payloads' one timestamp format. */
export function payloadTimestamp(ms: number): string {
  // Four-digit years only (what toISOString writes in this shape); others are formatted whole.
  if (!(ms >= 0 && ms < 253_402_300_800_000)) return new Date(ms).toISOString().slice(0, 19) + "+0000";
  const minute = Math.floor(ms / 60_000);
  let prefix = isoMinutes.get(minute);
  if (prefix === undefined) {
    if (isoMinutes.size >= 1440) isoMinutes.clear();
    isoMinutes.set(minute, (prefix = new Date(minute * 60_000).toISOString().slice(0, 17)));
  }
  const second = Math.floor(ms / 1000) % 60;
  return `${prefix}${second < 10 ? "0" : ""}${second}+0000`;
}

function account(m: DeliverableMessage) {
  return { full_name: m.owner_name, email: m.owner_email, phone: m.account_phone };
}

function chat(m: DeliverableMessage, publicUrl: string, isNewChat: boolean) {
  return {
    full_name: m.chat_name,
    responsible_name: m.responsible_name ?? "",
    responsible_email: m.responsible_email ?? "",
    chat_url: chatUrl(publicUrl, m.chat_id),
    chat_id: String(m.chat_id),
    is_new_chat: isNewChat,
    is_group: m.chat_is_group === 1,
    phone: m.chat_is_group === 1 ? "" : m.chat_phone,
  };
}

function message(m: DeliverableMessage) {
  const group = m.chat_is_group === 1;
  return {
    direction: m.direction,
    timestamp: payloadTimestamp(m.timestamp),
    message_id: m.id,
    sender: { full_name: m.sender_name, phone: group ? "" : m.sender_phone },
    recipient: { full_name: m.recipient_name, phone: group ? "" : m.recipient_phone },
    text: m.text,
  };
}

/** The unaggregated payload (message.schema.json). */
export function messagePayload(m: DeliverableMessage, publicUrl: string) {
  return { whatsapp_account: account(m), chat: chat(m, publicUrl, m.chat_created_by === m.id), message: message(m) };
}

const json = JSON.stringify;

/**
 * `JSON.stringify(messagePayload(m, publicUrl))`, byte for byte (a unit test holds it to
 * that), written directly: the hot path of delivery builds one a message, and the nine
 * intermediate objects and the generic serializer were a large part of a delivery's CPU
 * (BENCHMARKS.md, "Behind choices in the code").
 */
export function messagePayloadJson(m: DeliverableMessage, publicUrl: string): string {
  return `{"whatsapp_account":${accountJson(m)},"chat":${chatJson(m, publicUrl, m.chat_created_by === m.id)},"message":${messageJson(m)}}`;
}

function accountJson(m: DeliverableMessage): string {
  return `{"full_name":${json(m.owner_name)},"email":${json(m.owner_email)},"phone":${json(m.account_phone)}}`;
}

function chatJson(m: DeliverableMessage, publicUrl: string, isNewChat: boolean): string {
  const group = m.chat_is_group === 1;
  return (
    `{"full_name":${json(m.chat_name)},"responsible_name":${json(m.responsible_name ?? "")},"responsible_email":${json(m.responsible_email ?? "")},` +
    `"chat_url":${json(chatUrl(publicUrl, m.chat_id))},"chat_id":"${m.chat_id}","is_new_chat":${isNewChat},"is_group":${group},"phone":${json(group ? "" : m.chat_phone)}}`
  );
}

function messageJson(m: DeliverableMessage): string {
  const group = m.chat_is_group === 1;
  return (
    `{"direction":${json(m.direction)},"timestamp":"${payloadTimestamp(m.timestamp)}","message_id":${json(m.id)},` +
    `"sender":{"full_name":${json(m.sender_name)},"phone":${json(group ? "" : m.sender_phone)}},"recipient":{"full_name":${json(m.recipient_name)},"phone":${json(group ? "" : m.recipient_phone)}},"text":${json(m.text)}}`
  );
}

// Building a formatter costs far more than using one: one per zone (bundles format thousands of times).
const minuteFormats = new Map<string, { format: Intl.DateTimeFormat; minutes: Map<number, string> }>();

function formatMinute(format: Intl.DateTimeFormat, ms: number): string {
  const parts = format.formatToParts(new Date(ms));
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? "";
  return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")}`;
}

/**
 * `YYYY-MM-DD HH:MM` in the workspace's time zone. Formatting was the largest cost of building
 * a bundle (BENCHMARKS.md, "Behind choices in the code"), so each UTC minute is formatted once: when its first and last
 * millisecond read the same local minute (an offset in whole minutes, no change inside it),
 * every instant of it does.
 */
export function localMinute(ms: number, timeZone: string): string {
  let zone = minuteFormats.get(timeZone);
  if (!zone) {
    const format = new Intl.DateTimeFormat("en-CA", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    });
    if (minuteFormats.size > 1000) minuteFormats.clear();
    minuteFormats.set(timeZone, (zone = { format, minutes: new Map() }));
  }
  const minute = Math.floor(ms / 60_000);
  const known = zone.minutes.get(minute);
  if (known !== undefined) return known;
  const first = formatMinute(zone.format, minute * 60_000);
  if (formatMinute(zone.format, minute * 60_000 + 59_999) !== first) return formatMinute(zone.format, ms);
  // A day of minutes at most: a window's messages fit, memory stays bounded.
  if (zone.minutes.size >= 1440) zone.minutes.clear();
  zone.minutes.set(minute, first);
  return first;
}

/** One message's line of a bundle's digest. */
function digestLine(m: DeliverableMessage, timeZone: string): string {
  return `from ${escapeHtml(m.sender_name)} on ${localMinute(m.timestamp, timeZone)}: ${escapeHtml(m.text).replace(/\r\n|\r|\n/g, "<br/>")}`;
}

/** What a digest ends with: the link, and which part of the window's bundles it is when there are several. */
function digestEnd(first: DeliverableMessage, publicUrl: string, part?: BundlePart): string {
  const link = `<br/>Click <a href='${escapeHtml(permalinkUrl(publicUrl, first.permalink))}'>here</a> to open the conversation in Threadline`;
  return part && part.count > 1
    ? `${link}<br/>Part ${part.index} of ${part.count} of this chat's messages in this window`
    : link;
}

/** The CRM-note digest of a bundle: every value escaped, newlines as `<br/>`. */
export function aggregationHtml(
  messages: DeliverableMessage[],
  publicUrl: string,
  timeZone: string,
  part?: BundlePart,
): string {
  const lines = messages.map((m) => digestLine(m, timeZone));
  return `${lines.join("<br/>")}${digestEnd(messages[0]!, publicUrl, part)}`;
}

interface BundleOptions {
  publicUrl: string;
  timeZone: string;
  aggregation: string;
  windowStart: number;
  windowEnd: number;
  isNewChat?: boolean;
  /** Which of the window's bundles of this chat this is, when its messages took several (`bundleParts`). */
  part?: BundlePart;
}

/** The `index`-th (from 1) of `count` bundles one chat's messages of one window were split into. */
export interface BundlePart {
  index: number;
  count: number;
}

/** The aggregated payload (bundle.schema.json); `messages` is one chat of one account, in timestamp order. */
export function bundlePayload(messages: DeliverableMessage[], opts: BundleOptions) {
  const first = messages[0]!;
  const last = messages[messages.length - 1]!;
  // The consumer knows best (the chat was created in the part of the log this bundle covers).
  const isNew = opts.isNewChat ?? (first.chat_created_at >= opts.windowStart && first.chat_created_at < opts.windowEnd);
  return {
    whatsapp_account: account(first),
    chat: chat(last, opts.publicUrl, isNew),
    messages: messages.map(message),
    first_message_timestamp: payloadTimestamp(first.timestamp),
    last_message_timestamp: payloadTimestamp(last.timestamp),
    aggregation: aggregationHtml(messages, opts.publicUrl, opts.timeZone, opts.part),
  };
}

/**
 * `JSON.stringify(bundlePayload(messages, opts))`, byte for byte (a unit test holds it to
 * that), written directly: the objects would be six a message, garbage as soon as written,
 * and a window can hold a million messages.
 */
export function bundlePayloadJson(messages: DeliverableMessage[], opts: BundleOptions): string {
  const first = messages[0]!;
  const last = messages[messages.length - 1]!;
  const isNew = opts.isNewChat ?? (first.chat_created_at >= opts.windowStart && first.chat_created_at < opts.windowEnd);
  let list = "";
  for (const m of messages) list += (list ? "," : "") + messageJson(m);
  return (
    `{"whatsapp_account":${accountJson(first)},"chat":${chatJson(last, opts.publicUrl, isNew)},"messages":[${list}],` +
    `"first_message_timestamp":"${payloadTimestamp(first.timestamp)}","last_message_timestamp":"${payloadTimestamp(last.timestamp)}",` +
    `"aggregation":${json(aggregationHtml(messages, opts.publicUrl, opts.timeZone, opts.part))}}`
  );
}

/** Room kept in a part's budget for what is not a message: account, chat, timestamps, link, part line. */
function partOverhead(first: DeliverableMessage, last: DeliverableMessage, opts: BundleOptions): number {
  return (
    Buffer.byteLength(accountJson(first)) +
    Buffer.byteLength(chatJson(last, opts.publicUrl, true)) +
    Buffer.byteLength(json(digestEnd(first, opts.publicUrl, { index: 99_999, count: 99_999 }))) +
    // Keys, punctuation and the two timestamps.
    256
  );
}

/**
 * A bound on a message's bytes in a bundle (its JSON and its digest line) from string lengths
 * alone: a UTF-16 unit is at most 6 bytes in JSON (`\u001f`), and in the digest at most 6
 * more (`&quot;`, or the same escape). Lets the usual chat skip measuring.
 */
function sizeBound(m: DeliverableMessage): number {
  return (
    12 * (m.text.length + m.sender_name.length) +
    6 *
      (m.id.length + m.sender_phone.length + m.recipient_name.length + m.recipient_phone.length + m.direction.length) +
    256
  );
}

/**
 * One chat's messages of one window (in timestamp order) split into bundles whose bodies are
 * at most `maxBytes` (UTF-8) each: one when they fit, else several, each a valid bundle whose
 * digest says which part it is (`opts.part`). A part holds at least one message, so a single
 * message larger than the limit goes alone. Bodies are not written here: a part's body is
 * written when it is sent (`bundlePayloadJson(part.messages, part.opts)`), so a window's
 * bodies never become one string, nor all live at once.
 */
export function bundleParts(
  messages: DeliverableMessage[],
  opts: BundleOptions,
  maxBytes: number,
): { messages: DeliverableMessage[]; opts: BundleOptions }[] {
  const budget = maxBytes - partOverhead(messages[0]!, messages[messages.length - 1]!, opts);
  let bound = 0;
  for (const m of messages) bound += sizeBound(m);
  if (bound <= budget) return [{ messages, opts }];
  const cuts: number[] = [0];
  let used = 0;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    // The message object and a comma, and its digest line as a JSON string's content and a `<br/>`.
    const size = Buffer.byteLength(messageJson(m)) + 1 + Buffer.byteLength(json(digestLine(m, opts.timeZone))) - 2 + 5;
    if (used > 0 && used + size > budget) {
      cuts.push(i);
      used = 0;
    }
    used += size;
  }
  cuts.push(messages.length);
  const count = cuts.length - 1;
  if (count === 1) return [{ messages, opts }];
  const parts = [];
  for (let p = 0; p < count; p++)
    parts.push({ messages: messages.slice(cuts[p], cuts[p + 1]), opts: { ...opts, part: { index: p + 1, count } } });
  return parts;
}

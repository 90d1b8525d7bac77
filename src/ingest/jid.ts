// WhatsApp chat ids, shared by ingest and the source adapters (a leaf: it imports nothing).

/**
 * The phone of a chat id: `972540000000@s.whatsapp.net`, `…@c.us` (device suffix `:3`
 * allowed) or a bare number → `+972540000000`; "" for groups, hidden `@lid` ids and the rest.
 */
export function phoneFromJid(jid: string): string {
  const m = /^\+?(\d{7,15})(?::\d+)?(?:@c\.us|@s\.whatsapp\.net)?$/.exec(jid);
  return m ? `+${m[1]}` : "";
}

/** WhatsApp ids (JIDs) and phones as the gateways write them (ingest/jid.ts holds the one JID → phone rule). */

export function digits(value: string): string {
  return value.replace(/\D/g, "");
}

/** "+" + the digits of a phone-ish string, or "" when it has none. */
export function e164(value: string): string {
  const d = digits(value);
  return d ? `+${d}` : "";
}

/** The user part of a JID without a device suffix: "15551234567:12@s.whatsapp.net" → "15551234567". */
export function jidUser(jid: string): string {
  const user = jid.split("@")[0] ?? "";
  return user.split(":")[0] ?? "";
}

/** A JID without a device suffix: "15551234567:12@s.whatsapp.net" → "15551234567@s.whatsapp.net". */
export function normalizeJid(jid: string): string {
  const at = jid.indexOf("@");
  if (at < 0) return jid;
  return `${jidUser(jid)}${jid.slice(at)}`;
}

export function isGroupJid(jid: string): boolean {
  return jid.endsWith("@g.us");
}

/** A JID whose user part is a phone number (@c.us, @s.whatsapp.net). */
export function isPhoneJid(jid: string): boolean {
  return jid.endsWith("@c.us") || jid.endsWith("@s.whatsapp.net");
}

/** Status updates, broadcast lists and channels are not chats. */
export function isIgnoredJid(jid: string): boolean {
  return jid.endsWith("@broadcast") || jid.endsWith("@newsletter");
}

/** The first of `values` that is a hidden `…@lid` id, normalized. */
export function firstLidJid(...values: unknown[]): string | undefined {
  for (const v of values) if (typeof v === "string" && normalizeJid(v).endsWith("@lid")) return normalizeJid(v);
  return undefined;
}

/** The first of `values` that is a phone JID (`…@s.whatsapp.net`, `…@c.us`), normalized. */
export function firstPhoneJid(...values: unknown[]): string | undefined {
  for (const v of values) if (typeof v === "string" && isPhoneJid(normalizeJid(v))) return normalizeJid(v);
  return undefined;
}

/** A push name that is a real name, not the bare number some gateways put there when they have none. */
export function realName(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const trimmed = name.trim();
  if (!trimmed || /^\+?[\d\s-]+(@\S+)?$/.test(trimmed)) return undefined;
  return trimmed;
}

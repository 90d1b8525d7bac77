/**
 * Shared harness of the security tests: a workspace with an account, a chat and a signed-in
 * browser session, and raw requests as a browser (or an attacker's page) would send them.
 */
import assert from "node:assert/strict";
import { TestServer, createWorkspace } from "./server.js";
import { ownerCookie, ownerPassword } from "./people.js";

export const ACCOUNT = "+972500000000";
export const CONTACT = "+972540000000";

export interface Victim {
  key: string;
  workspaceId: string;
  /** `tl_session=…` of the owner, as the browser sends it. */
  cookie: string;
  chatId: string;
  /** The owner's sign-in. */
  email: string;
  password: string;
}

/** A workspace with an `api` account, one chat with one message, and a browser session. */
export async function victim(
  server: TestServer,
  name = "Acme",
  over: { text?: string; chatName?: string } = {},
): Promise<Victim> {
  const ws = await createWorkspace(server, {
    name,
    owner: { full_name: "Amnon Haha", email: `owner@${name.toLowerCase()}.example` },
  });
  const acc = await server.api("POST", "/api/v1/accounts", {
    token: ws.api_key,
    body: { phone: ACCOUNT, owner_email: `owner@${name.toLowerCase()}.example`, source: "api" },
  });
  assert.equal(acc.status, 201, acc.text);
  const ingest = await server.api("POST", "/api/v1/messages", {
    token: ws.api_key,
    body: {
      messages: [
        message({
          external_id: "wamid.first",
          text: over.text ?? "Hello",
          chat: {
            external_id: `${CONTACT.slice(1)}@s.whatsapp.net`,
            full_name: over.chatName ?? "John Doe",
            phone: CONTACT,
          },
        }),
      ],
    },
  });
  assert.equal(ingest.status, 202, ingest.text);
  const chats = await server.api("GET", "/api/v1/chats", { token: ws.api_key });
  const owner = await ownerPassword(server, ws);
  return {
    key: ws.api_key,
    workspaceId: ws.id,
    cookie: await ownerCookie(server, ws),
    chatId: chats.json.items[0].chat_id,
    ...owner,
  };
}

/** One ingest entry (POST /api/v1/messages), with overrides. */
export function message(over: Record<string, unknown> = {}) {
  return {
    account_phone: ACCOUNT,
    chat: { external_id: `${CONTACT.slice(1)}@s.whatsapp.net`, full_name: "John Doe", phone: CONTACT },
    external_id: `wamid.${Math.random().toString(36).slice(2)}`,
    direction: "received",
    timestamp: "2021-02-24T16:25:29Z",
    type: "text",
    text: "Hi",
    ...over,
  };
}

/** A raw request with exactly these headers (no defaults), answering status, headers and JSON. */
export const send = (server: TestServer, method: string, p: string, headers: Record<string, string>, body?: string) =>
  server.request(method, p, { headers, body });

/** What an attacker's page on another origin makes the victim's browser send: a form post with the cookie. */
export function crossSiteForm(cookie: string, origin = "http://evil.example"): Record<string, string> {
  return { cookie, origin, "sec-fetch-site": "cross-site", "content-type": "application/x-www-form-urlencoded" };
}

export const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

// The delivery hot path writes the message payload directly; it must be byte for byte what
// JSON.stringify makes of the documented payload object (docs/payloads.md never changes).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { messagePayload, messagePayloadJson, type DeliverableMessage } from "../../src/webhooks/payload.js";

const base: DeliverableMessage = {
  seq: 7,
  id: "01JMXK6N6F8Q2Z7Y3VQ4B9T1RD",
  chat_id: 42,
  direction: "received",
  text: "Hi! How are you? 👋",
  timestamp: 1_614_183_929_123,
  stored_at: 1_614_183_930_000,
  sender_name: "John Doe",
  sender_phone: "+972540000000",
  recipient_name: "Amnon Haha",
  recipient_phone: "+972500000000",
  permalink: "0190a0a0-0000-7000-8000-000000000000",
  account_id: "acc_1",
  account_phone: "+972500000000",
  owner_name: "Amnon Haha",
  owner_email: "amnon@acme.com",
  chat_name: "John Doe",
  chat_phone: "+972540000000",
  chat_is_group: 0,
  chat_created_at: 1_614_183_929_000,
  chat_created_by: null,
  responsible_name: null,
  responsible_email: null,
};

const cases: [string, Partial<DeliverableMessage>][] = [
  ["a plain message", {}],
  ["the message that created its chat, with a responsible teammate", { chat_created_by: base.id, responsible_name: "Dana", responsible_email: "dana@acme.com" }],
  ["a group (phones blank), sent", { chat_is_group: 1, direction: "sent", chat_name: "Team 🚀" }],
  ["texts that need escaping", { text: 'quote " backslash \\ newline \n tab \t nul \u0000 separators \u2028\u2029 lone \ud800 </script>', sender_name: "O'Brien <b>" }],
  ["empty strings", { text: "", chat_name: "", sender_name: "", recipient_name: "", owner_name: "" }],
];

describe("the message payload written directly", () => {
  for (const [name, change] of cases)
    it(`equals JSON.stringify(messagePayload(…)) for ${name}`, () => {
      const m = { ...base, ...change };
      for (const url of ["https://threadline.example.test", 'http://host:8080/a"b'])
        assert.equal(messagePayloadJson(m, url), JSON.stringify(messagePayload(m, url)));
    });
});

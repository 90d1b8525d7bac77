// The delivery hot path writes the message payload directly; it must be byte for byte what
// JSON.stringify makes of the documented payload object (docs/payloads.md never changes).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  bundleParts,
  bundlePayload,
  bundlePayloadJson,
  messagePayload,
  messagePayloadJson,
  localMinute,
  payloadTimestamp,
} from "../../src/webhooks/payload.js";
import type { DeliverableMessage } from "../../src/log/index.js";

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
  [
    "the message that created its chat, with a responsible teammate",
    { chat_created_by: base.id, responsible_name: "Dana", responsible_email: "dana@acme.com" },
  ],
  ["a group (phones blank), sent", { chat_is_group: 1, direction: "sent", chat_name: "Team 🚀" }],
  [
    "texts that need escaping",
    {
      text: 'quote " backslash \\ newline \n tab \t nul \u0000 separators \u2028\u2029 lone \ud800 </script>',
      sender_name: "O'Brien <b>",
    },
  ],
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

describe("the bundle payload written directly", () => {
  const opts = {
    publicUrl: "https://threadline.example.test",
    timeZone: "Asia/Kolkata",
    aggregation: "1h",
    windowStart: 1_614_182_400_000,
    windowEnd: 1_614_186_000_000,
  };
  const messages = cases.map(([, change], i) => ({ ...base, ...change, timestamp: base.timestamp + i * 61_001 }));
  for (const [name, list, extra] of [
    ["one message", messages.slice(0, 1), {}],
    ["every case in one bundle", messages, {}],
    ["a new chat, decided by the consumer", messages.slice(1, 3), { isNewChat: true }],
    ["an old chat, decided by the consumer", messages.slice(1, 3), { isNewChat: false }],
    ["a chat created before the window", messages, { windowStart: base.chat_created_at + 1 }],
  ] as const)
    it(`equals JSON.stringify(bundlePayload(…)) for ${name}`, () => {
      const o = { ...opts, ...extra };
      assert.equal(bundlePayloadJson([...list], o), JSON.stringify(bundlePayload([...list], o)));
    });
});

describe("bundles split at THREADLINE_BUNDLE_MAX_BYTES", () => {
  const opts = {
    publicUrl: "https://threadline.example.test",
    timeZone: "Europe/Berlin",
    aggregation: "24h",
    windowStart: 1_614_124_800_000,
    windowEnd: 1_614_211_200_000,
  };
  const limit = 65_536;
  const many = (n: number, text: (i: number) => string) =>
    Array.from({ length: n }, (_, i) => ({
      ...base,
      id: `m${i}`,
      seq: i + 1,
      text: text(i),
      timestamp: base.timestamp + i * 1000,
    }));

  it("leaves a window that fits as the one bundle it always was", () => {
    const list = many(20, (i) => `short ${i}`);
    const parts = bundleParts(list, opts, limit);
    assert.equal(parts.length, 1);
    assert.equal(bundlePayloadJson(parts[0]!.messages, parts[0]!.opts), bundlePayloadJson(list, opts));
  });

  for (const [name, text] of [
    ["plain text", (i: number) => `${i} `.padEnd(3000, "x")],
    [
      "text that escapes to many bytes (quotes, markup, control characters, emoji)",
      (i: number) => `${i} ${'"<&\u0001\n👋'.repeat(400)}`,
    ],
  ] as const)
    it(`cuts a bigger one into parts of at most the limit, in order, each saying which part it is: ${name}`, () => {
      const list = many(300, text);
      const parts = bundleParts(list, opts, limit);
      assert.ok(parts.length > 2, `${parts.length} parts`);
      assert.deepEqual(
        parts.flatMap((p) => p.messages.map((m) => m.id)),
        list.map((m) => m.id),
      );
      parts.forEach((p, i) => {
        const body = bundlePayloadJson(p.messages, p.opts);
        assert.ok(Buffer.byteLength(body) <= limit, `part ${i + 1}: ${Buffer.byteLength(body)} bytes`);
        // Still filled: a part and the next one's first message would not fit together.
        if (i + 1 < parts.length)
          assert.ok(
            Buffer.byteLength(bundlePayloadJson([...p.messages, parts[i + 1]!.messages[0]!], p.opts)) > limit * 0.9,
          );
        assert.equal(body, JSON.stringify(bundlePayload(p.messages, p.opts)));
        assert.match(
          JSON.parse(body).aggregation,
          new RegExp(`<br/>Part ${i + 1} of ${parts.length} of this chat's messages in this window$`),
        );
      });
    });

  it("sends a message larger than the limit alone", () => {
    const list = many(3, () => "y".repeat(65_536));
    const parts = bundleParts(list, opts, limit);
    assert.deepEqual(
      parts.map((p) => p.messages.length),
      [1, 1, 1],
    );
  });
});

describe("payload timestamps", () => {
  it("are the ISO instant to the second, whatever the minute cache holds", () => {
    for (const ms of [
      0, 999, 59_999, 60_000, 1_614_183_929_123, 1_614_183_959_999, 1_614_183_960_000, 4_102_444_799_999,
      253_402_300_799_999, 253_402_300_800_000, -1, -86_400_001,
    ])
      for (let twice = 0; twice < 2; twice++)
        assert.equal(payloadTimestamp(ms), new Date(ms).toISOString().slice(0, 19) + "+0000", String(ms));
  });
});

describe("digest minutes", () => {
  it("are the local minute of each instant, also across offset changes and offsets with seconds", () => {
    const direct = (ms: number, timeZone: string) => {
      const parts = new Intl.DateTimeFormat("en-CA", {
        timeZone,
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        hourCycle: "h23",
      }).formatToParts(new Date(ms));
      const get = (t: string) => parts.find((p) => p.type === t)!.value;
      return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")}`;
    };
    const zones = ["UTC", "Europe/Berlin", "Asia/Kathmandu", "America/St_Johns", "Europe/Amsterdam", "Africa/Monrovia"];
    // A DST change (2021-03-28 01:00 UTC), and 1900, when Amsterdam was +0:19:32 and Monrovia -0:43:08.
    const starts = [Date.UTC(2021, 2, 28, 0, 58), Date.UTC(1900, 5, 1, 11, 58)];
    for (const timeZone of zones)
      for (const start of starts)
        for (let ms = start; ms < start + 4 * 60_000; ms += 7_001)
          assert.equal(localMinute(ms, timeZone), direct(ms, timeZone), `${timeZone} ${new Date(ms).toISOString()}`);
  });
});

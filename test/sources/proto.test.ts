/** What a WhatsApp message proto is (Baileys / whatsmeow JSON), names and timestamps as gateways give them. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { firstPhoneJid, realName } from "../../src/sources/jids.js";
import { unixSeconds } from "../../src/sources/json.js";
import { classifyProto } from "../../src/sources/proto.js";

describe("classifyProto", () => {
  it("reads text from every place that holds it, wrappers included", () => {
    assert.deepEqual(classifyProto({ conversation: "hi" }), { kind: "message", type: "text", text: "hi" });
    assert.deepEqual(classifyProto({ extendedTextMessage: { text: "link https://x.test" } }), {
      kind: "message",
      type: "text",
      text: "link https://x.test",
    });
    assert.deepEqual(classifyProto({ ephemeralMessage: { message: { extendedTextMessage: { text: "gone soon" } } } }), {
      kind: "message",
      type: "text",
      text: "gone soon",
    });
    assert.deepEqual(classifyProto({ viewOnceMessageV2: { message: { conversation: "once" } } }), {
      kind: "message",
      type: "text",
      text: "once",
    });
    assert.deepEqual(
      classifyProto({
        deviceSentMessage: { destinationJid: "1@s.whatsapp.net", message: { conversation: "from my other phone" } },
      }),
      {
        kind: "message",
        type: "text",
        text: "from my other phone",
      },
    );
    assert.deepEqual(
      classifyProto({ buttonsResponseMessage: { selectedButtonId: "b1", selectedDisplayText: "Yes" } }),
      { kind: "message", type: "text", text: "Yes" },
    );
    assert.deepEqual(
      classifyProto({ listResponseMessage: { title: "Express", singleSelectReply: { selectedRowId: "r1" } } }),
      { kind: "message", type: "text", text: "Express" },
    );
    // Key exchange and context ride along with the content and are never it.
    assert.deepEqual(
      classifyProto({
        senderKeyDistributionMessage: { groupId: "g" },
        messageContextInfo: {},
        conversation: "group hi",
      }),
      {
        kind: "message",
        type: "text",
        text: "group hi",
      },
    );
  });

  it("media are what they are, captions beside them", () => {
    assert.deepEqual(classifyProto({ imageMessage: { caption: "look", mimetype: "image/jpeg" } }), {
      kind: "message",
      type: "image",
      text: "look",
    });
    assert.deepEqual(
      classifyProto({ documentWithCaptionMessage: { message: { documentMessage: { caption: "quote" } } } }),
      { kind: "message", type: "document", text: "quote" },
    );
    assert.deepEqual(classifyProto({ viewOnceMessage: { message: { videoMessage: {} } } }), {
      kind: "message",
      type: "video",
    });
    assert.deepEqual(classifyProto({ audioMessage: { ptt: true } }), { kind: "message", type: "audio" });
    assert.deepEqual(classifyProto({ stickerMessage: {} }), { kind: "message", type: "sticker" });
    assert.deepEqual(classifyProto({ locationMessage: { degreesLatitude: 1 } }), { kind: "message", type: "location" });
    assert.deepEqual(classifyProto({ contactsArrayMessage: { contacts: [] } }), { kind: "message", type: "contact" });
    assert.deepEqual(classifyProto({ pollCreationMessageV3: { name: "?" } }), { kind: "message", type: "poll" });
    assert.deepEqual(classifyProto({ orderMessage: {} }), { kind: "message", type: "order" });
  });

  it("reactions, edits, revokes and poll votes are not messages; nothing is none", () => {
    assert.equal(classifyProto({ reactionMessage: { text: "👍" } }).kind, "ignore");
    assert.equal(classifyProto({ protocolMessage: { type: "REVOKE" } }).kind, "ignore");
    assert.equal(
      classifyProto({ editedMessage: { message: { protocolMessage: { type: "MESSAGE_EDIT" } } } }).kind,
      "ignore",
    );
    assert.equal(classifyProto({ pollUpdateMessage: {} }).kind, "ignore");
    assert.equal(classifyProto({ senderKeyDistributionMessage: {} }).kind, "none");
    assert.equal(classifyProto({}).kind, "none");
    assert.equal(classifyProto(null).kind, "none");
  });
});

describe("names, phones and times as gateways give them", () => {
  it("a push name that is only a number is no name", () => {
    assert.equal(realName("Jane Roe"), "Jane Roe");
    assert.equal(realName("15551240005"), undefined);
    assert.equal(realName("+1 555-124-0005"), undefined);
    assert.equal(realName("  "), undefined);
    assert.equal(realName(undefined), undefined);
  });

  it("the first phone JID wins, device suffixes dropped", () => {
    assert.equal(firstPhoneJid("1@lid", "15551234567:3@s.whatsapp.net"), "15551234567@s.whatsapp.net");
    assert.equal(firstPhoneJid(undefined, 7, "120363@g.us", "15551234567@c.us"), "15551234567@c.us");
    assert.equal(firstPhoneJid("1@lid"), undefined);
  });

  it("timestamps: seconds, numeric strings, protobuf Longs, ISO (whatsmeow), milliseconds", () => {
    assert.equal(unixSeconds(1732000000, "t"), 1732000000);
    assert.equal(unixSeconds("1732000000", "t"), 1732000000);
    assert.equal(unixSeconds({ low: 1732000000, high: 0, unsigned: true }, "t"), 1732000000);
    assert.equal(unixSeconds("2024-11-19T07:25:20Z", "t"), 1732001120);
    assert.equal(unixSeconds(1732000000123, "t"), 1732000000);
    assert.throws(() => unixSeconds("0001-01-01T00:00:00Z", "t"), /t must be/);
    assert.throws(() => unixSeconds("soon", "t"), /t must be/);
  });
});

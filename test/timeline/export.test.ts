/**
 * `GET /api/v1/messages/export` (issue 25, item 4): the workspace's text messages as NDJSON, one
 * line per message in the outgoing payload format, by message time and chat; byte for byte what
 * a webhook receives for the same message. Both databases.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DATABASES, TestServer } from "../helpers/server.js";
import { Receiver } from "../helpers/receiver.js";
import { assertError, contactNo, entry, ingest, space, waitForDelivery, type Space } from "../helpers/workspace.js";
import { assertValid, contractValidators } from "../helpers/contract.js";

for (const database of DATABASES) {
  describe(`message export (${database})`, () => {
    let server: TestServer;
    let receiver: Receiver;
    let s: Space & { webhook: { id: string } };
    let other: Space;
    let ids: string[];
    const at = (hour: number) => `2026-11-29T${String(hour).padStart(2, "0")}:00:00Z`;

    before(async () => {
      [server, receiver] = await Promise.all([TestServer.start({ database }), Receiver.start()]);
      s = await space(server, { receiver });
      other = await space(server);
      // Hours 9..12 in two chats, stored out of time order; an attachment (never exported); `$` and `<` in text.
      const r = await ingest(server, s, [
        entry(s, { contact: contactNo(1), timestamp: at(11), text: "eleven <b>$1</b>" }),
        entry(s, { contact: contactNo(2), timestamp: at(9), text: "nine 👋" }),
        entry(s, { contact: contactNo(1), timestamp: at(10), text: "ten", direction: "sent" }),
        { ...entry(s, { contact: contactNo(2), timestamp: at(10) }), type: "image", text: undefined },
        entry(s, { contact: contactNo(2), timestamp: at(12), text: "twelve" }),
      ]);
      ids = r.results.map((x) => x.message_id);
      await ingest(server, other, [
        entry(other, { contact: contactNo(1), timestamp: at(10), text: "another workspace's" }),
      ]);
    });
    after(async () => Promise.all([server?.stop(), receiver?.close()]));

    const exported = async (query = "", token = s.key) => {
      const r = await server.request("GET", `/api/v1/messages/export${query}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(r.status, 200, r.text);
      assert.match(r.headers.get("content-type") ?? "", /^application\/x-ndjson/);
      assert.ok(r.text === "" || r.text.endsWith("\n"), "every line ends with a newline");
      return r.text.split("\n").filter(Boolean);
    };
    const texts = (lines: string[]) => lines.map((l) => JSON.parse(l).message.text);

    it("exports every text message in log order, each line exactly the webhook's payload for it", async () => {
      const lines = await exported();
      assert.deepEqual(texts(lines), ["eleven <b>$1</b>", "nine 👋", "ten", "twelve"]);
      const { message } = contractValidators();
      for (const line of lines) assertValid(message, JSON.parse(line), "an export line");
      for (const [i, id] of [
        [0, ids[0]],
        [3, ids[4]],
      ] as const) {
        const delivered = await waitForDelivery(receiver, id!);
        assert.equal(lines[i], delivered.body, "the export line and the delivered body are the same bytes");
      }
    });

    it("a range takes messages by their own time (since inclusive, until exclusive); chat_id keeps one chat", async () => {
      assert.deepEqual(texts(await exported(`?since=${at(10)}&until=${at(12)}`)), ["eleven <b>$1</b>", "ten"]);
      assert.deepEqual(texts(await exported(`?since=2026-11-29`)), ["eleven <b>$1</b>", "nine 👋", "ten", "twelve"]);
      const chat = JSON.parse((await exported(`?until=${at(10)}`))[0]!).chat.chat_id as string;
      assert.deepEqual(texts(await exported(`?chat_id=${chat}`)), ["nine 👋", "twelve"]);
      assert.deepEqual(await exported(`?since=2027-01-01`), []);
    });

    it("refuses what it cannot read, naming the field, and never shows another workspace's messages", async () => {
      assertError(await server.request("GET", "/api/v1/messages/export"), 401, "UNAUTHORIZED");
      const bad = (q: string) =>
        server.request("GET", `/api/v1/messages/export${q}`, { headers: { authorization: `Bearer ${s.key}` } });
      assertError(await bad("?since=2026-02-31"), 400, "VALIDATION_ERROR", "since");
      assertError(await bad("?until=yesterday"), 400, "VALIDATION_ERROR", "until");
      assertError(await bad(`?since=${at(12)}&until=${at(9)}`), 400, "VALIDATION_ERROR", "until");
      const theirs = JSON.parse((await exported("", other.key))[0]!).chat.chat_id as string;
      assertError(await bad(`?chat_id=${theirs}`), 404, "NOT_FOUND");
      assertError(await bad("?chat_id=%00"), 400, "VALIDATION_ERROR");
      assert.deepEqual(texts(await exported("", other.key)), ["another workspace's"]);
    });
  });
}

/**
 * A group chat seen for the first time is named by its subject, asked once through the
 * gateway's group-info call (WAHA GET /api/{session}/groups/{id}, Evolution GET
 * /group/findGroupInfos/{instance}?groupJid=, Graph GET /{group_id}?fields=subject); a
 * gateway that does not answer leaves the group named by its id. Both databases.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DATABASES } from "../helpers/server.js";
import {
  createAccount,
  delivered,
  fixtureText,
  hmacHex,
  inbound,
  startHarness,
  type Harness,
} from "../helpers/inbound.js";

const APP_SECRET = "group-subjects-secret";
const EVOLUTION_KEY = "B6D711FCDE4D4FD5936544120E713976";

for (const database of DATABASES) {
  describe(`group subjects from the gateways' group-info calls (${database})`, () => {
    let h: Harness;
    const urls: Record<string, string> = {};

    before(async () => {
      h = await startHarness({ database });
      // The gateway's group-info answers, in each gateway's own shape.
      h.gateway.respond = (req) => {
        const json = (body: unknown) => ({
          status: 200,
          body: JSON.stringify(body),
          headers: { "content-type": "application/json" },
        });
        if (
          req.method === "GET" &&
          req.url === "/api/default/groups/120363041234500002%40g.us" &&
          req.headers["x-api-key"] === "waha-key"
        ) {
          return json({
            id: "120363041234500002@g.us",
            subject: "Suppliers 2025",
            owner: "15557654321@s.whatsapp.net",
            participants: [],
          });
        }
        if (
          req.method === "GET" &&
          req.url === "/group/findGroupInfos/sales-1?groupJid=120363041234500010%40g.us" &&
          req.headers.apikey === EVOLUTION_KEY
        ) {
          return json({
            id: "120363041234500010@g.us",
            subject: "Equipe de vendas",
            subjectOwner: "15557654322@s.whatsapp.net",
            size: 3,
            participants: [],
          });
        }
        if (
          req.method === "GET" &&
          req.url === "/v21.0/Y2FsbGVyLWdyb3VwLWlkLTAwMQ%3D%3D?fields=subject" &&
          req.headers.authorization === "Bearer token"
        ) {
          return json({ subject: "Logistics partners", id: "Y2FsbGVyLWdyb3VwLWlkLTAwMQ==" });
        }
        return { status: 404, body: JSON.stringify({ error: "not found" }) };
      };
      const accounts = {
        waha: await createAccount(h, {
          phone: "+15557654321",
          source: "waha",
          source_config: { base_url: h.gatewayBase, api_key: "waha-key", session: "default" },
        }),
        evolution: await createAccount(h, {
          phone: "+15557654322",
          source: "evolution",
          source_config: { base_url: h.gatewayBase, api_key: EVOLUTION_KEY, instance: "sales-1" },
        }),
        cloud_api: await createAccount(h, {
          phone: "+15550783881",
          source: "cloud_api",
          source_config: {
            phone_number_id: "106540352242922",
            app_secret: APP_SECRET,
            verify_token: "v",
            access_token: "token",
            graph_base_url: h.gatewayBase,
          },
        }),
      };
      for (const [k, a] of Object.entries(accounts)) urls[k] = a.inbound_url!;
    });
    after(async () => {
      await h?.close();
    });

    const post = (gateway: string, file: string) => {
      const raw = fixtureText(file);
      const headers: Record<string, string> =
        gateway === "cloud_api" ? { "x-hub-signature-256": `sha256=${hmacHex("sha256", APP_SECRET, raw)}` } : {};
      return inbound(h, urls[gateway]!, { body: raw, headers });
    };
    const groupInfoCalls = () => h.gateway.requests.filter((r) => r.method === "GET").length;

    const cases = [
      {
        gateway: "waha",
        first: "waha/noweb-group-received.json",
        second: "waha/noweb-group-sent.json",
        texts: ["Invoice sent ✅", "Thanks Omer"],
        subject: "Suppliers 2025",
      },
      {
        gateway: "evolution",
        first: "evolution/upsert-group-participant.json",
        second: "evolution/upsert-group-sent.json",
        texts: ["Bom dia, grupo!", "Envio já"],
        subject: "Equipe de vendas",
      },
      {
        gateway: "cloud_api",
        first: "cloud-api/group-text-received.json",
        second: "cloud-api/group-echo-sent.json",
        texts: ["Team, can someone confirm the delivery window?", "Tomorrow between 9 and 12."],
        subject: "Logistics partners",
      },
    ];
    for (const c of cases) {
      it(`${c.gateway}: a new group is named "${c.subject}" from one group-info call; the next message does not ask again`, async () => {
        const callsBefore = groupInfoCalls();
        assert.equal((await post(c.gateway, c.first)).status, 200);
        const p = await delivered(h, c.texts[0]!);
        assert.equal(p.chat.full_name, c.subject);
        assert.equal(p.chat.is_group, true);
        assert.equal(p.message.recipient.full_name, c.subject);
        assert.equal(groupInfoCalls(), callsBefore + 1);
        assert.equal((await post(c.gateway, c.second)).status, 200);
        const q = await delivered(h, c.texts[1]!);
        assert.equal(q.chat.full_name, c.subject);
        assert.equal(q.chat.chat_id, p.chat.chat_id);
        assert.equal(groupInfoCalls(), callsBefore + 1, "asked once");
      });
    }

    it("a gateway that does not know the group leaves it named by its id", async () => {
      assert.equal((await post("waha", "waha/gows-group-received.json")).status, 200);
      const p = await delivered(h, "Shipment left the warehouse");
      assert.equal(p.chat.full_name, "120363041234500003@g.us");
      assert.deepEqual(p.message.sender, { full_name: "Avi Peretz", phone: "" });
    });
  });
}

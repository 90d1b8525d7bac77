/**
 * Unrecognised inbound events: what an authenticated gateway request carried that could
 * not be mapped is answered 2xx, stored (the newest 1,000 per account), listed at
 * GET /api/v1/accounts/{id}/inbound-events (workspace API key, other workspaces' accounts
 * are 404) and counted in /metrics; it survives a restart. Both databases.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DATABASES, TestServer, createWorkspace } from "../helpers/server.js";
import { PUBLIC_URL, createAccount, hmacHex, inbound, startHarness, type Harness } from "../helpers/inbound.js";
import { assertError } from "../helpers/workspace.js";

const APP_SECRET = "inbound-events-app-secret";
const KEEP = 1000;

/** A WAHA message.any event without a payload: authenticated (no hmac_key), not mappable. */
function unmappable(n: number): string {
  return JSON.stringify({ event: "message.any", session: "default", n });
}

for (const database of DATABASES) {
  describe(`unrecognised inbound events (${database})`, () => {
    let h: Harness;
    let waha: { id: string; inbound_url: string | null };
    let cloud: { id: string; inbound_url: string | null };
    let restarted: TestServer | undefined;

    before(async () => {
      h = await startHarness({ database });
      waha = await createAccount(h, {
        phone: "+15557650001",
        source: "waha",
        source_config: { base_url: h.gatewayBase, api_key: "k", session: "default" },
      });
      cloud = await createAccount(h, {
        phone: "+15557650002",
        source: "cloud_api",
        source_config: {
          phone_number_id: "1065",
          app_secret: APP_SECRET,
          verify_token: "v",
          access_token: "t",
          graph_base_url: h.gatewayBase,
        },
      });
    });
    after(async () => {
      await h?.close();
      await restarted?.stop();
    });

    const list = (accountId: string, query = "", token = h.key) =>
      h.server.api("GET", `/api/v1/accounts/${accountId}/inbound-events${query}`, { token });
    const unrecognisedMetric = async (source: string) => {
      const m = await h.server.api("GET", "/metrics");
      const sample = new RegExp(`^threadline_inbound_unrecognised_total\\{source="${source}"\\} (\\d+)$`, "m").exec(
        m.text,
      );
      return sample ? Number(sample[1]) : 0;
    };

    it("an unmappable body is answered 200, stored with source, account, reason, raw body and time, and counted", async () => {
      const raw = unmappable(0);
      const r = await inbound(h, waha.inbound_url!, { body: raw });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, { ok: true, accepted: 0, duplicates: 0, skipped: 0, unrecognised: 1 });
      const l = await list(waha.id);
      assert.equal(l.status, 200, l.text);
      assert.equal(l.json.items.length, 1);
      const [e] = l.json.items;
      assert.equal(e.account_id, waha.id);
      assert.equal(e.source, "waha");
      assert.match(e.reason, /payload is required/);
      assert.equal(e.body, raw);
      assert.ok(Math.abs(Date.parse(e.received_at) - Date.now()) < 60 * 60 * 1000, e.received_at);
      assert.equal(l.json.next_cursor, null);
      assert.equal(await unrecognisedMetric("waha"), 1);
    });

    it("a bad signature is still refused (401) and nothing is stored; a body that is not JSON is 400", async () => {
      const raw = JSON.stringify({ object: "whatsapp_business_account" });
      const bad = await inbound(h, cloud.inbound_url!, {
        body: raw,
        headers: { "x-hub-signature-256": `sha256=${hmacHex("sha256", "wrong", raw)}` },
      });
      assertError(bad, 401);
      const notJson = await inbound(h, cloud.inbound_url!, {
        body: "{oops",
        headers: { "x-hub-signature-256": `sha256=${hmacHex("sha256", APP_SECRET, "{oops")}` },
      });
      assertError(notJson, 400);
      assert.deepEqual((await list(cloud.id)).json.items, []);
      const good = await inbound(h, cloud.inbound_url!, {
        body: raw,
        headers: { "x-hub-signature-256": `sha256=${hmacHex("sha256", APP_SECRET, raw)}` },
      });
      assert.equal(good.status, 200, good.text);
      const l = await list(cloud.id);
      assert.equal(l.json.items.length, 1);
      assert.match(l.json.items[0].reason, /entry is required/);
      assert.equal(await unrecognisedMetric("cloud_api"), 1);
    });

    it("another workspace's account is a 404; an unknown id too; limit and cursor are checked", async () => {
      const other = await createWorkspace(h.server, {
        name: "Other",
        owner: { full_name: "Olga Other", email: "olga@other.test" },
      });
      assertError(await list(waha.id, "", other.api_key), 404);
      assertError(await list("acc_doesnotexist"), 404);
      assertError(await h.server.api("GET", `/api/v1/accounts/${waha.id}/inbound-events`), 401);
      assertError(await list(waha.id, "?limit=0"), 400);
      assertError(await list(waha.id, "?cursor=abc"), 400);
    });

    it(`keeps the newest ${KEEP} per account, newest first, paged with next_cursor, and survives a restart`, async () => {
      // One is already stored (the first test); post KEEP + 4 more, a few at a time.
      const total = KEEP + 4;
      for (let i = 1; i <= total; i += 8) {
        await Promise.all(
          Array.from({ length: Math.min(8, total - i + 1) }, async (_, k) => {
            const r = await inbound(h, waha.inbound_url!, { body: unmappable(i + k) });
            assert.equal(r.status, 200, r.text);
          }),
        );
      }
      restarted = await h.server.restart({ env: { THREADLINE_PUBLIC_URL: PUBLIC_URL } });
      h.server = restarted;
      const seen: number[] = [];
      let cursor: string | null = null;
      do {
        const l = await list(waha.id, `?limit=200${cursor ? `&cursor=${cursor}` : ""}`);
        assert.equal(l.status, 200, l.text);
        seen.push(...l.json.items.map((e: any) => Number(e.id)));
        cursor = l.json.next_cursor;
      } while (cursor);
      assert.equal(seen.length, KEEP);
      assert.deepEqual(
        [...seen].sort((a, b) => b - a),
        seen,
        "newest first",
      );
      assert.equal(new Set(seen).size, KEEP);
      // The newest body is among them, the very first one is gone.
      const first = await list(waha.id, "?limit=1");
      assert.equal(JSON.parse(first.json.items[0].body).event, "message.any");
      const bodies = new Set<number>();
      cursor = null;
      do {
        const l = await list(waha.id, `?limit=200${cursor ? `&cursor=${cursor}` : ""}`);
        for (const e of l.json.items) bodies.add(JSON.parse(e.body).n);
        cursor = l.json.next_cursor;
      } while (cursor);
      assert.ok(!bodies.has(0), "the oldest went");
      assert.equal(bodies.size, KEEP);
      // The other account's events are untouched.
      assert.equal((await list(cloud.id)).json.items.length, 1);
    });
  });
}

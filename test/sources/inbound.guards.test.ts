/**
 * What every inbound route and account creation must refuse, across the three gateway
 * sources: unknown tokens, a Threadline key used as inbound auth, huge bodies, wrong
 * methods, and invalid source_config (named field by field, secrets never echoed).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DATABASES } from "../helpers/server.js";
import {
  PUBLIC_URL,
  allMessages,
  assertNoSecret,
  createAccount,
  fixtureText,
  hmacHex,
  inbound,
  startHarness,
  type Harness,
} from "../helpers/inbound.js";
import { assertError } from "../helpers/workspace.js";

let h: Harness;
const urls: Record<string, string> = {};

const CLOUD = {
  phone_number_id: "106540352242922",
  app_secret: "guard-app-secret-1234567890",
  verify_token: "guard-verify-token-1234",
  access_token: "guard-access-token-1234567890",
};
const WAHA = {
  base_url: "http://127.0.0.1:3000",
  api_key: "guard-waha-key-12345",
  session: "default",
  hmac_key: "guard-waha-hmac-12345",
};
const EVOLUTION = {
  base_url: "http://127.0.0.1:8081/",
  api_key: "B6D711FCDE4D4FD5936544120E713976",
  instance: "sales-1",
};

async function accountCount(): Promise<number> {
  const r = await h.server.api("GET", "/api/v1/accounts", { token: h.key });
  assert.equal(r.status, 200);
  return r.json.items.length;
}

/** A valid, properly authenticated body for each source (the shared fixtures). */
function validRequest(source: string): { body: string; headers: Record<string, string> } {
  if (source === "cloud_api") {
    const body = fixtureText("cloud-api/text-received.json");
    return { body, headers: { "x-hub-signature-256": `sha256=${hmacHex("sha256", CLOUD.app_secret, body)}` } };
  }
  if (source === "waha") {
    const body = fixtureText("waha/message-any-received-direct.json");
    return {
      body,
      headers: { "x-webhook-hmac": hmacHex("sha512", WAHA.hmac_key, body), "x-webhook-hmac-algorithm": "sha512" },
    };
  }
  return { body: fixtureText("evolution/messages-upsert-text-direct.json"), headers: {} };
}

for (const database of DATABASES)
  describe(`inbound routes and account creation: what is refused (${database})`, () => {
    before(async () => {
      h = await startHarness({ database });
      urls.cloud_api = (
        await createAccount(h, { phone: "+15550783881", source: "cloud_api", source_config: CLOUD })
      ).inbound_url!;
      urls.waha = (await createAccount(h, { phone: "+15557654321", source: "waha", source_config: WAHA })).inbound_url!;
      urls.evolution = (
        await createAccount(h, { phone: "+15557654322", source: "evolution", source_config: EVOLUTION })
      ).inbound_url!;
    });
    after(async () => {
      await h?.close();
    });

    it("each gateway account gets its own inbound_url under {PUBLIC_URL}/inbound/{source}/; an api account gets null", async () => {
      for (const source of ["cloud_api", "waha", "evolution"]) {
        assert.ok(urls[source]!.startsWith(`${PUBLIC_URL}/inbound/${source}/`), urls[source]);
      }
      const tokens = Object.values(urls).map((u) => u.split("/").pop()!);
      assert.equal(new Set(tokens).size, 3);
      for (const t of tokens) assert.ok(t.length >= 20, t);
      const api = await createAccount(h, { phone: "+15550001111", source: "api" });
      assert.equal(api.inbound_url, null);
      const again = await h.server.api("GET", `/api/v1/accounts/${api.id}`, { token: h.key });
      assert.equal(again.json.inbound_url, null);
      // An api account has no inbound route of its own.
      const r = await inbound(h, `${PUBLIC_URL}/inbound/api/${tokens[0]}`, { body: "{}" });
      assert.equal(r.status, 404);
    });

    it("the valid requests these tests tamper with are accepted as they are", async () => {
      for (const source of ["cloud_api", "waha", "evolution"]) {
        const { body, headers } = validRequest(source);
        const r = await inbound(h, urls[source]!, { body, headers });
        assert.equal(r.status, 200, `${source}: ${r.text}`);
      }
    });

    it("an unknown token, a token under another source, or a Threadline key as the token → 404", async () => {
      const before = (await allMessages(h)).length;
      for (const source of ["cloud_api", "waha", "evolution"]) {
        const { body, headers } = validRequest(source);
        const token = urls[source]!.split("/").pop()!;
        const other = source === "waha" ? "evolution" : "waha";
        for (const url of [
          // The last character changed (never to itself: a token ending in "x" made this flaky).
          `${PUBLIC_URL}/inbound/${source}/${token.slice(0, -1)}${token.endsWith("x") ? "y" : "x"}`,
          `${PUBLIC_URL}/inbound/${source}/in_unknown_token_0123456789abcdef`,
          `${PUBLIC_URL}/inbound/${other}/${token}`,
          `${PUBLIC_URL}/inbound/telegram/${token}`,
          `${PUBLIC_URL}/inbound/${source}/${h.key}`,
        ]) {
          const r = await inbound(h, url, { body, headers: { ...headers, authorization: `Bearer ${h.key}` } });
          assertError(r, 404);
        }
      }
      assert.equal((await allMessages(h)).length, before);
    });

    it("a Threadline API key (or the operator token) is not inbound auth: without the source's own means → 401", async () => {
      const before = (await allMessages(h)).length;
      for (const source of ["cloud_api", "waha", "evolution"]) {
        const { body } = validRequest(source);
        const unsigned = source === "evolution" ? JSON.stringify({ ...JSON.parse(body), apikey: undefined }) : body;
        for (const token of [h.key, "tlo_test_operator_token_0123456789"]) {
          const r = await inbound(h, urls[source]!, { body: unsigned, headers: { authorization: `Bearer ${token}` } });
          assertError(r, 401);
        }
      }
      assert.equal((await allMessages(h)).length, before);
    });

    it("bodies over 1 MiB → 413 on every source, nothing stored", async () => {
      const before = (await allMessages(h)).length;
      for (const source of ["cloud_api", "waha", "evolution"]) {
        const big = JSON.stringify({
          object: "whatsapp_business_account",
          event: "message.any",
          padding: "x".repeat(1024 * 1024 + 10),
        });
        const headers: Record<string, string> =
          source === "cloud_api"
            ? { "x-hub-signature-256": `sha256=${hmacHex("sha256", CLOUD.app_secret, big)}` }
            : source === "waha"
              ? { "x-webhook-hmac": hmacHex("sha512", WAHA.hmac_key, big) }
              : {};
        const r = await inbound(h, urls[source]!, { body: big, headers });
        assertError(r, 413);
      }
      // Just under the limit is read (and then judged on its content).
      const { body, headers } = validRequest("evolution");
      const padded = JSON.stringify({ ...JSON.parse(body), padding: "y".repeat(1024 * 1024 - body.length - 100) });
      assert.ok(Buffer.byteLength(padded) < 1024 * 1024);
      const ok = await inbound(h, urls.evolution!, { body: padded, headers });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.json.duplicates, 1);
      assert.equal((await allMessages(h)).length, before);
    });

    it("GET is only the Cloud API's verification handshake: WAHA and Evolution answer 405, a bare GET on cloud_api is refused", async () => {
      for (const source of ["waha", "evolution"]) {
        const r = await inbound(h, urls[source]!, { method: "GET" });
        assert.equal(r.status, 405, `${source}: ${r.text}`);
      }
      const bare = await inbound(h, urls.cloud_api!, { method: "GET" });
      assert.ok(bare.status >= 400 && bare.status < 500, bare.text);
      const repeated = await inbound(h, urls.cloud_api!, {
        method: "GET",
        query: `?hub.mode=subscribe&hub.verify_token=${CLOUD.verify_token}&hub.verify_token=x&hub.challenge=42&hub.challenge=43`,
      });
      assert.ok(repeated.status >= 400 && repeated.status < 500, `${repeated.status} ${repeated.text}`);
      assert.ok(!/\b4[23]\b/.test(repeated.text), repeated.text);
    });

    it("source_config: each missing or invalid field → 400 naming source_config.<field>, nothing created", async () => {
      const before = await accountCount();
      const cases: Array<[string, Record<string, unknown>, string]> = [];
      for (const field of ["phone_number_id", "app_secret", "verify_token", "access_token"]) {
        const c: Record<string, unknown> = { ...CLOUD };
        delete c[field];
        cases.push(["cloud_api", c, field]);
      }
      cases.push(["cloud_api", { ...CLOUD, phone_number_id: 106540352242922 }, "phone_number_id"]);
      cases.push(["cloud_api", { ...CLOUD, verify_token: "   " }, "verify_token"]);
      cases.push(["cloud_api", { ...CLOUD, graph_base_url: "ftp://graph.example" }, "graph_base_url"]);
      for (const field of ["base_url", "api_key", "session"]) {
        const c: Record<string, unknown> = { ...WAHA };
        delete c[field];
        cases.push(["waha", c, field]);
      }
      cases.push(["waha", { ...WAHA, base_url: "not a url" }, "base_url"]);
      cases.push(["waha", { ...WAHA, hmac_key: 42 }, "hmac_key"]);
      for (const field of ["base_url", "api_key", "instance"]) {
        const c: Record<string, unknown> = { ...EVOLUTION };
        delete c[field];
        cases.push(["evolution", c, field]);
      }
      cases.push(["evolution", { ...EVOLUTION, base_url: "localhost:8081" }, "base_url"]);
      let n = 0;
      for (const [source, source_config, field] of cases) {
        const r = await h.server.api("POST", "/api/v1/accounts", {
          token: h.key,
          body: { phone: `+1555444${String(++n).padStart(4, "0")}`, owner_email: h.owner.email, source, source_config },
        });
        const err = assertError(r, 400);
        assert.equal(err.code, "VALIDATION_ERROR");
        assert.equal(err.field, `source_config.${field}`, `${source} without ${field}: ${r.text}`);
        assert.ok(err.message.includes(`source_config.${field}`), err.message);
      }
      // No source_config at all names the first required field; a non-object is refused too.
      const none = await h.server.api("POST", "/api/v1/accounts", {
        token: h.key,
        body: { phone: "+15554449990", owner_email: h.owner.email, source: "waha" },
      });
      assert.match(assertError(none, 400).field ?? "", /^source_config/);
      const notObject = await h.server.api("POST", "/api/v1/accounts", {
        token: h.key,
        body: { phone: "+15554449991", owner_email: h.owner.email, source: "evolution", source_config: "apikey" },
      });
      assert.match(assertError(notObject, 400).message, /source_config/);
      const badSource = await h.server.api("POST", "/api/v1/accounts", {
        token: h.key,
        body: { phone: "+15554449992", owner_email: h.owner.email, source: "telegram", source_config: {} },
      });
      assert.equal(assertError(badSource, 400).field, "source");
      assert.equal(await accountCount(), before);
    });

    it("secrets are never answered back in full, however short they are", async () => {
      const shortSecrets = { app_secret: "s3c", verify_token: "vt", access_token: "EAAB" };
      const acc = await createAccount(h, {
        phone: "+15550002222",
        source: "cloud_api",
        source_config: { ...shortSecrets, phone_number_id: "555000222" },
      });
      const got = await h.server.api("GET", `/api/v1/accounts/${acc.id}`, { token: h.key });
      const list = await h.server.api("GET", "/api/v1/accounts", { token: h.key });
      for (const view of [acc, got.json, list.json.items.find((a: any) => a.id === acc.id)]) {
        for (const [k, v] of Object.entries(shortSecrets)) {
          assert.notEqual(view.source_config[k], v, k);
          assert.ok(!String(view.source_config[k] ?? "").startsWith(v), `${k} shown as ${view.source_config[k]}`);
        }
        assert.equal(view.source_config.phone_number_id, "555000222");
      }
      assertNoSecret(list.json, [
        CLOUD.app_secret,
        CLOUD.verify_token,
        CLOUD.access_token,
        WAHA.api_key,
        WAHA.hmac_key,
        EVOLUTION.api_key,
      ]);
    });
  });

/**
 * The webhook signing secret: answered by create and rotate-secret only, revealed on purpose
 * by GET …/secret; never in a get, a list, an update or the log. After a rotation the old
 * secret signs deliveries beside the new one for 24 hours (`webhook-signature` carries both),
 * so a receiver holding either verifies them (checked with the `standardwebhooks` package).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Webhook } from "standardwebhooks";
import { DATABASES, TestServer, waitFor } from "../helpers/server.js";
import { Receiver, type ReceivedRequest } from "../helpers/receiver.js";
import { message, send, victim, type Victim } from "../helpers/security.js";

const verifies = (secret: string, r: ReceivedRequest): boolean => {
  try {
    new Webhook(secret).verify(r.body, {
      "webhook-id": String(r.headers["webhook-id"]),
      "webhook-timestamp": String(r.headers["webhook-timestamp"]),
      "webhook-signature": String(r.headers["webhook-signature"]),
    });
    return true;
  } catch {
    return false;
  }
};

for (const database of DATABASES) {
  describe(`the webhook signing secret (${database})`, () => {
    let server: TestServer;
    let receiver: Receiver;
    let v: Victim;
    let other: Victim;
    let id: string;
    let secret: string;
    before(async () => {
      [server, receiver] = await Promise.all([TestServer.start({ database }), Receiver.start()]);
      [v, other] = [await victim(server), await victim(server, "Other")];
      const r = await server.api("POST", "/api/v1/webhooks", { token: v.key, body: { url: receiver.url } });
      assert.equal(r.status, 201, r.text);
      [id, secret] = [r.json.id, r.json.secret];
    });
    after(async () => {
      await Promise.all([server?.stop(), receiver?.close()]);
    });

    /** Ingests one message and answers its delivery. */
    const deliver = async (): Promise<ReceivedRequest> => {
      const externalId = `wamid.${Math.random().toString(36).slice(2)}`;
      const r = await server.api("POST", "/api/v1/messages", {
        token: v.key,
        body: { messages: [message({ external_id: externalId, text: externalId })] },
      });
      assert.equal(r.status, 202, r.text);
      return waitFor(
        () => receiver.requests.find((q) => q.json?.data?.message?.text === externalId || q.body.includes(externalId)),
        "the delivery",
      );
    };

    it("create answers it; get, list, update and the log never do; GET …/secret reveals it", async () => {
      assert.match(secret, /^whsec_[A-Za-z0-9+/=]+$/);
      const answers = [
        await server.api("GET", `/api/v1/webhooks/${id}`, { token: v.key }),
        await server.api("GET", "/api/v1/webhooks", { token: v.key }),
        await server.api("PATCH", `/api/v1/webhooks/${id}`, { token: v.key, body: { aggregation: "none" } }),
        await server.api("GET", `/api/v1/webhooks/${id}/activity`, { token: v.key }),
        await server.api("GET", `/api/v1/webhooks/${id}/log`, { token: v.key }),
      ];
      for (const a of answers) {
        assert.equal(a.status, 200, a.text);
        assert.ok(!a.text.includes(secret.slice("whsec_".length)), "the secret is not answered");
        assert.doesNotMatch(a.text, /"secret"/);
      }
      const revealed = await server.api("GET", `/api/v1/webhooks/${id}/secret`, { token: v.key });
      assert.equal(revealed.status, 200);
      assert.deepEqual(revealed.json, { secret, previous_secret: null, previous_secret_expires_at: null });
      assert.equal(revealed.headers.get("cache-control"), "no-store");
    });

    it("GET …/secret: another workspace's key gets 404, no credential 401, a cross-origin form cannot rotate it", async () => {
      const foreign = await server.api("GET", `/api/v1/webhooks/${id}/secret`, { token: other.key });
      assert.equal(foreign.status, 404);
      assert.equal(
        (await server.api("POST", `/api/v1/webhooks/${id}/rotate-secret`, { token: other.key })).status,
        404,
      );
      assert.equal((await server.api("GET", `/api/v1/webhooks/${id}/secret`)).status, 401);
      const csrf = await send(server, "POST", `/api/v1/webhooks/${id}/rotate-secret`, {
        cookie: v.cookie,
        origin: "http://evil.example",
      });
      assert.equal(csrf.status, 403);
      assert.equal(
        (await server.api("GET", `/api/v1/webhooks/${id}/secret`, { token: v.key })).json.secret,
        secret,
        "not rotated",
      );
    });

    it("rotation: both secrets sign for 24 hours, a receiver holding either verifies; then only the new one", async () => {
      const first = await deliver();
      assert.equal(String(first.headers["webhook-signature"]).split(" ").length, 1);
      assert.ok(verifies(secret, first));

      const rotated = await server.api("POST", `/api/v1/webhooks/${id}/rotate-secret`, { token: v.key });
      assert.equal(rotated.status, 200, rotated.text);
      const fresh = rotated.json.secret as string;
      assert.match(fresh, /^whsec_/);
      assert.notEqual(fresh, secret);
      const shown = await server.api("GET", `/api/v1/webhooks/${id}/secret`, { token: v.key });
      assert.equal(shown.json.secret, fresh);
      assert.equal(shown.json.previous_secret, secret);
      const expires = Date.parse(shown.json.previous_secret_expires_at);
      assert.ok(Math.abs(expires - Date.now() - 24 * 3600_000) < 10 * 60_000, shown.json.previous_secret_expires_at);

      const during = await deliver();
      const signatures = String(during.headers["webhook-signature"]).split(" ");
      assert.equal(signatures.length, 2, "two signatures during the grace period");
      for (const s of signatures) assert.match(s, /^v1,[A-Za-z0-9+/=]+$/);
      assert.ok(verifies(secret, during), "a receiver still holding the old secret verifies");
      assert.ok(verifies(fresh, during), "a receiver holding the new secret verifies");
      assert.ok(!verifies("whsec_" + Buffer.alloc(24, 7).toString("base64"), during), "another secret does not");

      await server.advance(24 * 3600_000 + 1000);
      const later = await deliver();
      assert.equal(String(later.headers["webhook-signature"]).split(" ").length, 1);
      assert.ok(verifies(fresh, later));
      assert.ok(!verifies(secret, later), "the old secret no longer verifies after 24 hours");
      assert.equal(
        (await server.api("GET", `/api/v1/webhooks/${id}/secret`, { token: v.key })).json.previous_secret,
        null,
      );
    });
  });
}

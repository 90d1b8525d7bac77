/**
 * Account health (issue #23 item 4): real session events (WAHA `session.status`, Evolution
 * `connection.update`) posted through the inbound routes, the status check through a fake
 * gateway on loopback, the alert e-mail after THREADLINE_DISCONNECT_ALERT_MINUTES (test
 * clock) once per incident and the recovery e-mail, through a real SMTP server. Both databases.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MINUTE } from "../helpers/clock.js";
import { Receiver } from "../helpers/receiver.js";
import { DATABASES, TestServer, createWorkspace, sleep, waitFor } from "../helpers/server.js";
import { startSmtp } from "../helpers/smtp.js";
import { fixtureJson, fixtureText } from "../helpers/inbound.js";

const PUBLIC_URL = "https://threadline.example.test";
const EVOLUTION_KEY = "B6D711FCDE4D4FD5936544120E713976";

for (const database of DATABASES) {
  describe(`account connection: session events, status checks, alert e-mails (${database})`, () => {
    let server: TestServer;
    let gateway: Receiver;
    let smtp: Awaited<ReturnType<typeof startSmtp>>;
    let key: string;
    let waha: { id: string; path: string };
    let evolution: { id: string; path: string };
    let apiAccount: string;
    const teammate = { full_name: "Noa Levi", email: "noa@acme.test" };
    /** What the fake gateway's status answers say now. */
    let wahaStatus = "WORKING";
    let evolutionState = "open";

    before(async () => {
      [smtp, gateway] = await Promise.all([startSmtp(), Receiver.start()]);
      server = await TestServer.start({
        database,
        env: { THREADLINE_PUBLIC_URL: PUBLIC_URL, THREADLINE_SMTP_URL: smtp.url },
      });
      gateway.respond = (req) => {
        const json = (body: unknown) => ({
          status: 200,
          body: JSON.stringify(body),
          headers: { "content-type": "application/json" },
        });
        if (req.url === "/api/sessions/default")
          return json({ ...JSON.parse(fixtureText("waha/session-get.json")), status: wahaStatus });
        if (req.url === "/instance/connectionState/sales-1")
          return json(JSON.parse(fixtureText(`evolution/connection-state-${evolutionState}.json`)));
        return { status: 404, body: "{}" };
      };
      const base = new URL(gateway.url).origin;
      const ws = await createWorkspace(server);
      key = ws.api_key;
      const t = await server.api("POST", "/api/v1/teammates", { token: key, body: teammate });
      assert.equal(t.status, 201, t.text);
      const account = async (body: Record<string, unknown>) => {
        const r = await server.api("POST", "/api/v1/accounts", {
          token: key,
          body: { owner_email: teammate.email, ...body },
        });
        assert.equal(r.status, 201, r.text);
        assert.deepEqual(r.json.connection, { state: "unknown", since: null, reason: null, last_message_at: null });
        return { id: r.json.id as string, path: r.json.inbound_url ? new URL(r.json.inbound_url).pathname : "" };
      };
      waha = await account({
        phone: "+15557654321",
        source: "waha",
        source_config: { base_url: base, api_key: "waha-key", session: "default" },
      });
      evolution = await account({
        phone: "+15557654322",
        source: "evolution",
        source_config: { base_url: base, api_key: EVOLUTION_KEY, instance: "sales-1" },
      });
      apiAccount = (await account({ phone: "+15557654323", source: "api" })).id;
    });
    after(async () => {
      await server?.stop();
      await gateway?.close();
      await smtp?.close();
    });

    const post = async (path: string, file: string) => {
      const r = await server.request("POST", path, {
        headers: { "content-type": "application/json" },
        body: fixtureText(file),
      });
      assert.equal(r.status, 200, r.text);
      return r.json;
    };
    const connectionOf = async (id: string) => {
      const r = await server.api("GET", `/api/v1/accounts/${id}`, { token: key });
      assert.equal(r.status, 200, r.text);
      return r.json.connection;
    };
    const now = async () => Date.parse(await server.advance(0));

    it("WAHA working → failed → working: states with since and reason, one alert after the delay, one recovery e-mail", async () => {
      await post(waha.path, "waha/session-status-working.json");
      const working = await connectionOf(waha.id);
      assert.equal(working.state, "connected");
      assert.equal(working.reason, null);
      assert.ok(working.since);
      await post(waha.path, "waha/gows-received-direct.json");
      assert.equal((await connectionOf(waha.id)).last_message_at, "2024-11-19T07:25:20.000Z");

      await server.advance(MINUTE);
      const failedAt = await now();
      wahaStatus = "FAILED";
      await post(waha.path, "waha/session-status-failed.json");
      const failed = await connectionOf(waha.id);
      assert.equal(failed.state, "disconnected");
      assert.equal(failed.reason, "FAILED");
      const since = Date.parse(failed.since);
      assert.ok(since >= failedAt && since < failedAt + 5000, `since is when the event came (${failed.since})`);
      const list = await server.api("GET", "/api/v1/accounts", { token: key });
      assert.equal(list.json.items.find((a: any) => a.id === waha.id).connection.state, "disconnected");
      assert.match((await server.request("GET", "/metrics")).text, /^threadline_accounts_disconnected 1$/m);
      // Still failing (the session goes on restarting): the same incident.
      await post(waha.path, "waha/session-status-starting.json");
      await post(waha.path, "waha/session-status-failed.json");
      assert.equal(Date.parse((await connectionOf(waha.id)).since), since, "since stays the incident's start");

      await server.advance(9 * MINUTE);
      await sleep(300);
      assert.equal(smtp.mails.length, 0, "nothing before the delay");
      await server.advance(2 * MINUTE);
      await waitFor(() => smtp.mails.length >= 1, "the disconnection e-mail");
      const [alert] = smtp.mails;
      assert.deepEqual(alert!.to, [teammate.email], "to the account's owner");
      assert.match(alert!.subject, /\+15557654321 stopped receiving/);
      assert.match(alert!.text, /FAILED/);
      await server.advance(30 * MINUTE);
      await sleep(300);
      assert.equal(smtp.mails.length, 1, "once per incident");

      wahaStatus = "WORKING";
      await post(waha.path, "waha/session-status-working-again.json");
      const back = await connectionOf(waha.id);
      assert.equal(back.state, "connected");
      await waitFor(() => smtp.mails.length >= 2, "the recovery e-mail");
      assert.match(smtp.mails[1]!.subject, /\+15557654321 is receiving again/);
      assert.deepEqual(smtp.mails[1]!.to, [teammate.email]);
      assert.match((await server.request("GET", "/metrics")).text, /^threadline_accounts_disconnected 0$/m);
    });

    it("Evolution connection.update open/connecting/close, and the status check every few minutes", async () => {
      await post(evolution.path, "evolution/connection-update.json");
      assert.equal((await connectionOf(evolution.id)).state, "connected");
      await post(evolution.path, "evolution/connection-update-connecting.json");
      assert.deepEqual(
        [(await connectionOf(evolution.id)).state, (await connectionOf(evolution.id)).reason],
        ["disconnected", "connecting"],
      );
      await post(evolution.path, "evolution/connection-update-close.json");
      const closed = await connectionOf(evolution.id);
      assert.equal(closed.reason, "close (401)");
      await post(evolution.path, "evolution/connection-update.json");
      assert.equal((await connectionOf(evolution.id)).state, "connected");

      // The gateway's own answer: the session closed without an event reaching Threadline.
      evolutionState = "close";
      const checks = gateway.requests.filter((r) => r.url === "/instance/connectionState/sales-1").length;
      await server.advance(6 * MINUTE);
      await waitFor(
        async () => (await connectionOf(evolution.id)).state === "disconnected",
        "the status check's answer",
      );
      assert.ok(gateway.requests.filter((r) => r.url === "/instance/connectionState/sales-1").length > checks);
      evolutionState = "open";
      await post(evolution.path, "evolution/connection-update.json");
    });

    it("an account without a session (api, Cloud API) answers unknown, with its last message's time", async () => {
      const phone = "+15557654323";
      const r = await server.api("POST", "/api/v1/messages", {
        token: key,
        body: {
          messages: [
            {
              account_phone: phone,
              chat: { external_id: "c1", phone: "+15550001234" },
              external_id: "m1",
              direction: "received",
              timestamp: "2024-11-19T08:00:00Z",
              type: "text",
              text: "hi",
            },
          ],
        },
      });
      assert.equal(r.status, 202, r.text);
      assert.deepEqual(await connectionOf(apiAccount), {
        state: "unknown",
        since: null,
        reason: null,
        last_message_at: "2024-11-19T08:00:00.000Z",
      });
      const other = await createWorkspace(server);
      assert.equal((await server.api("GET", `/api/v1/accounts/${waha.id}`, { token: other.api_key })).status, 404);
      const body = fixtureJson("waha/session-status-failed.json");
      body.session = "another-session";
      const ignored = await server.request("POST", waha.path, {
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      assert.equal(ignored.status, 200);
      assert.equal((await connectionOf(waha.id)).state, "connected", "another session's event is not this account's");
    });
  });
}

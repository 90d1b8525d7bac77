import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TargetGuard } from "../../src/webhooks/targets.js";
import { Receiver } from "../helpers/receiver.js";
import { DATABASES, sleep, TestServer, waitFor } from "../helpers/server.js";
import { createWebhook, getLog, getWebhook, idsOf, ingest, type LogEntry, space, texts } from "../helpers/workspace.js";

async function firstLogEntry(server: TestServer, key: string, id: string): Promise<LogEntry> {
  return waitFor(async () => (await getLog(server, key, id))[0], `a log entry for ${id}`);
}

describe("safe targets: the TargetGuard ranges", () => {
  it("blocks loopback, private, link-local, CGNAT, multicast, reserved and metadata addresses, IPv6 included", () => {
    const guard = new TargetGuard(false);
    for (const a of [
      "127.0.0.1",
      "127.255.0.9",
      "10.0.0.1",
      "172.16.5.4",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "100.100.100.200",
      "224.0.0.1",
      "0.0.0.0",
      "240.0.0.1",
      "255.255.255.255",
      "198.18.0.1",
      "::1",
      "::",
      "fe80::1",
      "fc00::1",
      "fd00:ec2::254",
      "ff02::1",
      "::ffff:127.0.0.1",
      "::ffff:a9fe:a9fe",
      "64:ff9b::a00:1",
      "2001:db8::1",
      "2002:7f00:1::1",
      // Every IPv4-mapped address (::ffff:0:0/96), a public one's too (issue 21).
      "::ffff:8.8.8.8",
      "::ffff:808:808",
    ]) {
      assert.ok(guard.blockedReason(a), `${a} must be blocked`);
    }
    for (const a of [
      "93.184.215.14",
      "1.1.1.1",
      "8.8.8.8",
      "2606:4700:4700::1111",
      "2a00:1450:4001:80e::200e",
      "64:ff9b::808:808",
    ]) {
      assert.equal(guard.blockedReason(a), undefined, `${a} is public`);
    }
    assert.match(guard.blockedReason("169.254.169.254")!, /cloud metadata/);
    assert.match(guard.blockedReason("::1")!, /loopback.*THREADLINE_ALLOW_PRIVATE_TARGETS/);
    assert.match(guard.blockedReason("10.1.2.3")!, /private/);

    const some = new TargetGuard(["127.0.0.0/8", "fd12::/16"]);
    assert.equal(some.blockedReason("127.0.0.1"), undefined);
    assert.equal(some.blockedReason("fd12::5"), undefined);
    assert.ok(some.blockedReason("10.0.0.1"));
    assert.ok(some.blockedReason("::1"));
    assert.equal(new TargetGuard(true).blockedReason("10.0.0.1"), undefined);
  });
});

for (const database of DATABASES)
  describe(`safe targets without THREADLINE_ALLOW_PRIVATE_TARGETS (${database})`, () => {
    let receiver: Receiver;
    let receiver6: Receiver;
    let server: TestServer;

    before(async () => {
      receiver = await Receiver.start("127.0.0.1");
      receiver6 = await Receiver.start("::1");
      server = await TestServer.start({ database, env: { THREADLINE_ALLOW_PRIVATE_TARGETS: undefined } });
    });
    after(async () => {
      await server?.stop();
      await receiver?.close();
      await receiver6?.close();
    });

    it("refuses a URL that is not http(s) on save, with a clear message", async () => {
      const s = await space(server);
      for (const url of ["ftp://example.com/hook", "file:///etc/passwd", "not a url", "javascript:alert(1)"]) {
        const r = await server.api("POST", "/api/v1/webhooks", { token: s.key, body: { url } });
        assert.equal(r.status, 400, `${url}: ${r.text}`);
        assert.equal(r.json.error.code, "VALIDATION_ERROR");
        assert.match(r.json.error.message, /^url: /);
        assert.match(r.json.error.message, /http:\/\/|URL/);
      }
      const wh = await createWebhook(server, s.key, "https://hooks.example.com/x");
      const r = await server.api("PATCH", `/api/v1/webhooks/${wh.id}`, {
        token: s.key,
        body: { url: "gopher://example.com/" },
      });
      assert.equal(r.status, 400);
      assert.match(r.json.error.message, /must start with http:\/\/ or https:\/\//);
    });

    it("refuses loopback, private, metadata and IPv6 loopback targets before connecting, logged as BLOCKED_TARGET", async () => {
      const s = await space(server);
      const targets = [
        receiver.url,
        `http://localhost:${receiver.port}/hook`,
        receiver6.url,
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
      ];
      const hooks = [];
      for (const url of targets) hooks.push(await createWebhook(server, s.key, url));
      idsOf(await ingest(server, s, texts(s, [[1, "hello"]])));
      for (const [i, wh] of hooks.entries()) {
        const entry = await firstLogEntry(server, s.key, wh.id);
        assert.equal(entry.error?.code, "BLOCKED_TARGET", `${targets[i]}: ${JSON.stringify(entry.error)}`);
        assert.equal(entry.response, null);
        assert.match(entry.error!.message, /THREADLINE_ALLOW_PRIVATE_TARGETS/);
        assert.ok(entry.duration_ms < 1000, "refused at once, not after a connect timeout");
        // An error like any other: it counts toward disabling.
        assert.equal((await getWebhook(server, s.key, wh.id)).consecutive_failures, 1);
      }
      const [, byName, v6, , metadata] = await Promise.all(hooks.map((h) => firstLogEntry(server, s.key, h.id)));
      // A name's resolution is never echoed (an internal network is not mapped through the errors).
      assert.match(byName!.error!.message, /^localhost resolves to an address Threadline may not reach/);
      assert.doesNotMatch(byName!.error!.message, /127\.0\.0\.1|::1|loopback address/);
      assert.match(v6!.error!.message, /^::1 is a loopback address/);
      assert.match(metadata!.error!.message, /^169\.254\.169\.254 is a cloud metadata address/);
      await sleep(300);
      assert.equal(receiver.requests.length, 0, "no connection reached the IPv4 receiver");
      assert.equal(receiver6.requests.length, 0, "no connection reached the IPv6 receiver");
    });
  });

for (const database of DATABASES)
  describe(`safe targets with THREADLINE_ALLOW_PRIVATE_TARGETS (${database})`, () => {
    let receiver: Receiver;
    let receiver6: Receiver;
    let all: TestServer;
    let some: TestServer;

    before(async () => {
      receiver = await Receiver.start("127.0.0.1");
      receiver6 = await Receiver.start("::1");
      [all, some] = await Promise.all([
        TestServer.start({ database, env: { THREADLINE_ALLOW_PRIVATE_TARGETS: "1" } }),
        TestServer.start({ database, env: { THREADLINE_ALLOW_PRIVATE_TARGETS: "127.0.0.0/8" } }),
      ]);
    });
    after(async () => {
      await Promise.all([all?.stop(), some?.stop()]);
      await receiver?.close();
      await receiver6?.close();
    });

    it("=1 lets 127.0.0.1, localhost and [::1] through", async () => {
      const s = await space(all);
      const byIp = await createWebhook(all, s.key, receiver.url);
      const byName = await createWebhook(all, s.key, `http://localhost:${receiver.port}/hook`);
      const v6 = await createWebhook(all, s.key, receiver6.url);
      idsOf(await ingest(all, s, texts(s, [[1, "allowed"]])));
      await waitFor(() => receiver.accepted.size === 2 && receiver6.accepted.size === 1, "three deliveries");
      const ids = new Set([...receiver.accepted.keys(), ...receiver6.accepted.keys()]);
      for (const wh of [byIp, byName, v6]) {
        const entry = await firstLogEntry(all, s.key, wh.id);
        assert.equal(entry.response?.status, 200);
        assert.ok(ids.has(entry.delivery_id));
      }
      receiver.reset();
    });

    it("a CIDR list allows only those ranges", async () => {
      const s = await space(some);
      const seen6 = receiver6.requests.length;
      const v4 = await createWebhook(some, s.key, receiver.url);
      const v6 = await createWebhook(some, s.key, receiver6.url);
      idsOf(await ingest(some, s, texts(s, [[1, "cidr"]])));
      await waitFor(() => receiver.accepted.size === 1, "the 127.0.0.0/8 delivery");
      assert.equal((await firstLogEntry(some, s.key, v4.id)).response?.status, 200);
      const blocked = await firstLogEntry(some, s.key, v6.id);
      assert.equal(blocked.error?.code, "BLOCKED_TARGET");
      await sleep(300);
      assert.equal(receiver6.requests.length, seen6, "nothing reached ::1");
    });
  });

/**
 * The Incoming webhooks tab lists, under each gateway account, what its gateway sent that
 * could not be read as messages (time, reason, raw body); an account whose gateway session
 * stopped shows a banner on Accounts and the Timeline. Real server, real Chromium.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { FIXTURES } from "../helpers/contract.js";
import { type Browser, type Page } from "playwright-core";
import { TestServer, createWorkspace } from "../helpers/server.js";
import { ensureWebBuild, launchChromium, signIn } from "../helpers/web.js";

let server: TestServer;
let browser: Browser;
let page: Page;
let key: string;
let ws: Awaited<ReturnType<typeof createWorkspace>>;

before(async () => {
  ensureWebBuild();
  [server, browser] = await Promise.all([
    // The browser signs in at the server's own address: the public URL is left to default to it (the CSRF rule compares them).
    TestServer.start(),
    launchChromium(),
  ]);
  ws = await createWorkspace(server, { name: "Acme Test Co" });
  key = ws.api_key;
  const acc = await server.api("POST", "/api/v1/accounts", {
    token: key,
    body: {
      phone: "+15557654321",
      owner_email: "amnon@acme.com",
      source: "waha",
      source_config: { base_url: "http://127.0.0.1:9", api_key: "k", session: "default" },
    },
  });
  assert.equal(acc.status, 201, acc.text);
  await server.api("POST", "/api/v1/accounts", {
    token: key,
    body: {
      phone: "+15557654322",
      owner_email: "amnon@acme.com",
      source: "evolution",
      source_config: { base_url: "http://127.0.0.1:9", api_key: "k", instance: "i" },
    },
  });
  // An authenticated WAHA event without its payload: kept as unrecognised.
  const inbound = new URL(acc.json.inbound_url).pathname;
  const res = await fetch(server.url + inbound, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ event: "message.any", session: "default", marker: "kept-body-7731" }),
  });
  assert.equal(res.status, 200);
  page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("Incoming tab: an account's unrecognised events show with their reason and raw body; an account without any says so", async () => {
  await page.goto(server.url + "/");
  await signIn(page, server, ws);
  await page.goto(server.url + "/webhooks/incoming");
  const events = page.getByTestId("unrecognised-events");
  await events.waitFor();
  assert.match((await events.locator("summary").textContent()) ?? "", /^1 unrecognised event /);
  await events.locator("summary").click();
  const text = (await events.textContent()) ?? "";
  assert.match(text, /payload is required/);
  assert.match(text, /kept-body-7731/);
  assert.equal(await page.getByTestId("unrecognised-none").count(), 1, "the Evolution account has none");
});

test("a WhatsApp account whose session failed shows a banner on Accounts and on the Timeline: which account, since when, why", async () => {
  const accounts = await server.api("GET", "/api/v1/accounts", { token: key });
  const waha = accounts.json.items.find((a: { source: string }) => a.source === "waha");
  const inbound = new URL(waha.inbound_url).pathname;
  // WAHA's session.status FAILED body (devlikeapro/waha issue #1386).
  const res = await fetch(server.url + inbound, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: readFileSync(path.join(FIXTURES, "waha/session-status-failed.json"), "utf8"),
  });
  assert.equal(res.status, 200, await res.text());
  const after = await server.api("GET", `/api/v1/accounts/${waha.id}`, { token: key });
  assert.equal(after.json.connection.state, "disconnected", JSON.stringify(after.json));
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const fresh = await context.newPage();
  await fresh.goto(server.url + "/");
  await signIn(fresh, server, ws);
  for (const where of ["/accounts", "/timeline"]) {
    await fresh.goto(server.url + where);
    const banner = fresh.getByTestId("disconnected-banner");
    await banner.waitFor();
    const text = (await banner.textContent()) ?? "";
    assert.match(text, /WhatsApp account \+15557654321 stopped receiving/, where);
    assert.match(text, /since \S/, where);
    assert.match(text, /FAILED/, where);
    assert.equal(await banner.count(), 1, `only the disconnected account (${where})`);
  }
  await context.close();
});

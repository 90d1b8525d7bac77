/**
 * Sending from Threadline in the UI: the Incoming tab generates the send URL (shown once, with
 * a copy button) and regenerates it after a confirmation; a conversation shows each message
 * sent from Threadline as sent or failed (with the reason). Real server, real Chromium.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type Browser, type Page } from "playwright-core";
import { TestServer, createWorkspace, waitFor } from "../helpers/server.js";
import { Receiver } from "../helpers/receiver.js";
import { ensureWebBuild, launchChromium, signIn } from "../helpers/web.js";

let server: TestServer;
let browser: Browser;
let page: Page;
let key: string;
let ws: Awaited<ReturnType<typeof createWorkspace>>;
let gateway: Receiver;

before(async () => {
  ensureWebBuild();
  [server, browser, gateway] = await Promise.all([
    // The browser signs in at the server's own address: the public URL is left to default to it (the CSRF rule compares them).
    TestServer.start({ env: { THREADLINE_SEND_PAUSE_MS: "0" } }),
    launchChromium(),
    Receiver.start(),
  ]);
  // The WAHA gateway refuses every number (as it does an invalid one).
  gateway.answer({ status: 400, body: '{"error":"invalid number"}', headers: { "content-type": "application/json" } });
  ws = await createWorkspace(server, { name: "Acme Test Co" });
  key = ws.api_key;
  for (const body of [
    { phone: "+15557654321", source: "api" },
    {
      phone: "+15557654322",
      source: "waha",
      source_config: { base_url: gateway.origin, api_key: "k", session: "default" },
    },
  ]) {
    const r = await server.api("POST", "/api/v1/accounts", {
      token: key,
      body: { ...body, owner_email: ws.owner.email },
    });
    assert.equal(r.status, 201, r.text);
  }
  page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await page.goto(server.url + "/");
  await signIn(page, server, ws);
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await gateway?.close();
});

test("Incoming tab: generate the send URL, send through it, regenerate after confirming (the old one stops working)", async () => {
  await page.goto(server.url + "/webhooks/incoming");
  await page.getByTestId("send-url-none").waitFor();
  await page.getByTestId("send-url-generate").click();
  const first = await page.getByTestId("send-url").inputValue();
  assert.match(first, /^http:\/\/localhost:\d+\/hooks\/send\/snd_[A-Za-z0-9_-]{20,}$/);
  assert.equal(await page.getByTestId("send-url-card").getByRole("button", { name: /Copy/ }).count(), 1);
  const send = (url: string, text: string) =>
    fetch(server.url + new URL(url).pathname, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ account_phone: "+15557654321", phone: "+15550008001", text }),
    });
  assert.equal((await send(first, "sent from a form")).status, 202);

  let asked = "";
  page.once("dialog", (d) => {
    asked = d.message();
    void d.accept();
  });
  await page.getByRole("button", { name: "Regenerate URL" }).click();
  await waitFor(async () => (await page.getByTestId("send-url").inputValue()) !== first, "a new URL");
  assert.match(asked, /stops working/);
  assert.equal((await send(first, "too late")).status, 404);
  const second = await page.getByTestId("send-url").inputValue();
  await page.reload();
  assert.equal(
    await page.getByTestId("send-url").inputValue(),
    second,
    "the current URL is shown again after a reload",
  );
});

test("a conversation says what sending does for its account's source; a message of an API account reads Recorded (it never reached WhatsApp), a refused one Failed with the reason", async () => {
  const refused = await server.api("POST", "/api/v1/messages/send", {
    token: key,
    body: { account_phone: "+15557654322", phone: "+15550008002", text: "refused one" },
  });
  assert.equal(refused.status, 202, refused.text);
  const failed = await waitFor(async () => {
    const m = await server.api("GET", `/api/v1/messages/${refused.json.message_id}`, { token: key });
    return m.json.send_status === "failed" ? m.json : undefined;
  }, "the refusal");
  assert.match(failed.send_error, /HTTP 400/);
  const chats = (await server.api("GET", "/api/v1/chats", { token: key })).json.items;
  const byPhone = (phone: string) => chats.find((c: any) => c.phone === phone).chat_id;

  // The account of +15550008001 has the API as its source: nothing goes to WhatsApp.
  await page.goto(`${server.url}/chat/${byPhone("+15550008001")}/messages/`);
  const sent = page.locator('[data-testid="send-status"][data-status="sent"]');
  await sent.waitFor();
  assert.equal((await sent.textContent())?.trim(), "Recorded");
  assert.match((await sent.getAttribute("title")) ?? "", /not sent to WhatsApp/);
  const hint = page.locator("#composer-hint");
  assert.match((await hint.textContent()) ?? "", /recorded in Threadline and sent to your webhooks, not to WhatsApp/);
  assert.doesNotMatch((await hint.textContent()) ?? "", /goes to WhatsApp/);

  await page.goto(`${server.url}/chat/${byPhone("+15550008002")}/messages/`);
  await page.locator('[data-testid="send-status"][data-status="failed"]').waitFor();
  assert.match((await page.getByTestId("send-error").textContent()) ?? "", /Not sent: .*refused.*HTTP 400/);
  assert.match((await hint.textContent()) ?? "", /goes to WhatsApp through WAHA, then to your webhooks/);
});

test("a page of another site can call the send URL with fetch (CORS, no credentials); the message is queued", async () => {
  const created = await server.api("POST", "/api/v1/send-url", { token: key });
  assert.equal(created.status, 201, created.text);
  const sendUrl = server.url + new URL(created.json.url).pathname;
  // Another origin: a page served by a plain HTTP server on another port.
  const site = await Receiver.start();
  site.answer({
    status: 200,
    body: "<!doctype html><title>CRM widget</title><p>widget</p>",
    headers: { "content-type": "text/html" },
  });
  const other = await (await browser.newContext()).newPage();
  try {
    await other.goto(site.url);
    const answer = await other.evaluate(async (url) => {
      const r = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ account_phone: "+15557654321", phone: "+15550008003", text: "from another site" }),
      });
      return { status: r.status, body: await r.json() };
    }, sendUrl);
    assert.equal(answer.status, 202);
    assert.equal(answer.body.status, "queued");
    const m = await waitFor(async () => {
      const r = await server.api("GET", `/api/v1/messages/${answer.body.message_id}`, { token: key });
      return r.json?.send_status === "sent" ? r.json : undefined;
    }, "the message sent");
    assert.equal(m.text, "from another site");
    // The preflight answers what a browser asks, and never allows credentials.
    const preflight = await fetch(sendUrl, {
      method: "OPTIONS",
      headers: {
        origin: site.origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
    assert.equal(preflight.headers.get("access-control-allow-credentials"), null);
  } finally {
    await other.context().close();
    await site.close();
  }
});

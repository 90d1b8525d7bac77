/**
 * Browser tests of the web UI against the real server (one server, one browser for the file).
 * They need Chromium at /usr/bin/chromium (Debian package `chromium`).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { type Browser, type BrowserContext, type Locator, type Page } from "playwright-core";
import { TestServer, createWorkspace, waitFor } from "../helpers/server.js";
import { Receiver } from "../helpers/receiver.js";
import { ensureWebBuild, launchChromium, signIn, eventually } from "../helpers/web.js";

let server: TestServer;
let receiver: Receiver;
let browser: Browser;
let ctx: BrowserContext;
let page: Page;
let key: string;
let ws: Awaited<ReturnType<typeof createWorkspace>>;
let webhookId: string;
let chatId: string;
const ACCOUNT = "+972500000000";
const CONTACT = "+972540000000";

const api = async (method: string, p: string, body?: unknown) => {
  const r = await server.api(method, p, { token: key, body });
  if (r.status >= 400) throw new Error(`${method} ${p}: ${r.status} ${r.text}`);
  return r.json;
};

const card = (): Locator => page.locator(`[data-testid="webhook-card"][data-webhook-id="${webhookId}"]`);
const nav = (name: string) => page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });

before(async () => {
  ensureWebBuild();
  [server, receiver, browser] = await Promise.all([TestServer.start(), Receiver.start(), launchChromium()]);
  ws = await createWorkspace(server, { name: "Acme Test Co" });
  key = ws.api_key;
  await api("POST", "/api/v1/teammates", { full_name: "Dana Levi", email: "dana@acme.com" });
  await api("POST", "/api/v1/accounts", { phone: ACCOUNT, owner_email: "amnon@acme.com", source: "api" });
  ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  page = await ctx.newPage();
});

after(async () => {
  await browser?.close();
  await receiver?.close();
  await server?.stop();
});

test("sign in: a wrong password (or an API key) is refused next to the field, the right one opens the workspace", async () => {
  await page.goto(server.url + "/");
  await page.getByLabel("E-mail").fill("amnon@acme.com");
  const field = page.getByLabel("Password", { exact: true });
  await field.fill(key);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.locator("#signin-password-error").waitFor();
  assert.equal(await field.getAttribute("aria-invalid"), "true");
  await signIn(page, server, ws);
  assert.equal((await page.getByTestId("workspace-name").textContent())?.trim(), "Acme Test Co");
  for (const name of ["Webhooks", "Timeline", "Accounts", "Teammates"]) assert.equal(await nav(name).count(), 1, name);
  assert.equal(await nav("Webhooks").getAttribute("aria-current"), "page");
  // The session is a cookie: a reload stays signed in.
  await page.reload();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
});

test("outgoing webhook: create, change the aggregation, disable and enable", async () => {
  await page.getByRole("tab", { name: "Outgoing" }).waitFor();
  // A bad URL is refused next to the field.
  await page.getByLabel("Webhook URL").fill("not a url");
  await page.getByRole("button", { name: "Add webhook" }).click();
  await page.locator("#new-webhook-url-error").waitFor();

  await page.getByLabel("Webhook URL").fill(receiver.url);
  await page.getByRole("button", { name: "Add webhook" }).click();
  const first = page.getByTestId("webhook-card").first();
  await first.waitFor();
  webhookId = (await first.getAttribute("data-webhook-id"))!;
  const [created] = (await api("GET", "/api/v1/webhooks")).items;
  assert.equal(created.id, webhookId);
  assert.equal(created.url, receiver.url);
  assert.equal(created.aggregation, "none");

  // The secret is shown once, with a copy button.
  const secret = (await card().getByTestId("webhook-secret").locator("code").textContent())?.trim() ?? "";
  assert.match(secret, /^whsec_\S+$/);
  assert.equal(await card().getByRole("button", { name: "Copy secret" }).count(), 1);

  const agg = card().getByLabel("Aggregation");
  const options = await agg.locator("option").allTextContents();
  assert.deepEqual(options, ["Don't aggregate", "Every hour", "Every 6 hours", "Every 12 hours", "Every 24 hours"]);
  await agg.selectOption({ label: "Every 6 hours" });
  await eventually(
    async () => (await api("GET", `/api/v1/webhooks/${webhookId}`)).aggregation === "6h",
    "aggregation 6h",
  );
  await card().getByRole("button", { name: "Flush open bundles" }).waitFor();
  await agg.selectOption({ label: "Don't aggregate" });
  await eventually(
    async () => (await api("GET", `/api/v1/webhooks/${webhookId}`)).aggregation === "none",
    "aggregation none",
  );
  assert.equal(await card().getByRole("button", { name: "Flush open bundles" }).count(), 0);

  const sw = card().getByRole("switch", { name: "Enabled" });
  assert.equal(await sw.getAttribute("aria-checked"), "true");
  assert.equal(await card().getByTestId("webhook-status").textContent(), "Active");
  // Switching off asks first (what happens to messages meanwhile), switching on asks what to do with them.
  await sw.click();
  await card().getByRole("button", { name: "Switch off" }).click();
  await eventually(async () => (await sw.getAttribute("aria-checked")) === "false", "switch off");
  const off = await api("GET", `/api/v1/webhooks/${webhookId}`);
  assert.equal(off.enabled, false);
  assert.equal(off.disabled_reason, "manual");
  assert.equal(await card().getByTestId("webhook-status").textContent(), "Disabled");
  assert.match((await card().getByTestId("webhook-status-detail").textContent()) ?? "", /manual/);

  // Nothing waits, so there is nothing to choose: a plain confirmation.
  await sw.click();
  const question = card().getByTestId("enable-question");
  assert.match((await question.textContent()) ?? "", /No messages wait: it delivers what arrives from now on\./);
  assert.equal(await question.getByRole("button", { name: "Skip them" }).count(), 0);
  await question.getByRole("button", { name: "Switch on" }).click();
  await eventually(async () => (await sw.getAttribute("aria-checked")) === "true", "switch on");
  const on = await api("GET", `/api/v1/webhooks/${webhookId}`);
  assert.equal(on.enabled, true);
  assert.equal(on.disabled_reason, null);
  assert.equal(await card().getByTestId("webhook-status").textContent(), "Active");

  // Rotating gives a new secret, shown once again.
  await card().getByRole("button", { name: "I've stored it" }).click();
  assert.equal(await card().getByTestId("webhook-secret").count(), 0);
  await card().getByRole("button", { name: "Rotate secret" }).click();
  await card().getByRole("button", { name: "Rotate now" }).click();
  const rotated = (await card().getByTestId("webhook-secret").locator("code").textContent())?.trim() ?? "";
  assert.match(rotated, /^whsec_\S+$/);
  assert.notEqual(rotated, secret);
});

test("activity: a delivered message shows up, and a test event reports the receiver's answer", async () => {
  const before = receiver.requests.length;
  const r = await api("POST", "/api/v1/messages", {
    messages: [
      {
        account_phone: ACCOUNT,
        chat: { external_id: "972540000000@s.whatsapp.net", full_name: "John Doe", is_group: false, phone: CONTACT },
        external_id: "wamid.ui-1",
        direction: "received",
        timestamp: new Date(Date.now() - 60_000).toISOString(),
        type: "text",
        text: "Hello from the UI test 👋",
      },
    ],
  });
  assert.equal(r.accepted, 1);
  await waitFor(
    () => receiver.requests.slice(before).find((q) => q.json?.message?.text === "Hello from the UI test 👋"),
    "delivery to the receiver",
  );

  const delivered = card().locator('[data-testid="activity-log"] [data-kind="delivered"]');
  await eventually(async () => (await delivered.count()) > 0, "a delivered activity item", 20_000);
  await eventually(
    async () => Number(await card().getByTestId("webhook-chart").getAttribute("data-delivered")) >= 1,
    "the chart counts the delivery",
    20_000,
  );

  await card().getByRole("button", { name: "Send test event" }).click();
  const result = card().getByTestId("test-result");
  await result.waitFor();
  assert.equal(await result.getAttribute("data-ok"), "true");
  assert.match((await result.textContent()) ?? "", /HTTP 200/);

  // A failing receiver is reported as such.
  receiver.respond = () => ({ status: 500, body: "boom" });
  try {
    await card().getByRole("button", { name: "Send test event" }).click();
    await eventually(async () => (await result.getAttribute("data-ok")) === "false", "a failed test event");
    assert.match((await result.textContent()) ?? "", /HTTP 500/);
  } finally {
    receiver.respond = () => ({ status: 200, body: "ok" });
  }
});

test("the detailed log downloads as JSON with the requests sent", async () => {
  const link = card().getByRole("link", { name: "Download detailed log (100 most recent requests)" });
  assert.equal(await link.getAttribute("href"), `/api/v1/webhooks/${webhookId}/log`);
  const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
  const file = await download.path();
  const log = JSON.parse(readFileSync(file, "utf8"));
  assert.ok(Array.isArray(log) && log.length >= 2 && log.length <= 100, "an array of requests");
  for (const e of log) {
    assert.equal(typeof e.request_id, "string");
    assert.equal(e.request.method, "POST");
    assert.equal(e.request.url, receiver.url);
  }
  const message = log.find(
    (e: any) => typeof e.request.body === "string" && e.request.body.includes("Hello from the UI test"),
  );
  assert.ok(message, "the message's request is in the log");
  assert.equal(JSON.parse(message.request.body).message.text, "Hello from the UI test 👋");
  assert.equal(message.response.status, 200);
});

test("a permalink opened signed out asks to sign in, then shows the message highlighted", async () => {
  const msgs = Array.from({ length: 40 }, (_, i) => ({
    account_phone: ACCOUNT,
    chat: { external_id: "972540000000@s.whatsapp.net", full_name: "John Doe", is_group: false, phone: CONTACT },
    external_id: `wamid.ui-bulk-${i}`,
    direction: i % 2 ? "sent" : "received",
    timestamp: new Date(Date.now() - (50 - i) * 50_000).toISOString(),
    type: i === 39 ? "image" : "text",
    text: i === 39 ? "" : `Line number ${i}`,
  }));
  await api("POST", "/api/v1/messages", { messages: msgs });
  const chats = await api("GET", "/api/v1/chats?q=John");
  chatId = chats.items[0].chat_id;
  const list = (await api("GET", `/api/v1/chats/${chatId}/messages?limit=200`)).items as any[];
  const target = list.find((m) => m.text === "Line number 5");
  assert.ok(target, "the target message is listed");
  const permalinkPath = new URL(target.permalink).pathname;
  assert.match(permalinkPath, /^\/permalink\/[^/]+\/$/);

  const other = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const p = await other.newPage();
    await p.goto(server.url + permalinkPath);
    // The web app's own sign-in (the server's no-JavaScript fallback is replaced on load).
    await p.getByRole("heading", { name: "Sign in to your workspace" }).waitFor();
    await signIn(p, server, ws);
    assert.equal(new URL(p.url()).pathname, permalinkPath, "back at the permalink after signing in");
    const hl = p.locator('article.bubble[data-highlighted="true"]');
    await hl.waitFor();
    assert.equal(await hl.count(), 1);
    assert.equal(await hl.getAttribute("data-message-id"), target.message_id);
    assert.match((await hl.getAttribute("class")) ?? "", /\bhighlighted\b/);
    assert.match((await hl.textContent()) ?? "", /Line number 5/);
    // Scrolled into view inside the message pane (it starts far from the bottom).
    const inView = await hl.evaluate((el) => {
      const box = el.closest('[data-testid="messages"]')!.getBoundingClientRect();
      const r = el.getBoundingClientRect();
      return r.top >= box.top && r.bottom <= box.bottom;
    });
    assert.ok(inView, "the highlighted message is visible");
    // Only one bubble is highlighted; an attachment is shown as not forwarded.
    const image = list.find((m) => m.status === "skipped");
    assert.ok(image, "the image is listed as skipped");
    const imageBubble = p.locator(`article.bubble[data-message-id="${image.message_id}"]`);
    assert.equal(await imageBubble.getAttribute("data-highlighted"), null);
    assert.match((await imageBubble.textContent()) ?? "", /Attachment \(not forwarded\)/);
  } finally {
    await other.close();
  }
});

test("Timeline: search, assign, and send a message that reaches the webhook as sent", async () => {
  await nav("Timeline").click();
  await page.getByTestId("chat-item").first().waitFor();
  await page.getByLabel("Search chats").fill("no such person");
  await page.getByText("No chat matches").waitFor();
  await page.getByLabel("Search chats").fill("John");
  const item = page.getByTestId("chat-item").filter({ hasText: "John Doe" });
  await item.waitFor();
  await item.click();
  await page.waitForURL(`**/chat/${chatId}/messages/`);
  await page.getByTestId("chat-title").filter({ hasText: "John Doe" }).waitFor();
  const received = page.locator('article.bubble[data-direction="received"]').first();
  await received.waitFor();

  await page.getByLabel("Responsible").selectOption("dana@acme.com");
  await eventually(
    async () => (await api("GET", `/api/v1/chats/${chatId}`)).responsible?.email === "dana@acme.com",
    "responsible assigned",
  );

  const before = receiver.requests.length;
  const text = `Sent from the Timeline ${Date.now()}`;
  // The signed-in person sends (the owner here), whoever is responsible for the chat.
  assert.match((await page.getByTestId("send-as").textContent()) ?? "", /Sending as Amnon Haha/);
  await page.getByLabel("Message", { exact: true }).fill(text);
  await page.getByRole("button", { name: "Send", exact: true }).click();
  const bubble = page.locator('article.bubble[data-direction="sent"]').filter({ hasText: text });
  await bubble.waitFor();
  assert.match((await bubble.textContent()) ?? "", /Amnon Haha/);
  // Sent bubbles sit on the right, received on the left.
  const [sentBox, recvBox] = [await bubble.boundingBox(), await received.boundingBox()];
  assert.ok(sentBox && recvBox && sentBox.x > recvBox.x, "sent on the right");
  assert.equal(await page.getByLabel("Message", { exact: true }).inputValue(), "");

  const got = await waitFor(
    () => receiver.requests.slice(before).find((q) => q.json?.message?.text === text),
    "the sent message at the receiver",
  );
  assert.equal(got.json.message.direction, "sent");
  assert.equal(got.json.message.sender.full_name, "Amnon Haha");
  assert.equal(got.json.chat.chat_id, chatId);
  assert.equal(got.json.chat.responsible_email, "dana@acme.com");
});

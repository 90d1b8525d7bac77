/**
 * Browser test of the webhook filter on its card (issue #15): edited in the UI, answered by the API.
 * Needs Chromium at /usr/bin/chromium.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { type Browser, type Page } from "playwright-core";
import { TestServer, createWorkspace } from "../helpers/server.js";
import { ensureWebBuild, launchChromium, signIn } from "../helpers/web.js";

let server: TestServer;
let browser: Browser;
let page: Page;
let key: string;
let ws: Awaited<ReturnType<typeof createWorkspace>>;
const A = "+972500000101";
const B = "+972500000102";

const api = async (method: string, p: string, body?: unknown) => {
  const r = await server.api(method, p, { token: key, body });
  assert.ok(r.status < 400, `${method} ${p}: ${r.status} ${r.text}`);
  return r.json;
};

before(async () => {
  ensureWebBuild();
  [server, browser] = await Promise.all([TestServer.start(), launchChromium()]);
  ws = await createWorkspace(server, { name: "Filter Co" });
  key = ws.api_key;
  await api("POST", "/api/v1/teammates", { full_name: "Dana Levi", email: "dana@filter.example" });
  for (const phone of [A, B])
    await api("POST", "/api/v1/accounts", { phone, owner_email: ws.owner.email, source: "api" });
  page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("the filter is edited on the webhook's card and the API then answers it", async () => {
  const w = await api("POST", "/api/v1/webhooks", { url: "https://receiver.example/hook" });
  await page.goto(server.url + "/");
  await signIn(page, server, ws);
  const card = page.locator(`[data-testid="webhook-card"][data-webhook-id="${w.id}"]`);
  const filter = card.getByTestId("webhook-filter");
  await filter.waitFor();
  assert.equal((await filter.getByTestId("webhook-filter-summary").textContent())?.includes("Everything"), true);

  await filter.getByLabel("Messages").selectOption("received");
  await filter.getByLabel("Chats").selectOption("group");
  // "All accounts" off with none chosen is caught before any request.
  await filter.getByLabel("All accounts").uncheck();
  await filter.getByTestId("webhook-filter-save").click();
  await filter.getByText("Choose at least one account").waitFor();
  await filter.getByLabel(B).check();
  await filter.getByLabel("Any (assigned or not)").uncheck();
  await filter.getByLabel(/Dana Levi/).check();
  assert.equal(await filter.getByLabel(A).isChecked(), false);
  await filter.getByTestId("webhook-filter-save").click();
  await filter.getByRole("status").filter({ hasText: "Filter saved." }).waitFor();

  const got = await api("GET", `/api/v1/webhooks/${w.id}`);
  assert.deepEqual(got.filter, {
    direction: "received",
    accounts: [B],
    chats: "group",
    responsible: ["dana@filter.example"],
  });
  const summary = await filter.getByTestId("webhook-filter-summary").textContent();
  assert.match(summary ?? "", /Received only · Group chats only · 1 account · assigned to dana@filter\.example/);

  // Back to everything, and a reload shows what is stored.
  await filter.getByLabel("All accounts").check();
  await filter.getByLabel("Any (assigned or not)").check();
  await filter.getByTestId("webhook-filter-save").click();
  await filter.getByRole("status").filter({ hasText: "Filter saved." }).waitFor();
  assert.deepEqual((await api("GET", `/api/v1/webhooks/${w.id}`)).filter, {
    direction: "received",
    accounts: null,
    chats: "group",
    responsible: null,
  });
  await page.reload();
  await filter.waitFor();
  assert.equal(await filter.getByLabel("Messages").inputValue(), "received");
  assert.equal(await filter.getByLabel("All accounts").isChecked(), true);
});

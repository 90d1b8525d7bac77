/**
 * Browser tests of "Send again since…" on a webhook card (issue #25: the count before
 * confirming, progress, Cancel) at desktop and 390 px, and of the workspace page's retention
 * (owner only) with its note when messages past it wait for a webhook. Needs Chromium.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { type Browser, type Locator, type Page } from "playwright-core";
import { TestServer, waitFor } from "../helpers/server.js";
import { Receiver } from "../helpers/receiver.js";
import { ensureWebBuild, eventually, launchChromium, signIn } from "../helpers/web.js";
import { createWebhook, ingest, space, texts, type Space } from "../helpers/workspace.js";
import { wallTimeOf } from "../../web/src/days.js";

let server: TestServer;
let receiver: Receiver;
let browser: Browser;
let s: Space;
let webhookId: string;

before(async () => {
  ensureWebBuild();
  [server, receiver, browser] = await Promise.all([
    TestServer.start({ env: { THREADLINE_ALLOW_PRIVATE_TARGETS: "127.0.0.1/32" } }),
    Receiver.start(),
    launchChromium(),
  ]);
  s = await space(server, { name: "Replay Co" });
  webhookId = (await createWebhook(server, s.key, receiver.url)).id;
  await ingest(
    server,
    s,
    texts(
      s,
      Array.from({ length: 12 }, (_, i): [number, string] => [1 + (i % 2), `m${i}`]),
    ),
  );
  await waitFor(() => receiver.accepted.size === 12, "the first deliveries");
});

after(async () => {
  await browser?.close();
  await receiver?.close();
  await server?.stop();
});

async function open(width: number): Promise<{ page: Page; card: Locator }> {
  const page = await (await browser.newContext({ viewport: { width, height: 900 } })).newPage();
  await page.goto(server.url + "/");
  await signIn(page, server, s.workspace);
  const card = page.locator(`[data-testid="webhook-card"][data-webhook-id="${webhookId}"]`);
  await card.waitFor();
  return { page, card };
}

const fits = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

test("desktop: the count is shown before confirming; the replay's progress follows and Cancel stops it", async () => {
  const { page, card } = await open(1280);
  receiver.reset();
  receiver.respond = () => ({ status: 200, body: "ok", delayMs: 400 });
  try {
    await card.getByTestId("replay-open").click();
    const dialog = page.getByTestId("replay-dialog");
    await dialog.waitFor();
    // The default is an hour ago: every message of this test.
    await dialog.getByTestId("replay-count").filter({ hasText: "12 messages will be sent again." }).waitFor();
    assert.equal(receiver.requests.length, 0, "nothing is sent before confirming");
    await dialog.getByRole("button", { name: "Send 12 messages again" }).click();
    const progress = card.getByTestId("replay-progress");
    await progress.filter({ hasText: /of 12 delivered/ }).waitFor();
    assert.equal(await progress.getAttribute("data-state"), "running");
    await waitFor(() => receiver.requests.length >= 2, "the replay under way");
    await progress.getByRole("button", { name: "Cancel replay" }).click();
    await eventually(
      async () => (await progress.getAttribute("data-state")) === "cancelled",
      "the progress to say cancelled",
    );
    assert.match((await progress.textContent()) ?? "", /cancelled: \d+ of 12 delivered/);
    const api = await server.api("GET", `/api/v1/webhooks/${webhookId}/replay`, { token: s.key });
    assert.equal(api.json.state, "cancelled");
    assert.ok(api.json.delivered < 12);
    // Started and cancelled, in the card's activity.
    await eventually(
      async () => (await card.locator('[data-kind="replay"]').count()) >= 2,
      "the replay's activity rows",
    );
  } finally {
    receiver.answer({ status: 200 });
  }
});

test("390 px: the dialog fits, a chosen time recounts, and the finished replay says so", async () => {
  const { page, card } = await open(390);
  receiver.reset();
  await card.getByTestId("replay-open").click();
  const dialog = page.getByTestId("replay-dialog");
  await dialog.getByTestId("replay-count").filter({ hasText: "12 messages" }).waitFor();
  assert.ok(await fits(page), "no sideways scrolling at 390 px");
  const box = await dialog.boundingBox();
  assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `dialog inside the viewport: ${JSON.stringify(box)}`);
  // A time after every message (the server's clock moved past it): nothing to send, and confirming is not offered.
  const after = Math.ceil((Date.now() + 1000) / 60_000) * 60_000;
  await server.advance(120_000);
  await dialog.getByTestId("replay-since").fill(wallTimeOf(after, s.workspace.timezone));
  await dialog.getByTestId("replay-count").filter({ hasText: "No messages were stored since then." }).waitFor();
  assert.equal(await dialog.getByTestId("replay-confirm").isDisabled(), true);
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await dialog.waitFor({ state: "detached" });

  await card.getByTestId("replay-open").click();
  await page.getByTestId("replay-dialog").getByRole("button", { name: "Send 12 messages again" }).click();
  await card
    .getByTestId("replay-progress")
    .filter({ hasText: "Sent again the messages since" })
    .filter({ hasText: "12 of 12 delivered" })
    .waitFor();
  assert.ok(await fits(page));
  const ids = new Set(receiver.requests.map((r) => r.id));
  assert.equal(ids.size, 12);
});

test("the workspace page: the owner sets the retention, and messages a webhook still owes are said to wait", async () => {
  const { page } = await open(1280);
  await page.getByTestId("workspace-name").click();
  await page.getByRole("heading", { name: "Message retention" }).waitFor();
  assert.equal(await page.getByTestId("retention-waiting").count(), 0);
  await page.getByTestId("retention-days").fill("30");
  await page.getByTestId("retention-save").click();
  await page.getByTestId("retention-saved").waitFor();
  assert.equal((await server.api("GET", "/api/v1/workspace", { token: s.key })).json.retention_days, 30);

  // A webhook whose receiver fails keeps what it owes past the retention time.
  const failing = await Receiver.start();
  try {
    failing.answer({ status: 500 });
    await createWebhook(server, s.key, failing.url);
    await ingest(
      server,
      s,
      texts(s, [
        [3, "owed 1"],
        [3, "owed 2"],
      ]),
    );
    await waitFor(() => failing.requests.length >= 1, "the failing receiver tried");
    await server.advance(31 * 86_400_000);
    assert.equal((await server.api("GET", "/api/v1/workspace", { token: s.key })).json.retention_waiting, 2);
    // A month later the session has ended: signed in again.
    const later = (await open(1280)).page;
    await later.getByTestId("workspace-name").click();
    const note = later.getByTestId("retention-waiting");
    await note.waitFor();
    assert.match(
      (await note.textContent()) ?? "",
      /2 messages are past the retention time but kept: a switched-on webhook has not delivered them yet/,
    );
    await later.setViewportSize({ width: 390, height: 900 });
    assert.ok(await fits(later), "the workspace page fits at 390 px");
  } finally {
    await failing.close();
  }
});

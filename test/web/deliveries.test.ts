/**
 * Opening a delivery in the UI and sending it again: from the activity list to the dialog
 * (payload, signed headers, response), Resend (the receiver gets the second attempt under the
 * same webhook-id), back with Escape, and the delivery log with its filters and test marker.
 * Real server, real Chromium.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type Browser, type Page } from "playwright-core";
import { assertSigned } from "../helpers/contract.js";
import { Receiver, waitForCount } from "../helpers/receiver.js";
import { TestServer } from "../helpers/server.js";
import { ingest, space, texts, type Space, type WebhookRef } from "../helpers/workspace.js";
import { ensureWebBuild, launchChromium, signIn } from "../helpers/web.js";
import { dayStartIn, nextDay } from "../../web/src/days.js";

let server: TestServer;
let receiver: Receiver;
let browser: Browser;
let page: Page;
let s: Space & { webhook: WebhookRef };
const ZONE = "Pacific/Kiritimati";

before(async () => {
  ensureWebBuild();
  [server, receiver, browser] = await Promise.all([TestServer.start(), Receiver.start(), launchChromium()]);
  // UTC+14: its calendar day differs from UTC's for 14 hours a day, so the day filter shows whose day it counts.
  s = await space(server, { receiver, timezone: ZONE });
  await ingest(server, s, texts(s, [[1, "Hello from the delivery test"]]));
  await waitForCount(receiver, "/hook", 1, "the first delivery");
  page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await page.goto(server.url + "/");
  await signIn(page, server, s.workspace);
});

after(async () => {
  await browser?.close();
  await receiver?.close();
  await server?.stop();
});

test("an activity row opens its delivery; Resend sends it again with the same webhook-id; Escape returns focus", async () => {
  const row = page.getByTestId("activity-log").getByRole("button", { name: /^Delivered a message/ });
  await row.click();
  const dialog = page.getByRole("dialog", { name: "Delivery · attempt 1" });
  await dialog.waitFor();
  assert.match(
    (await dialog.getByTestId("delivery-payload").textContent()) ?? "",
    /"text": "Hello from the delivery test"/,
    "pretty-printed payload",
  );
  assert.equal(await dialog.getByRole("button", { name: "Copy payload" }).count(), 1);
  const headers = (await dialog.getByRole("table", { name: "Request headers" }).textContent()) ?? "";
  assert.match(headers, /webhook-signature\s*v1,/);
  const first = receiver.requests[0]!;
  assert.ok(headers.includes(first.headers["webhook-id"] as string), "the webhook-id is shown");
  assert.equal(await dialog.getByTestId("delivery-status").textContent(), "Succeeded");
  assert.match((await dialog.getByTestId("delivery-response-body").textContent()) ?? "", /^ok$/);

  await dialog.getByRole("button", { name: "Resend" }).click();
  await page.getByTestId("resend-result").waitFor();
  assert.match(
    (await page.getByTestId("resend-result").textContent()) ?? "",
    /Resent as attempt 2: delivered \(HTTP 200\)/,
  );
  await page.getByRole("dialog", { name: "Delivery · attempt 2" }).waitFor();
  const got = await waitForCount(receiver, "/hook", 2, "the resend");
  assert.equal(got[1]!.headers["webhook-id"], first.headers["webhook-id"]);
  assert.equal(got[1]!.body, first.body);
  assertSigned(got[1]!, s.webhook.secret);

  await page.keyboard.press("Escape");
  await page.getByRole("dialog").waitFor({ state: "detached" });
  assert.match(
    (await page.evaluate(() => document.activeElement?.className)) ?? "",
    /activity-open/,
    "focus is back on the row that opened it",
  );
});

test("the delivery log lists the attempts (test events marked), filters by status, and opens an entry", async () => {
  const t = await server.api("POST", `/api/v1/webhooks/${s.webhook.id}/test`, { token: s.key });
  assert.equal(t.status, 200, t.text);
  await page.getByRole("button", { name: "Show delivery log" }).click();
  const log = page.getByTestId("delivery-log");
  await log.waitFor();
  const rows = log.getByRole("button");
  assert.equal(await rows.count(), 3);
  assert.match((await rows.nth(0).textContent()) ?? "", /Test Contact · attempt 1 · HTTP 200\s*Test/);
  assert.match((await rows.nth(1).textContent()) ?? "", /attempt 2 .*Resent/);

  await page.getByLabel("Status", { exact: true }).selectOption("failed");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.getByText("No deliveries match.").waitFor();
  await page.getByLabel("Status", { exact: true }).selectOption("");
  await page.getByLabel("Chat", { exact: true }).selectOption({ label: "Contact 972540000001" });
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="delivery-log"] button').length === 2);

  // Days are the workspace's: today there holds both, from tomorrow there holds none.
  const today = new Intl.DateTimeFormat("en-CA", { timeZone: ZONE }).format(new Date());
  const tomorrow = nextDay(today);
  assert.equal(await page.getByLabel(`From (day, ${ZONE})`).count(), 1);
  await page.getByLabel(`From (day, ${ZONE})`).fill(today);
  await page.getByLabel(`To (day, ${ZONE})`).fill(today);
  const asked = page.waitForRequest((r) => r.url().includes("/deliveries?"));
  await page.getByRole("button", { name: "Apply filters" }).click();
  const query = new URL((await asked).url()).searchParams;
  assert.equal(query.get("since"), dayStartIn(today, ZONE));
  assert.equal(query.get("until"), dayStartIn(tomorrow, ZONE));
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="delivery-log"] button').length === 2);
  await page.getByLabel(`From (day, ${ZONE})`).fill(tomorrow);
  await page.getByLabel(`To (day, ${ZONE})`).fill(tomorrow);
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.getByText("No deliveries match.").waitFor();
  await page.getByLabel(`From (day, ${ZONE})`).fill("");
  await page.getByLabel(`To (day, ${ZONE})`).fill("");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="delivery-log"] button').length === 2);

  await log.getByRole("button").first().click();
  await page.getByRole("dialog", { name: "Delivery · attempt 2" }).waitFor();
  await page.getByRole("dialog").getByRole("button", { name: "Close" }).click();
  await page.getByRole("dialog").waitFor({ state: "detached" });
});

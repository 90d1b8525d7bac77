/**
 * Browser tests of starting without curl and of failures a person cannot miss, by clicking:
 * the first workspace from a fresh install, a private target refused at entry, switching off
 * and on (skip), and a webhook disabled by failures brought back (deliver). One fresh server.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { type Browser, type BrowserContext, type Locator, type Page } from "playwright-core";
import { RETRY_SCHEDULE_MS } from "../../src/webhooks/policy.js";
import { OPERATOR_TOKEN, TestServer, waitFor } from "../helpers/server.js";
import { Receiver } from "../helpers/receiver.js";
import { ensureWebBuild, launchChromium, eventually } from "../helpers/web.js";
import { ingest, texts, waitFailures, type Space } from "../helpers/workspace.js";

let server: TestServer;
let receiver: Receiver;
let browser: Browser;
let ctx: BrowserContext;
let page: Page;
let s: Pick<Space, "key" | "phone">;
let webhookId: string;

const card = (): Locator => page.locator(`[data-testid="webhook-card"][data-webhook-id="${webhookId}"]`);
const banner = (): Locator => page.locator(`[data-testid="failure-item"][data-webhook-id="${webhookId}"]`);
const received = (text: string) => receiver.requests.filter((r) => r.json?.message?.text === text);

before(async () => {
  ensureWebBuild();
  [server, receiver, browser] = await Promise.all([
    // The receiver's loopback address is allowed; other private addresses are refused.
    TestServer.start({ env: { THREADLINE_ALLOW_PRIVATE_TARGETS: "127.0.0.1/32" } }),
    Receiver.start(),
    launchChromium(),
  ]);
  ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await ctx.newPage();
});

after(async () => {
  await browser?.close();
  await receiver?.close();
  await server?.stop();
});

test("fresh install: the operator creates the first workspace with the operator token; its key is shown once and the owner sets a password and is signed in", async () => {
  await page.goto(server.url + "/");
  await page.getByRole("button", { name: "Create a workspace with the operator token" }).click();
  await page.getByRole("heading", { name: "Create a workspace" }).waitFor();

  // Required fields are named next to them; a wrong token is refused at its field.
  await page.getByRole("button", { name: "Create workspace" }).click();
  await page.locator("#ws-name-error").waitFor();
  await page.getByLabel("Operator token").fill("tlo_not_the_operator_token");
  await page.getByLabel("Workspace name").fill("Fresh Co");
  await page.getByLabel("Owner's name").fill("Olga Owner");
  await page.getByLabel("Owner's e-mail").fill("olga@fresh.test");
  await page.getByLabel("Time zone").selectOption("Europe/Paris");
  await page.getByRole("button", { name: "Create workspace" }).click();
  await page.locator("#ws-token-error").waitFor();
  await page.getByLabel("Operator token").fill(OPERATOR_TOKEN);
  await page.getByRole("button", { name: "Create workspace" }).click();

  const shown = page.getByTestId("new-api-key");
  await shown.waitFor();
  const key = (await shown.textContent())!.trim();
  assert.equal(await page.getByRole("button", { name: "Copy API key" }).count(), 1);
  // The operator never held a session.
  assert.deepEqual(await ctx.cookies(), []);
  const ws = await server.api("GET", "/api/v1/workspace", { token: key });
  assert.equal(ws.status, 200, ws.text);
  assert.equal(ws.json.name, "Fresh Co");
  assert.equal(ws.json.timezone, "Europe/Paris");

  // The first owner sets a password through the owner's invitation and is signed in.
  await page.getByRole("button", { name: "Set the owner's password" }).click();
  await page.getByLabel("Password", { exact: true }).fill("olga's first password");
  await page.getByRole("button", { name: "Join and sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
  assert.equal((await page.getByTestId("workspace-name").textContent())?.trim(), "Fresh Co");
  assert.match((await page.getByTestId("signed-in-as").textContent()) ?? "", /Olga Owner · owner/);

  s = { key, phone: "+972500000777" };
  const acc = await server.api("POST", "/api/v1/accounts", {
    token: key,
    body: { phone: s.phone, owner_email: "olga@fresh.test", source: "api" },
  });
  assert.equal(acc.status, 201, acc.text);
});

test("a private target is refused at entry, an unresolvable one is warned about, and a new webhook shows its sample payload", async () => {
  const field = page.getByLabel("Webhook URL");
  await field.fill("http://10.0.0.7/hook");
  await page.getByRole("button", { name: "Add webhook" }).click();
  const error = page.locator("#new-webhook-url-error");
  await error.waitFor();
  assert.match((await error.textContent()) ?? "", /private address.*THREADLINE_ALLOW_PRIVATE_TARGETS=10\.0\.0\.7\/32/);
  assert.equal(await field.getAttribute("aria-invalid"), "true");
  assert.equal(
    (await server.api("GET", "/api/v1/webhooks", { token: s.key })).json.items.length,
    0,
    "nothing was created",
  );

  await field.fill("https://no-such-host.threadline.invalid/hook");
  await page.getByRole("button", { name: "Add webhook" }).click();
  const warning = page.getByTestId("new-webhook-url-warning");
  await warning.waitFor();
  assert.match((await warning.textContent()) ?? "", /does not resolve/);
  await page.getByRole("button", { name: "Add anyway" }).click();
  const unresolved = page.getByTestId("webhook-card").filter({ hasText: "no-such-host.threadline.invalid" });
  await unresolved.waitFor();
  await unresolved.getByRole("button", { name: "Delete webhook" }).click();
  await unresolved.getByRole("button", { name: "Yes, delete it" }).click();
  await eventually(async () => (await unresolved.count()) === 0, "the unresolvable webhook deleted");

  await field.fill(receiver.url);
  await page.getByRole("button", { name: "Add webhook" }).click();
  const created = page.getByTestId("webhook-card").first();
  await created.waitFor();
  webhookId = (await created.getAttribute("data-webhook-id"))!;
  const sample = card().getByTestId("sample-payload");
  await eventually(
    async () => /"whatsapp_account"/.test((await sample.locator("pre").textContent()) ?? ""),
    "the sample payload shown",
  );
  assert.equal(await sample.getAttribute("open"), "", "open on a new webhook");
  await card().getByRole("button", { name: "Send test event" }).click();
  await card().getByTestId("test-result").waitFor();
  assert.equal(await card().getByTestId("test-result").getAttribute("data-ok"), "true");
});

test("switching off asks for confirmation; switching on and skipping does not deliver what arrived meanwhile", async () => {
  const sw = card().getByTestId("webhook-enabled");
  await sw.click();
  const confirm = card().getByTestId("disable-confirm");
  assert.match((await confirm.textContent()) ?? "", /Messages that arrive while it is off are kept, not sent/);
  await confirm.getByRole("button", { name: "Cancel" }).click();
  assert.equal(await sw.getAttribute("aria-checked"), "true");
  assert.equal((await server.api("GET", `/api/v1/webhooks/${webhookId}`, { token: s.key })).json.enabled, true);

  await sw.click();
  await card().getByRole("button", { name: "Switch off" }).click();
  await eventually(async () => (await sw.getAttribute("aria-checked")) === "false", "switched off");
  // A manual switch-off is a quiet entry of the banner, not the alarm of an automatic one.
  await banner().waitFor();
  assert.equal(await banner().getAttribute("data-kind"), "manual");
  assert.match((await banner().textContent()) ?? "", /Switched off by a user/);
  await page.getByTestId("webhooks-marker").waitFor();

  await ingest(server, s, texts(s, [[1, "while off"]]));
  await eventually(
    async () =>
      /1 message waits; none is lost/.test((await banner().getByTestId("failure-pending").textContent()) ?? ""),
    "the waiting message counted",
  );

  await sw.click();
  const question = card().getByTestId("enable-question");
  assert.match(
    (await question.textContent()) ?? "",
    /1 message waits\. What should happen to the messages that arrived while it was off\?/,
  );
  await question.getByRole("button", { name: "Skip them" }).click();
  await eventually(async () => (await sw.getAttribute("aria-checked")) === "true", "switched on");
  await eventually(async () => (await banner().count()) === 0, "the banner gone");

  // Per-chat order: once a later message of the same chat arrived, the skipped one never will.
  await ingest(server, s, texts(s, [[1, "after skipping"]]));
  await waitFor(() => received("after skipping").length, "the message after the switch-on");
  assert.equal(received("while off").length, 0, "the message that arrived while off was skipped");
});

test("a webhook disabled by failures shows the banner and marker; switching on and delivering sends what waits", async () => {
  receiver.answer({ status: 500, body: "crm down" });
  await ingest(
    server,
    s,
    texts(s, [
      [2, "outage A"],
      [3, "outage B"],
    ]),
  );
  await waitFailures(server, s.key, webhookId, 1);
  await banner().waitFor({ timeout: 20_000 });
  assert.equal(await banner().getAttribute("data-kind"), "failing");
  await eventually(
    async () => (await banner().getByTestId("failure-next-retry").count()) === 1,
    "the next retry shown",
  );
  // A failing webhook reads Failing (not Active), and its banner offers to retry now.
  assert.equal(await banner().getByRole("button", { name: "Retry now" }).count(), 1);
  await eventually(
    async () => (await page.getByTestId("webhook-status").first().textContent()) === "Failing",
    "the badge reads Failing",
  );
  assert.match((await banner().getByTestId("failure-last-error").textContent()) ?? "", /500/);

  // Eleven errors in a row, hours of backoff moved through with the test clock.
  for (let n = 1; n <= 10; n++) {
    await server.advance(Math.ceil(RETRY_SCHEDULE_MS[Math.min(n, RETRY_SCHEDULE_MS.length) - 1]! * 1.1) + 1000);
    if (n < 10) await waitFailures(server, s.key, webhookId, n + 1);
  }
  await eventually(
    async () => (await banner().getAttribute("data-kind")) === "auto",
    "the banner of an automatic switch-off",
    30_000,
  );
  const text = (await banner().textContent()) ?? "";
  assert.match(text, /switched off automatically/i);
  assert.match(text, /After 11 failed attempts in a row/);
  assert.match(text, /HTTP_ERROR/);
  assert.match((await banner().getByTestId("failure-pending").textContent()) ?? "", /2 messages wait; none is lost/);
  await eventually(
    async () => /olga@fresh\.test/.test((await banner().getByTestId("failure-notified").textContent()) ?? ""),
    "the owner's e-mail named",
  );
  assert.match((await page.getByTestId("webhooks-marker").getAttribute("class")) ?? "", /is-severe/);

  receiver.answer({ status: 200, body: "ok" });
  await banner().getByRole("button", { name: "Switch on again…" }).click();
  await banner().getByTestId("enable-question").getByRole("button", { name: "Deliver them" }).click();
  await waitFor(
    () => received("outage A").length > 11 && received("outage B").length > 0,
    "the waiting messages delivered",
  );
  await eventually(async () => (await banner().count()) === 0, "the banner gone");
  assert.equal(await card().getByTestId("webhook-enabled").getAttribute("aria-checked"), "true");
  await eventually(async () => (await page.getByTestId("webhooks-marker").count()) === 0, "the marker gone", 30_000);
});

/**
 * People in the browser (issue 22): an invitation e-mailed and accepted signs the person in;
 * a reset by e-mail link and a one-time sign-in link sign in; a member sees no control that
 * changes a webhook and the API answers 403; a person an owner removes is signed out at the
 * next request of their open page. Real server, real SMTP, real Chromium.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type Browser, type BrowserContext, type Page } from "playwright-core";
import { TestServer, createWorkspace, waitFor } from "../helpers/server.js";
import { startSmtp } from "../helpers/smtp.js";
import { ensureWebBuild, launchChromium, signIn, signInAs } from "../helpers/web.js";

let server: TestServer;
let smtp: Awaited<ReturnType<typeof startSmtp>>;
let browser: Browser;
let ws: Awaited<ReturnType<typeof createWorkspace>>;
let owner: Page;
let member: { ctx: BrowserContext; page: Page };
let webhookId: string;

/** The path of the link (sign-in-link, reset-password, invitation) in the newest e-mail to `to`. */
const linkTo = (to: string, kind: string) =>
  waitFor(() => {
    const mail = smtp.mails.filter((m) => m.to.includes(to) && m.text.includes(`/${kind}/`)).pop();
    const m = mail && new RegExp(`https?://[^/\\s]+(/${kind}/\\S+)`).exec(mail.text);
    return m?.[1];
  }, `a ${kind} e-mail to ${to}`);

before(async () => {
  ensureWebBuild();
  smtp = await startSmtp();
  [server, browser] = await Promise.all([
    TestServer.start({ env: { THREADLINE_SMTP_URL: smtp.url } }),
    launchChromium(),
  ]);
  ws = await createWorkspace(server, {
    name: "People Co",
    owner: { full_name: "Olga Owner", email: "olga@people.example" },
  });
  webhookId = (
    await server.api("POST", "/api/v1/webhooks", {
      token: ws.api_key,
      body: { url: "http://127.0.0.1:9/hook", enabled: false },
    })
  ).json.id;
  owner = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await owner.goto(server.url + "/");
  await signIn(owner, server, ws);
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await smtp?.close();
});

test("invitation: the owner invites from Teammates, the e-mailed link is accepted with a password, and the person is signed in", async () => {
  await owner.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Teammates", exact: true }).click();
  await owner.getByLabel("Full name").fill("Milo Member");
  await owner.getByLabel("Email").fill("milo@people.example");
  await owner.getByLabel("Role").selectOption("member");
  await owner.getByRole("button", { name: "Send invitation" }).click();
  const shown = (await owner.getByTestId("invitation-url").textContent())!.trim();
  const path = await linkTo("milo@people.example", "invitation");
  assert.equal(new URL(shown).pathname, path, "the URL shown is the one e-mailed");

  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  await page.goto(server.url + path);
  await page.getByLabel("Password", { exact: true }).fill("milo's password!");
  await page.getByRole("button", { name: "Join and sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
  assert.match((await page.getByTestId("signed-in-as").textContent()) ?? "", /Milo Member · member/);
  member = { ctx, page };
  // Used once: the same link again does not sign anyone in.
  const again = await (await browser.newContext()).newPage();
  await again.goto(server.url + path);
  await again.getByLabel("Password", { exact: true }).fill("another password!");
  await again.getByRole("button", { name: "Join and sign in" }).click();
  await again.getByText(/not valid/).waitFor();
  await again.context().close();
});

test("a member sees webhooks without a control that changes one, and the API answers 403", async () => {
  const page = member.page;
  await page.goto(server.url + "/webhooks");
  const card = page.locator(`[data-testid="webhook-card"][data-webhook-id="${webhookId}"]`);
  await card.waitFor();
  await page.getByTestId("read-only").waitFor();
  for (const name of ["Add webhook", "Delete webhook", "Rotate secret", "Reveal", "Send test event", "Save URL"])
    assert.equal(await page.getByRole("button", { name }).count(), 0, name);
  assert.equal(await card.getByRole("switch").count(), 0, "no enable switch");
  assert.equal(await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "API keys" }).count(), 0);
  const r = await page.evaluate(async (id) => {
    const res = await fetch(`/api/v1/webhooks/${id}`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ enabled: true }),
    });
    return { status: res.status, body: await res.json() };
  }, webhookId);
  assert.equal(r.status, 403);
  assert.equal(r.body.error.code, "FORBIDDEN");
  assert.match(r.body.error.message, /admin/);
  assert.equal((await server.api("GET", `/api/v1/webhooks/${webhookId}`, { token: ws.api_key })).json.enabled, false);
  // Who changed the webhook is shown (the Default key made it), and the audit log page lists the changes.
  await owner.goto(server.url + "/webhooks");
  const ownerCard = owner.locator(`[data-testid="webhook-card"][data-webhook-id="${webhookId}"]`);
  assert.match((await ownerCard.getByTestId("webhook-updated-by").textContent()) ?? "", /Last changed by Default key/);
  await owner.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit log", exact: true }).click();
  const audit = owner.getByTestId("audit-log");
  await audit.getByText("webhook.created").waitFor();
  assert.match((await audit.textContent()) ?? "", /invitation\.accepted/);
});

test("reset by e-mail link, and a one-time sign-in link, sign in", async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  await page.goto(server.url + "/");
  await page.getByLabel("E-mail").fill("milo@people.example");
  await page.getByRole("button", { name: "Forgot your password?" }).click();
  await page.getByTestId("link-sent").waitFor();
  await page.goto(server.url + (await linkTo("milo@people.example", "reset-password")));
  await page.getByLabel("New password").fill("milo's new password");
  await page.getByRole("button", { name: "Set password and sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
  // The reset ended the member's other session: the first page is signed in again below.
  await page.getByRole("button", { name: "Sign out" }).click();

  await page.getByLabel("E-mail").fill("milo@people.example");
  await page.getByRole("button", { name: "E-mail me a sign-in link" }).click();
  await page.getByTestId("link-sent").waitFor();
  await page.goto(server.url + (await linkTo("milo@people.example", "sign-in-link")));
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
  assert.match((await page.getByTestId("signed-in-as").textContent()) ?? "", /Milo Member/);
  await ctx.close();
  // The new password works in the form.
  await member.page.goto(server.url + "/");
  await signInAs(member.page, "milo@people.example", "milo's new password");
});

test("an owner removes a person: that person's open page is signed out on its next request", async () => {
  await owner.goto(server.url + "/teammates");
  await owner.getByRole("button", { name: "Remove Milo Member" }).click();
  // Confirmed by typing the person's name or e-mail (test/web/deletion.test.ts covers the box itself).
  const box = owner.getByTestId("confirm-remove-teammate");
  await box.getByTestId("confirm-input").fill("milo@people.example");
  await box.getByTestId("confirm-delete").click();
  await waitFor(
    async () => (await owner.getByRole("button", { name: "Remove Milo Member" }).count()) === 0,
    "the person gone from the list",
  );
  // The member's page, still open, makes its next request.
  await member.page
    .getByRole("navigation", { name: "Main" })
    .getByRole("link", { name: "Timeline", exact: true })
    .click();
  await member.page.getByText("Your session has ended").waitFor();
  await member.page.getByLabel("Password", { exact: true }).waitFor();
  await member.ctx.close();
});

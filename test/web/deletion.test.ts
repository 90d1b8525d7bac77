/**
 * Deleting in the browser (issue 24, item 5), at desktop width and at 390 px: an account is
 * deleted from the Accounts page once its phone number is typed (the button stays disabled
 * until then; "purge" says what goes), a teammate from the Teammates page once their name or
 * e-mail is typed. What the API then answers is checked too. Real server, real Chromium.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Browser, type Page } from "playwright-core";
import { TestServer, createWorkspace } from "../helpers/server.js";
import { ensureWebBuild, eventually, launchChromium, signIn } from "../helpers/web.js";

let server: TestServer;
let browser: Browser;

before(async () => {
  ensureWebBuild();
  [server, browser] = await Promise.all([TestServer.start(), launchChromium()]);
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

for (const [label, viewport] of [
  ["desktop", { width: 1280, height: 900 }],
  ["390 px", { width: 390, height: 844 }],
] as const) {
  describe(`deleting from the UI (${label})`, () => {
    let ws: Awaited<ReturnType<typeof createWorkspace>>;
    let page: Page;
    const api = (method: string, p: string, body?: unknown) => server.api(method, p, { token: ws.api_key, body });
    const phoneA = viewport.width > 500 ? "+15557650101" : "+15557650201";
    const phoneB = viewport.width > 500 ? "+15557650102" : "+15557650202";

    before(async () => {
      ws = await createWorkspace(server, {
        name: `Delete Co ${label}`,
        owner: { full_name: "Olga Owner", email: `olga.${viewport.width}@delete.example` },
      });
      for (const phone of [phoneA, phoneB])
        assert.equal(
          (await api("POST", "/api/v1/accounts", { phone, owner_email: ws.owner.email, source: "api" })).status,
          201,
        );
      const msg = await api("POST", "/api/v1/messages", {
        messages: [
          {
            account_phone: phoneB,
            chat: { external_id: "15551230001@s.whatsapp.net", full_name: "Maya Cohen", phone: "+15551230001" },
            external_id: `wamid.ui.${viewport.width}`,
            direction: "received",
            timestamp: Math.floor(Date.now() / 1000),
            type: "text",
            text: "Is the blue one in stock?",
          },
        ],
      });
      assert.equal(msg.status, 202, msg.text);
      assert.equal(
        (
          await api("POST", "/api/v1/teammates", {
            full_name: "Dana Levi",
            email: `dana.${viewport.width}@delete.example`,
          })
        ).status,
        201,
      );
      page = await (await browser.newContext({ viewport })).newPage();
      await page.goto(server.url + "/");
      await signIn(page, server, ws);
    });
    after(async () => page?.context().close());

    test("an account: the delete button stays disabled until its phone is typed; unpurged, its chats stay", async () => {
      await page.goto(server.url + "/accounts");
      await page.getByRole("button", { name: `Delete ${phoneA}` }).click();
      const box = page.getByTestId("confirm-delete-account");
      await box.waitFor();
      assert.match((await box.textContent()) ?? "", /inbound URL stops working at once/);
      assert.match((await box.textContent()) ?? "", /they stay in the Timeline/);
      const confirm = box.getByTestId("confirm-delete");
      assert.equal(await confirm.isDisabled(), true, "disabled before anything is typed");
      await box.getByTestId("confirm-input").fill(phoneB);
      assert.equal(await confirm.isDisabled(), true, "another account's phone does not confirm");
      await box.getByTestId("confirm-input").fill(phoneA.slice(0, -1));
      assert.equal(await confirm.isDisabled(), true, "a part of the phone does not confirm");
      await box.getByTestId("confirm-input").fill(phoneA);
      assert.equal(await confirm.isDisabled(), false);
      // The box fits the narrow screen: nothing sticks out of the accounts card (the table would scroll sideways).
      const fits = await box.evaluate((el) => {
        const wrap = el.closest(".table-wrap")!;
        return {
          right: el.getBoundingClientRect().right,
          edge: wrap.getBoundingClientRect().right,
          scrolls: wrap.scrollWidth > wrap.clientWidth,
        };
      });
      assert.ok(
        fits.right <= fits.edge && !fits.scrolls,
        `the confirmation ends at ${fits.right} px, the card's content at ${fits.edge} px`,
      );
      await confirm.click();
      await page.getByTestId("account-deleted").waitFor();
      await eventually(
        async () => (await page.getByRole("button", { name: `Delete ${phoneA}` }).count()) === 0,
        "the account gone from the list",
      );
      const accounts = (await api("GET", "/api/v1/accounts")).json.items.map((a: { phone: string }) => a.phone);
      assert.deepEqual(accounts, [phoneB]);
    });

    test("an account with purge: the box says its chats and messages are deleted for good, and they are", async () => {
      await page.goto(server.url + "/accounts");
      await page.getByRole("button", { name: `Delete ${phoneB}` }).click();
      const box = page.getByTestId("confirm-delete-account");
      await box.getByTestId("purge").check();
      assert.match((await box.textContent()) ?? "", /deleted for good/);
      await box.getByTestId("confirm-input").fill(` ${phoneB} `);
      await box.getByRole("button", { name: "Delete account, chats and messages" }).click();
      await page.getByTestId("account-deleted").waitFor();
      const chats = (await api("GET", "/api/v1/chats")).json.items;
      assert.deepEqual(chats, [], "its chat went with it");
    });

    test("a teammate: removed once their name or e-mail is typed", async () => {
      await page.goto(server.url + "/teammates");
      await page.getByRole("button", { name: "Remove Dana Levi" }).click();
      const box = page.getByTestId("confirm-remove-teammate");
      await box.waitFor();
      assert.match((await box.textContent()) ?? "", /chats they are responsible for become\s+unassigned/);
      const confirm = box.getByTestId("confirm-delete");
      assert.equal(await confirm.isDisabled(), true);
      await box.getByTestId("confirm-input").fill("Dana");
      assert.equal(await confirm.isDisabled(), true, "part of the name does not confirm");
      await box.getByTestId("confirm-input").fill("dana levi");
      assert.equal(await confirm.isDisabled(), false, "the name, in any case, confirms");
      await box.getByRole("button", { name: "Cancel" }).click();
      assert.equal(await box.count(), 0, "cancel closes it");
      await page.getByRole("button", { name: "Remove Dana Levi" }).click();
      await box.getByTestId("confirm-input").fill(`DANA.${viewport.width}@delete.example`);
      const right = await box.evaluate((el) => el.getBoundingClientRect().right);
      assert.ok(right <= viewport.width - 16, `the confirmation ends at ${right} px of ${viewport.width}`);
      await confirm.click();
      await eventually(
        async () => (await page.getByRole("button", { name: "Remove Dana Levi" }).count()) === 0,
        "Dana gone from the list",
      );
      const people = (await api("GET", "/api/v1/teammates")).json.items.map((t: { full_name: string }) => t.full_name);
      assert.deepEqual(people, ["Olga Owner"]);
    });
  });
}

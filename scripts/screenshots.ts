/**
 * Screenshots of the web UI for the docs: `npx tsx scripts/screenshots.ts`.
 * Starts a real server and a webhook receiver, loads a few realistic messages, and writes
 * docs/screenshots/outgoing.png (Webhooks → Outgoing), delivery.png (a delivery opened from
 * the activity), failure.png (the banner of a failing webhook), delete-account.png (deleting an
 * account, confirmed by typing its phone) and conversation.png at 1280x800. Needs Chromium at /usr/bin/chromium (or CHROMIUM_PATH).
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TestServer, createWorkspace, waitFor } from "../test/helpers/server.js";
import { Receiver } from "../test/helpers/receiver.js";
import { ensureWebBuild, launchChromium, signIn } from "../test/helpers/web.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const outDir = path.join(root, "docs/screenshots");
const ACCOUNT = "+972500000000";

async function main(): Promise<void> {
  ensureWebBuild();
  mkdirSync(outDir, { recursive: true });

  const server = await TestServer.start();
  const receiver = await Receiver.start();
  const browser = await launchChromium();
  try {
    const ws = await createWorkspace(server, {
      name: "Acme Realty",
      owner: { full_name: "Amnon Haha", email: "amnon@acme.com" },
    });
    const call = async (method: string, p: string, body?: unknown) => {
      const r = await server.api(method, p, { token: ws.api_key, body });
      if (r.status >= 400) throw new Error(`${method} ${p}: ${r.status} ${r.text}`);
      return r.json;
    };
    await call("POST", "/api/v1/teammates", { full_name: "Dana Levi", email: "dana@acme.com" });
    await call("POST", "/api/v1/accounts", { phone: ACCOUNT, owner_email: "amnon@acme.com", source: "api" });
    await call("POST", "/api/v1/webhooks", { url: receiver.url, aggregation: "none" });

    // The receiver is briefly down for the first request, so the log shows a failure too.
    let answered = 0;
    receiver.respond = () => (answered++ === 0 ? { status: 503, body: "maintenance" } : { status: 200, body: "ok" });

    const john = {
      external_id: "972540000000@s.whatsapp.net",
      full_name: "John Doe",
      is_group: false,
      phone: "+972540000000",
    };
    const sara = {
      external_id: "972541111111@s.whatsapp.net",
      full_name: "Sara Cohen",
      is_group: false,
      phone: "+972541111111",
    };
    const base = Date.now() - 95 * 60_000;
    const at = (min: number) => new Date(base + min * 60_000).toISOString();
    const conversation: [string, "received" | "sent", string, string?][] = [
      [at(0), "received", "Hi! Is the 3-room apartment on Herzl St. still available? 👋"],
      [at(3), "sent", "Hi John! Yes, it is. Would you like to visit this week?"],
      [at(5), "received", "Great. Thursday after 5 pm works for me."],
      [at(6), "received", "", "image"],
      [at(9), "sent", "Thursday at 17:30 then. I'll send you the exact address."],
      [at(10), "received", "Perfect, thanks 🙏\nCan I bring my partner?"],
      [at(12), "sent", "Of course, see you both there!"],
    ];
    await call("POST", "/api/v1/messages", {
      messages: [
        ...conversation.map(([ts, direction, text, type], i) => ({
          account_phone: ACCOUNT,
          chat: john,
          external_id: `wamid.demo-john-${i}`,
          direction,
          timestamp: ts,
          type: type ?? "text",
          text,
        })),
        {
          account_phone: ACCOUNT,
          chat: sara,
          external_id: "wamid.demo-sara-0",
          direction: "received",
          timestamp: at(40),
          type: "text",
          text: "Do you have parking with the Ben Yehuda flat?",
        },
      ],
    });
    await waitFor(() => receiver.requests.length >= 7, "deliveries to the receiver", 20_000);

    const chats = await call("GET", "/api/v1/chats?q=John");
    const chatId = chats.items[0].chat_id as string;
    await call("PATCH", `/api/v1/chats/${chatId}`, { responsible_email: "dana@acme.com" });

    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
    const page = await ctx.newPage();
    await page.goto(server.url + "/webhooks");
    // People sign in as themselves: the owner sets a password through the invitation.
    await signIn(page, server, ws);
    await page.goto(server.url + "/webhooks");
    await page.getByTestId("webhook-card").first().waitFor();
    await page.locator('[data-testid="activity-log"] li').nth(2).waitFor({ timeout: 20_000 });
    await page.getByTestId("webhook-chart").waitFor();
    await page.getByRole("button", { name: "Send test event" }).click();
    await page.getByTestId("test-result").waitFor();
    await page.mouse.move(0, 0);
    // Scroll the webhook card up under the (sticky) top bar so its activity log is in frame.
    await page.evaluate(() => {
      const card = document.querySelector('[data-testid="webhook-card"]')!;
      const bar = document.querySelector(".topbar")!.getBoundingClientRect().height;
      window.scrollTo(0, card.getBoundingClientRect().top + window.scrollY - bar - 12);
    });
    await page.waitForTimeout(200);
    await page.screenshot({ path: path.join(outDir, "outgoing.png") });

    await page.locator(".activity-open").first().click();
    await page.getByRole("dialog").waitFor();
    await page.waitForTimeout(200);
    await page.screenshot({ path: path.join(outDir, "delivery.png") });
    await page.keyboard.press("Escape");

    // A second endpoint that keeps failing: the banner and the tab's marker.
    const broken = await Receiver.start();
    broken.respond = () => ({ status: 500, body: "Internal Server Error" });
    const hook = await call("POST", "/api/v1/webhooks", { url: broken.url + "crm", aggregation: "none" });
    await call("POST", "/api/v1/messages", {
      messages: [
        {
          account_phone: ACCOUNT,
          chat: sara,
          external_id: "wamid.demo-sara-1",
          direction: "received",
          timestamp: new Date().toISOString(),
          type: "text",
          text: "And is the flat pet-friendly?",
        },
      ],
    });
    await waitFor(
      async () => (await call("GET", `/api/v1/webhooks/${hook.id}`)).state === "failing",
      "the second webhook failing",
      20_000,
    );
    await page.reload();
    await page.getByTestId("failure-item").first().waitFor();
    await page.mouse.move(0, 0);
    await page.waitForTimeout(200);
    await page.screenshot({ path: path.join(outDir, "failure.png") });
    await broken.close();

    // Deleting an account: confirmed by typing its phone number.
    await page.goto(server.url + "/accounts");
    await page.getByRole("button", { name: `Delete ${ACCOUNT}` }).click();
    await page.getByTestId("confirm-input").fill(ACCOUNT);
    await page.mouse.move(0, 0);
    await page.waitForTimeout(200);
    await page.screenshot({ path: path.join(outDir, "delete-account.png") });

    await page.goto(`${server.url}/chat/${chatId}/messages/`);
    await page
      .locator("article.bubble")
      .nth(conversation.length - 1)
      .waitFor();
    await page.getByLabel("Message", { exact: true }).fill("Here is the address: 12 Herzl St., entrance B, 3rd floor.");
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(outDir, "conversation.png") });
    console.log(
      `wrote ${["outgoing", "delivery", "failure", "delete-account", "conversation"].map((n) => `docs/screenshots/${n}.png`).join(", ")}`,
    );
  } finally {
    await browser.close();
    await receiver.close();
    await server.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});

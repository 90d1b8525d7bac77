/**
 * Browser tests of issue #14, items 2, 5 and 8 and the accessibility check: activity that
 * names the contact and the change, times with their zone, the Timeline in the order of the
 * last message's time, a phone's width, and axe-core on every page at desktop and phone width.
 * One server, one browser for the file; Chromium at /usr/bin/chromium.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { type Browser, type BrowserContext, type Locator, type Page } from "playwright-core";
import { TestServer, createWorkspace, waitFor } from "../helpers/server.js";
import { Receiver } from "../helpers/receiver.js";
import { ensureWebBuild, launchChromium, signIn, eventually } from "../helpers/web.js";

const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
const ZONE = "Europe/Paris";
const ACCOUNT = "+972500000000";
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let server: TestServer;
let receiver: Receiver;
let browser: Browser;
let ctx: BrowserContext;
let page: Page;
let key: string;
let ws: Awaited<ReturnType<typeof createWorkspace>>;
let plainId: string;
let bundledId: string;
let johnId: string;
let permalinkPath: string;
/** The out-of-order message of John Doe: its time is before every other, it is stored last. */
const EARLY = new Date(Date.now() - 3 * 3600_000);

const api = async (method: string, p: string, body?: unknown) => {
  const r = await server.api(method, p, { token: key, body });
  if (r.status >= 400) throw new Error(`${method} ${p}: ${r.status} ${r.text}`);
  return r.json;
};

const card = (id: string): Locator => page.locator(`[data-testid="webhook-card"][data-webhook-id="${id}"]`);

/** The text the UI shows for an instant in the workspace's zone (formatDateTime). */
const shown = (iso: string | Date) =>
  `${new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short", timeZone: ZONE }).format(new Date(iso))} (${ZONE})`;

function message(
  chat: { external_id: string; full_name: string; is_group?: boolean },
  n: string,
  at: Date,
  text: string,
) {
  return {
    account_phone: ACCOUNT,
    chat,
    external_id: `wamid.readable-${n}`,
    direction: "received",
    timestamp: at.toISOString(),
    type: "text",
    text,
  };
}
const JOHN = { external_id: "972541112222@s.whatsapp.net", full_name: "John Doe", is_group: false };
const SALES = { external_id: "120363041234500001@g.us", full_name: "Sales team", is_group: true };

before(async () => {
  ensureWebBuild();
  [server, receiver, browser] = await Promise.all([TestServer.start(), Receiver.start(), launchChromium()]);
  ws = await createWorkspace(server, { name: "Acme Paris", timezone: ZONE });
  key = ws.api_key;
  await api("POST", "/api/v1/accounts", { phone: ACCOUNT, owner_email: "amnon@acme.com", source: "api" });
  bundledId = (await api("POST", "/api/v1/webhooks", { url: `${receiver.url}/bundles`, aggregation: "6h" })).id;
  plainId = (await api("POST", "/api/v1/webhooks", { url: receiver.url })).id;
  const t = Date.now();
  await api("POST", "/api/v1/messages", {
    messages: [
      message(JOHN, "1", new Date(t - 2 * 3600_000), "John's newest words"),
      message(SALES, "2", new Date(t - 3600_000), "Team standup at ten"),
    ],
  });
  await api("POST", "/api/v1/messages", { messages: [message(JOHN, "3", EARLY, "An old message that arrived late")] });
  await waitFor(() => receiver.requests.filter((r) => r.json?.message).length >= 3, "three deliveries");
  johnId = (await api("GET", "/api/v1/chats?q=John")).items[0].chat_id;
  const early = (await api("GET", `/api/v1/chats/${johnId}/messages`)).items.find((m: { text: string }) =>
    m.text.startsWith("An old message"),
  );
  permalinkPath = new URL(early.permalink).pathname;

  // Axe is injected as a script: the page's own Content-Security-Policy would refuse it.
  ctx = await browser.newContext({ viewport: DESKTOP, bypassCSP: true });
  page = await ctx.newPage();
  await page.goto(server.url + "/");
  await signIn(page, server, ws);
});

after(async () => {
  await browser?.close();
  await receiver?.close();
  await server?.stop();
});

test("activity names the contact and the group, a change reads 'Don't aggregate → Every hour', and the whole error shows", async () => {
  await page.goto(server.url + "/webhooks");
  const activity = card(plainId).getByTestId("activity-log");
  await eventually(
    async () =>
      /chat with John Doe/.test((await activity.textContent()) ?? "") &&
      /group Sales team/.test((await activity.textContent()) ?? ""),
    "activity naming John Doe and Sales team",
  );
  assert.doesNotMatch((await activity.textContent()) ?? "", /message [0-9A-Z]{26}/, "no message ids");
  // One status chip a row (the summary does not say "HTTP 200" again), and what was delivered.
  const john = activity.locator('[data-kind="delivered"]').filter({ hasText: "John Doe" }).first();
  assert.equal(((await john.textContent()) ?? "").match(/HTTP 200/g)?.length, 1, (await john.textContent()) ?? "");
  assert.match(
    (await john.getByTestId("activity-snippet").textContent()) ?? "",
    /John's newest words|An old message that arrived late/,
  );

  // The switch is named after its URL; alerts of the last action clear when the next starts.
  assert.equal(
    await card(plainId)
      .getByRole("switch", { name: `Enabled: ${receiver.url}`, exact: true })
      .count(),
    1,
  );
  await card(plainId).getByTestId("webhook-aggregation").selectOption({ label: "Every hour" });
  await card(plainId).getByText("Aggregation saved.").waitFor();
  await eventually(
    async () =>
      (await activity.locator('[data-kind="updated"]').first().textContent())?.includes(
        "Aggregation: Don't aggregate → Every hour",
      ),
    "the change in the activity",
  );

  // A redirect's reason is a long sentence: the whole of it shows.
  receiver.respond = () => ({ status: 302, body: "" });
  try {
    await card(plainId).getByRole("button", { name: "Send test event" }).click();
    assert.equal(await card(plainId).getByText("Aggregation saved.").count(), 0, "the earlier alert is cleared");
    await card(plainId).getByTestId("test-result").waitFor();
  } finally {
    receiver.respond = () => ({ status: 200, body: "ok" });
  }
  const failed = activity.locator('[data-kind="failed"]').first();
  await eventually(async () => (await failed.count()) > 0, "the failed test event");
  for (const viewport of [DESKTOP, PHONE]) {
    await page.setViewportSize(viewport);
    const summary = failed.locator(".activity-summary");
    const fits = await summary.evaluate((el) => ({
      full: el.scrollWidth <= el.clientWidth + 1,
      lines: el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight || "16"),
    }));
    assert.ok(fits.full, `the error is cut at ${viewport.width} px`);
    const text = (await summary.textContent()) ?? "";
    const [item] = (await api("GET", `/api/v1/webhooks/${plainId}/activity`)).items.filter(
      (a: { kind: string }) => a.kind === "failed",
    );
    assert.equal(text, item.summary, "the whole summary is shown");
    if (viewport === PHONE) assert.ok(fits.lines > 1.5, "it wraps on a phone");
  }
  await page.setViewportSize(DESKTOP);
});

test("times say their zone; an aggregated webhook shows its next bundle and open chats; two webhooks start with the endpoint list", async () => {
  await page.goto(server.url + "/webhooks");
  const list = page.getByTestId("endpoint-list");
  await list.waitFor();
  assert.equal(await list.getByTestId("endpoint").count(), 2);
  const first = await page
    .locator("main, #root")
    .first()
    .evaluate((root) =>
      root
        .querySelector('[data-testid="endpoint-list"], [data-testid="webhook-card"], .create-card')
        ?.getAttribute("data-testid"),
    );
  assert.equal(first, "endpoint-list", "the list comes before the form and the cards");
  assert.match((await list.textContent()) ?? "", /Active/);

  const created = (await api("GET", `/api/v1/webhooks/${bundledId}`)) as {
    created_at: string;
    next_bundle_at: string;
    open_chats: number;
  };
  assert.ok(created.next_bundle_at && created.open_chats === 2, JSON.stringify(created));
  assert.match((await card(bundledId).textContent()) ?? "", new RegExp(`Created ${escape(shown(created.created_at))}`));
  const next = card(bundledId).getByTestId("next-bundle");
  await eventually(
    async () => (await next.textContent())?.includes(shown(created.next_bundle_at)),
    "the next bundle's time with its zone",
  );
  assert.match((await next.textContent()) ?? "", /2 open chats/);
  assert.match(
    (await card(bundledId).getByTestId("webhook-chart").textContent()) ?? "",
    new RegExp(`\\(${escape(ZONE)}\\)`),
  );
});

test("the Timeline is ordered by the last message's time, with a preview; a conversation started at its first message", async () => {
  await page.goto(server.url + "/timeline");
  const items = page.getByTestId("chat-item");
  await items.first().waitFor();
  const names = await items.locator(".chat-name").allTextContents();
  assert.equal(names.length, 2);
  assert.ok(names[0]!.startsWith("Sales team") && names[1]!.startsWith("John Doe"), `order: ${names.join(", ")}`);
  const john = items.filter({ hasText: "John Doe" });
  assert.equal(
    (await john.getByTestId("chat-preview").textContent())?.trim(),
    "John's newest words",
    "the preview is the newest message, not the last stored",
  );
  assert.equal((await page.getByTestId("time-zone").textContent())?.trim(), `Times in ${ZONE}`);

  await john.click();
  await page.getByTestId("chat-title").filter({ hasText: "John Doe" }).waitFor();
  assert.equal((await page.getByTestId("chat-started").textContent())?.trim(), `started ${shown(EARLY)}`);
  assert.equal((await page.getByTestId("time-zone").textContent())?.trim(), `Times in ${ZONE}`);
  // The server-rendered page (before JavaScript, or without it) names the zone too.
  const cookies = (await ctx.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
  const ssr = await server.request("GET", `/chat/${johnId}/messages/`, { headers: { cookie: cookies } });
  assert.match(ssr.text, new RegExp(`data-testid="time-zone">Times in ${escape(ZONE)}<`));
});

test("at 390 px in the Timeline: a group's avatar is the group glyph, not letters; a separator never starts a wrapped line", async () => {
  await page.setViewportSize(PHONE);
  try {
    await page.goto(server.url + "/timeline");
    const items = page.getByTestId("chat-item");
    await items.first().waitFor();
    const group = items.filter({ hasText: "Sales team" }).locator(".avatar");
    assert.equal(await group.locator("svg").count(), 1, "the group's avatar is the glyph");
    assert.equal((await group.textContent())?.trim(), "", "the group's avatar shows no letters");
    assert.equal((await items.filter({ hasText: "John Doe" }).locator(".avatar").textContent())?.trim(), "JD");
    // A no-break space binds each "·" to the word before it, so a wrapped line starts with a word.
    for (const sub of await items.locator(".chat-sub").allTextContents())
      assert.doesNotMatch(sub, /[^\u00a0]·/, JSON.stringify(sub));
  } finally {
    await page.setViewportSize(DESKTOP);
  }
});

test("at 390 px: the Accounts table and the chart fit; no page scrolls sideways", async () => {
  await page.setViewportSize(PHONE);
  try {
    await page.goto(server.url + "/accounts");
    const table = page.getByTestId("accounts-table");
    await table.waitFor();
    const box = await table.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= PHONE.width, `the table spans ${JSON.stringify(box)}`);
    assert.ok(await noSidewaysScroll(page), "the Accounts page scrolls sideways");
    assert.match((await table.textContent()) ?? "", new RegExp(`Added .*\\(${escape(ZONE)}\\)`));

    await page.goto(server.url + "/webhooks");
    const svg = card(plainId).locator("svg.chart-svg");
    await svg.waitFor();
    // Drawn at the phone's width: its 10 px labels are not shrunk.
    await eventually(
      async () =>
        (await svg.evaluate(
          (el) => (el as SVGSVGElement).getBoundingClientRect().width / (el as SVGSVGElement).viewBox.baseVal.width,
        )) > 0.95,
      "the chart at scale 1",
    );
    const tick = await svg
      .locator("text.tick")
      .first()
      .evaluate((el) => el.getBoundingClientRect().height);
    assert.ok(tick >= 10, `chart labels are ${tick} px high`);
  } finally {
    await page.setViewportSize(DESKTOP);
  }
});

test("axe: no serious or critical violations on any page, desktop and phone; nothing scrolls sideways at 390 px", async () => {
  const pages: [string, string, (p: Page) => Promise<unknown>][] = [
    ["Webhooks, outgoing", "/webhooks", (p) => p.getByTestId("webhook-card").first().waitFor()],
    [
      "Webhooks, incoming",
      "/webhooks/incoming",
      (p) => p.getByRole("tab", { name: "Incoming", selected: true }).waitFor(),
    ],
    ["Timeline", "/timeline", (p) => p.getByTestId("chat-item").first().waitFor()],
    ["a conversation", `/chat/${johnId}/messages/`, (p) => p.locator("article.bubble").first().waitFor()],
    ["Accounts", "/accounts", (p) => p.getByTestId("accounts-table").waitFor()],
    ["Teammates", "/teammates", (p) => p.getByRole("heading", { level: 1 }).waitFor()],
    ["Workspace", "/workspace", (p) => p.getByRole("heading", { name: "Message retention" }).waitFor()],
  ];
  const problems: string[] = [];
  const signedOut = await browser.newContext({ viewport: DESKTOP, bypassCSP: true });
  const ssr = await ctx
    .browser()!
    .newContext({ viewport: DESKTOP, bypassCSP: true, storageState: await ctx.storageState() });
  // The server-rendered pages as they are before (or without) JavaScript: their scripts are left out.
  await ssr.route(/\/(chat|permalink)\//, async (route) => {
    const r = await route.fetch();
    route.fulfill({ response: r, body: (await r.text()).replace(/<script\b[^>]*>[\s\S]*?<\/script>/gi, "") });
  });
  try {
    const runs: [string, Page, string, (p: Page) => Promise<unknown>][] = [
      ["sign-in", await signedOut.newPage(), "/", (p) => p.getByLabel("Password", { exact: true }).waitFor()],
      ...pages.map(([name, path, ready]): [string, Page, string, (p: Page) => Promise<unknown>] => [
        name,
        page,
        path,
        ready,
      ]),
      [
        "the chat page (server-rendered)",
        await ssr.newPage(),
        `/chat/${johnId}/messages/`,
        (p) => p.locator(".ssr.conversation").waitFor(),
      ],
      [
        "the permalink page (server-rendered)",
        await ssr.newPage(),
        permalinkPath,
        (p) => p.locator(".ssr.conversation").waitFor(),
      ],
    ];
    for (const [name, p, path, ready] of runs) {
      await p.setViewportSize(DESKTOP);
      // The web app's pages are opened in place (its own navigation), so axe is loaded once.
      if (p === page && (await p.evaluate(() => "axe" in window)))
        await p.evaluate((to) => {
          window.history.pushState(null, "", to);
          window.dispatchEvent(new PopStateEvent("popstate"));
        }, path);
      else await p.goto(server.url + path);
      await ready(p);
      await injectAxe(p);
      for (const viewport of [DESKTOP, PHONE]) {
        await p.setViewportSize(viewport);
        for (const v of await axeViolations(p)) problems.push(`${name} at ${viewport.width} px: ${v}`);
        if (viewport === PHONE && !(await noSidewaysScroll(p)))
          problems.push(`${name} at ${viewport.width} px scrolls sideways`);
      }
    }
  } finally {
    await page.setViewportSize(DESKTOP);
    await signedOut.close();
    await ssr.close();
  }
  assert.deepEqual(problems, []);
});

test("an aggregated webhook previews a chat's next digest, rendered in a sandboxed frame beside its JSON", async () => {
  await page.goto(server.url + "/webhooks");
  const preview = card(bundledId).getByTestId("digest-preview");
  await preview.locator("summary").click();
  await preview.getByLabel("Chat").selectOption({ label: "John Doe" });
  await preview.getByRole("button", { name: "Preview" }).click();
  const frame = preview.getByTestId("digest-frame");
  await frame.waitFor();
  assert.equal(await frame.getAttribute("sandbox"), "", "the digest runs no script and has no access to the page");
  const note = (await frame.contentFrame().locator("body").textContent()) ?? "";
  assert.match(note, /John's newest words/);
  assert.match(note, /An old message that arrived late/);
  assert.match((await preview.locator("pre").textContent()) ?? "", /"messages": \[/);
});

test("the sign-in page of a browser that never signed in asks nothing it is refused: no error in the console", async () => {
  const p = await (await browser.newContext({ viewport: DESKTOP })).newPage();
  const errors: string[] = [];
  p.on("console", (m) => void (m.type() === "error" && errors.push(m.text())));
  try {
    await p.goto(server.url + "/");
    await p.getByLabel("E-mail").waitFor();
    await p.waitForLoadState("networkidle");
    assert.deepEqual(errors, []);
  } finally {
    await p.context().close();
  }
});

test("/docs is Threadline's: its name and mark, each operation summarised, and no error in the console (the page's CSP included)", async () => {
  const p = await (await browser.newContext({ viewport: DESKTOP })).newPage();
  const errors: string[] = [];
  p.on("console", (m) => void (m.type() === "error" && errors.push(m.text())));
  p.on("pageerror", (e) => errors.push(e.message));
  try {
    await p.goto(server.url + "/docs");
    const create = p.locator("#operations-webhooks-post_api_v1_webhooks");
    await create.waitFor();
    assert.equal(await p.title(), "Threadline API");
    const logo = Buffer.from(
      ((await p.locator(".topbar img").getAttribute("src")) ?? "").split(",")[1] ?? "",
      "base64",
    ).toString();
    assert.match(logo, />Threadline</, "the top bar shows Threadline's mark, not Fastify's");
    assert.match((await create.textContent()) ?? "", /Create an outgoing webhook/);
    await create.locator(".opblock-summary").click();
    await create.getByText("Example Value").first().waitFor();
    assert.match(
      (await create.locator(".opblock-body").textContent()) ?? "",
      /hooks\.zapier\.com/,
      "the request example is a real one",
    );
    assert.deepEqual(errors, []);
  } finally {
    await p.context().close();
  }
});

/** Loads axe into the page unless it is there; from a URL, so the browser compiles it once for the file. */
async function injectAxe(p: Page): Promise<void> {
  if (await p.evaluate(() => "axe" in window)) return;
  await p
    .context()
    .route("**/__test/axe.min.js", (route) =>
      route.fulfill({ path: AXE, contentType: "text/javascript", headers: { "cache-control": "max-age=3600" } }),
    );
  await p.addScriptTag({ url: "/__test/axe.min.js" });
}

/** Runs axe on the page as it is laid out now. */
async function axeViolations(p: Page): Promise<string[]> {
  const violations = await p.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: {
          run(
            ctx: Document,
            opts: object,
          ): Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] }>;
        };
      }
    ).axe;
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
    }));
  });
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id} (${v.help}): ${v.targets.join(", ")}`);
}

async function noSidewaysScroll(p: Page): Promise<boolean> {
  return p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Security headers: nosniff, no framing, a Content-Security-Policy the React UI works under
 * (driven in Chromium, every CSP violation collected), a Referrer-Policy, and
 * `Cache-Control: no-store` on API answers. The UI's "Reveal" button shows the secret on purpose.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type Browser, type Page } from "playwright-core";
import { DATABASES, TestServer, waitFor } from "../helpers/server.js";
import { Receiver } from "../helpers/receiver.js";
import { ensureWebBuild, launchChromium, signInAs } from "../helpers/web.js";
import { send, victim, type Victim } from "../helpers/security.js";

const assertSecurityHeaders = (h: Headers, what: string) => {
  assert.equal(h.get("x-content-type-options"), "nosniff", what);
  assert.equal(h.get("x-frame-options"), "DENY", what);
  assert.ok(h.get("referrer-policy"), what);
  const csp = h.get("content-security-policy") ?? "";
  assert.match(csp, /frame-ancestors 'none'/, what);
  assert.match(csp, /default-src 'self'/, what);
  assert.match(csp, /script-src 'self'(;|$)/, `${what}: no inline or eval script`);
  assert.match(csp, /object-src 'none'/, what);
};

for (const database of DATABASES) {
  describe(`security headers (${database})`, () => {
    let server: TestServer;
    let v: Victim;
    before(async () => {
      server = await TestServer.start({ database });
      v = await victim(server);
    });
    after(async () => {
      await server?.stop();
    });

    it("pages, the UI shell, assets and API answers carry them; API answers are never cached", async () => {
      for (const p of ["/", "/webhooks", "/signin", `/chat/${v.chatId}/messages/`, "/healthz"]) {
        const r = await send(server, "GET", p, { cookie: v.cookie });
        assert.ok(r.status < 400, `${p}: ${r.status}`);
        assertSecurityHeaders(r.headers, p);
      }
      const answers = [
        await server.api("GET", "/api/v1/workspace", { token: v.key }),
        await server.api("POST", "/api/v1/webhooks", {
          token: v.key,
          body: { url: "http://127.0.0.1:9/x", enabled: false },
        }),
        await server.api("POST", "/api/v1/workspaces", { body: {} }),
        await server.api("GET", "/api/v1/nothing-here", { token: v.key }),
      ];
      for (const a of answers) {
        assert.equal(a.headers.get("cache-control"), "no-store", a.text);
        assertSecurityHeaders(a.headers, a.text);
      }
    });
  });
}

describe("the UI works under the Content-Security-Policy (Chromium)", () => {
  let server: TestServer;
  let receiver: Receiver;
  let browser: Browser;
  let page: Page;
  let v: Victim;
  const violations: string[] = [];
  before(async () => {
    ensureWebBuild();
    [server, receiver, browser] = await Promise.all([TestServer.start(), Receiver.start(), launchChromium()]);
    v = await victim(server);
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.on("console", (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    await page.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (e) =>
        console.error(`Refused to ${e.violatedDirective}: ${e.blockedURI}`),
      );
    });
  });
  after(async () => {
    await browser?.close();
    await Promise.all([server?.stop(), receiver?.close()]);
  });

  it("sign in, webhooks (create, reveal the secret), timeline and a server-rendered conversation, with no violation", async () => {
    await page.goto(server.url + "/");
    await signInAs(page, v.email, v.password);

    await page.getByLabel("Webhook URL").fill(receiver.url);
    await page.getByRole("button", { name: "Add webhook" }).click();
    const card = page.getByTestId("webhook-card").first();
    await card.waitFor();
    const shown = (await card.getByTestId("webhook-secret").locator("code").textContent())?.trim();
    const id = await card.getAttribute("data-webhook-id");
    const secret = (await server.api("GET", `/api/v1/webhooks/${id}/secret`, { token: v.key })).json.secret;
    assert.equal(shown, secret);
    await card.getByRole("button", { name: "I've stored it" }).click();
    assert.equal(await card.getByTestId("webhook-secret").count(), 0);
    // Reveal asks GET …/secret on purpose.
    await card.getByRole("button", { name: "Reveal" }).click();
    await card.getByTestId("webhook-secret").waitFor();
    assert.equal((await card.getByTestId("webhook-secret").locator("code").textContent())?.trim(), secret);

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Timeline", exact: true }).click();
    await page.getByText("John Doe").first().waitFor();
    await page.goto(`${server.url}/chat/${v.chatId}/messages/`);
    await page.getByText("Hello").first().waitFor();
    assert.deepEqual(violations, []);
    // The watch works, and the policy bites: an injected inline script is refused.
    await page.evaluate(() => {
      const s = document.createElement("script");
      s.textContent = "window.__injected = true";
      document.body.appendChild(s);
    });
    await waitFor(() => violations.some((m) => /script-src/.test(m)), "the inline script's violation report");
    assert.equal(await page.evaluate(() => (window as unknown as { __injected?: boolean }).__injected), undefined);
  });

  it("signing in from /signin?next= with a hostile next stays on Threadline", async () => {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    await p.goto(`${server.url}/signin?next=${encodeURIComponent("/\\evil.example")}`);
    await signInAs(p, v.email, v.password);
    assert.equal(new URL(p.url()).origin, new URL(server.url).origin);
    await ctx.close();
  });
});

/**
 * Single sign-on (issue 22, item 5): a real OpenID provider (`oidc-provider`) on loopback,
 * signed in through in Chromium: the invited e-mail signs in as the person invited; an
 * unknown e-mail is refused unless its domain is allowed, and then joins as a member of the
 * workspace that allows it.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import Provider from "oidc-provider";
import { type Browser, type Page } from "playwright-core";
import { TestServer, createWorkspace } from "../helpers/server.js";
import { as, ownerOf, type Person } from "../helpers/people.js";
import { ensureWebBuild, launchChromium } from "../helpers/web.js";

let server: TestServer;
let idp: Server;
let browser: Browser;
let owner: Person;
let ws: Awaited<ReturnType<typeof createWorkspace>>;
const CLIENT = { id: "threadline", secret: "threadline-test-client-secret" };

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });

/** Signs in through the provider's own login and consent pages, as `email`. */
async function throughProvider(page: Page, email: string): Promise<void> {
  await page.goto(`${server.url}/signin`);
  await page.getByRole("link", { name: "Sign in with single sign-on" }).click();
  await page.locator('input[name="login"]').fill(email);
  await page.locator('input[name="password"]').fill("any password");
  await page.getByRole("button", { name: "Sign-in" }).click();
  await page.getByRole("button", { name: "Continue" }).click();
}

before(async () => {
  ensureWebBuild();
  const [port, idpPort] = [await freePort(), await freePort()];
  const base = `http://127.0.0.1:${port}`;
  const issuer = `http://127.0.0.1:${idpPort}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT.id,
        client_secret: CLIENT.secret,
        redirect_uris: [`${base}/sso/callback`],
        grant_types: ["authorization_code"],
        response_types: ["code"],
      },
    ],
    // The login is the e-mail; the domain "unverified.example" is not verified by the provider.
    findAccount: async (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: async () => ({
        sub: id,
        email: id,
        email_verified: !id.endsWith("@unverified.example"),
        name: `SSO ${id.split("@")[0]}`,
      }),
    }),
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    cookies: { keys: ["a test cookie key of the provider"] },
  });
  idp = createServer(provider.callback());
  await new Promise<void>((r) => idp.listen(idpPort, "127.0.0.1", r));
  const env = {
    PORT: String(port),
    THREADLINE_PUBLIC_URL: base,
    THREADLINE_OIDC_ISSUER: issuer,
    THREADLINE_OIDC_CLIENT_ID: CLIENT.id,
    THREADLINE_OIDC_CLIENT_SECRET: CLIENT.secret,
  };
  [server, browser] = await Promise.all([TestServer.start({ env }), launchChromium()]);
  // The allowed domain names a workspace, which exists only now: the server starts again with it.
  ws = await createWorkspace(server, {
    name: "SSO Co",
    owner: { full_name: "Sara Owner", email: "sara@owner.example" },
  });
  server = await server.restart({
    signal: "SIGTERM",
    env: { ...env, THREADLINE_OIDC_ALLOWED_DOMAINS: `acme.example=${ws.id}` },
  });
  owner = await ownerOf(server, ws);
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await new Promise((r) => idp?.close(r));
});

test("the invited e-mail signs in through the provider as the person invited", async () => {
  const inv = await as(server, owner, "POST", "/api/v1/invitations", {
    email: "ivan@invited.example",
    full_name: "Ivan Invited",
    role: "admin",
  });
  assert.equal(inv.status, 201, inv.text);
  const page = await (await browser.newContext()).newPage();
  await throughProvider(page, "ivan@invited.example");
  await page.getByRole("button", { name: "Sign out" }).waitFor();
  assert.match((await page.getByTestId("signed-in-as").textContent()) ?? "", /Ivan Invited · admin/);
  // The invitation is used up; the person exists with the invited role.
  const people = (await as(server, owner, "GET", "/api/v1/teammates")).json.items as { email: string; role: string }[];
  assert.deepEqual(people.find((p) => p.email === "ivan@invited.example")?.role, "admin");
  assert.equal((await as(server, owner, "GET", "/api/v1/invitations")).json.items.length, 0);
  // Signing on again (the provider remembers its session) signs in the same person.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("link", { name: "Sign in with single sign-on" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
  assert.match((await page.getByTestId("signed-in-as").textContent()) ?? "", /Ivan Invited/);
  await page.context().close();
});

test("an unknown e-mail is refused unless its domain is allowed, then it joins that workspace as a member; an unverified e-mail is refused", async () => {
  // A browser of its own for each identity (the provider remembers who signed in).
  const fresh = async () => (await browser.newContext()).newPage();
  const eve = await fresh();
  await throughProvider(eve, "eve@elsewhere.example");
  await eve.getByText("eve@elsewhere.example is not a person of a workspace here").waitFor();
  assert.equal((await eve.context().cookies()).filter((c) => c.name === "tl_session").length, 0);
  await eve.context().close();

  const mo = await fresh();
  await throughProvider(mo, "mo@unverified.example");
  await mo.getByText("has not verified your e-mail").waitFor();
  await mo.context().close();

  const page = await fresh();
  await throughProvider(page, "ann@acme.example");
  await page.getByRole("button", { name: "Sign out" }).waitFor();
  assert.match((await page.getByTestId("signed-in-as").textContent()) ?? "", /SSO ann · member/);
  const me = await page.evaluate(async () => (await fetch("/api/v1/me")).json());
  assert.equal(me.workspace.id, ws.id);
  const joined = (await as(server, owner, "GET", `/api/v1/audit?actor=threadline`)).json.items.find(
    (e: { action: string }) => e.action === "person.created",
  );
  assert.equal(joined?.after.email, "ann@acme.example");
  await page.context().close();
});

/**
 * Rate limits (limits lowered through their variables so the 429 is reached): failed
 * authentications per client address, sign-in per address, inbound per token, authenticated
 * API traffic per workspace. The client address is X-Forwarded-For only behind a proxy listed
 * in THREADLINE_TRUST_PROXY: otherwise a guesser cannot escape by changing the header.
 * Windows are a minute; each test makes its few requests well within one.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { DATABASES, OPERATOR_TOKEN, TestServer, createWorkspace } from "../helpers/server.js";
import { fixtureText } from "../helpers/inbound.js";
import { form, send, victim, type Victim } from "../helpers/security.js";

const assertLimited = (r: { status: number; headers: Headers; json: any; text: string }) => {
  assert.equal(r.status, 429, r.text);
  assert.equal(r.json.error.code, "RATE_LIMITED");
  const after = Number(r.headers.get("retry-after"));
  assert.ok(Number.isInteger(after) && after >= 1 && after <= 60, `Retry-After: ${r.headers.get("retry-after")}`);
};

for (const database of DATABASES) {
  describe(`rate limits behind a trusted proxy (${database})`, () => {
    let server: TestServer;
    let v: Victim;
    before(async () => {
      server = await TestServer.start({
        database,
        env: {
          THREADLINE_TRUST_PROXY: "127.0.0.1",
          THREADLINE_RATE_LIMIT_AUTH_FAILURES: "5",
          THREADLINE_RATE_LIMIT_SIGNIN: "5",
          THREADLINE_RATE_LIMIT_INBOUND: "5",
          THREADLINE_RATE_LIMIT_API: "40",
        },
      });
      v = await victim(server);
    });
    after(async () => {
      await server?.stop();
    });
    const from = (address: string, headers: Record<string, string> = {}) => ({
      "x-forwarded-for": address,
      ...headers,
    });

    it("failed authentications per address: 429 with Retry-After, then even the right key is refused from there; other addresses are not", async () => {
      const attacker = "203.0.113.1";
      const wrong = [
        from(attacker, { authorization: "Bearer tlk_guess_1" }),
        from(attacker, { authorization: "Bearer tlk_guess_2" }),
        from(attacker, { cookie: "tl_session=tls_guess" }),
        from(attacker, { authorization: "Bearer tlo_guess_operator" }),
        from(attacker, { authorization: "Bearer tlk_guess_3" }),
      ];
      for (const [i, headers] of wrong.entries()) {
        const p = i === 3 ? "/api/v1/workspaces" : "/api/v1/workspace";
        const r = await send(
          server,
          i === 3 ? "POST" : "GET",
          p,
          { ...headers, "content-type": "application/json" },
          i === 3 ? "{}" : undefined,
        );
        assert.equal(r.status, 401, r.text);
      }
      assertLimited(
        await send(server, "GET", "/api/v1/workspace", from(attacker, { authorization: "Bearer tlk_guess_6" })),
      );
      // No oracle: the right key from the blocked address gets the same 429.
      assertLimited(
        await send(server, "GET", "/api/v1/workspace", from(attacker, { authorization: `Bearer ${v.key}` })),
      );
      const other = await send(
        server,
        "GET",
        "/api/v1/workspace",
        from("203.0.113.2", { authorization: `Bearer ${v.key}` }),
      );
      assert.equal(other.status, 200, other.text);
      // A request without any credential is not a guess: it still gets its 401; public pages stay reachable.
      assert.equal((await send(server, "GET", "/api/v1/workspace", from(attacker))).status, 401);
      assert.equal((await send(server, "GET", "/healthz", from(attacker, { cookie: v.cookie }))).status, 200);
    });

    it("guessing session cookies on the HTML pages counts too", async () => {
      const guesser = "203.0.113.9";
      for (let i = 0; i < 5; i++) {
        const r = await send(
          server,
          "GET",
          `/chat/${v.chatId}/messages/`,
          from(guesser, { cookie: `tl_session=tls_guess_${i}` }),
        );
        assert.equal(r.status, 200, "a wrong session shows the sign-in form");
        assert.match(r.text, /action="\/signin"/);
        assert.match(r.headers.get("set-cookie") ?? "", /tl_session=;/, "the wrong cookie is dropped");
      }
      assertLimited(await send(server, "GET", `/chat/${v.chatId}/messages/`, from(guesser, { cookie: v.cookie })));
      assert.equal(
        (await send(server, "GET", `/chat/${v.chatId}/messages/`, from("203.0.113.10", { cookie: v.cookie }))).status,
        200,
      );
    });

    it("sign-in attempts per address (POST /signin and POST /api/v1/session), and wrong passwords there count as failures", async () => {
      const own = { origin: new URL(server.url).origin, "content-type": "application/x-www-form-urlencoded" };
      for (let i = 0; i < 5; i++)
        assert.equal(
          (
            await send(
              server,
              "POST",
              "/signin",
              from("203.0.113.3", own),
              form({ email: v.email, password: v.password, next: "/" }),
            )
          ).status,
          303,
        );
      assertLimited(
        await send(
          server,
          "POST",
          "/signin",
          from("203.0.113.3", own),
          form({ email: v.email, password: v.password, next: "/" }),
        ),
      );
      for (let i = 0; i < 5; i++) {
        const r = await send(
          server,
          "POST",
          "/api/v1/session",
          from("203.0.113.4", { "content-type": "application/json" }),
          JSON.stringify({ email: `guess${i}@guess.example`, password: "a wrong password" }),
        );
        assert.equal(r.status, 401, r.text);
      }
      assertLimited(
        await send(
          server,
          "POST",
          "/api/v1/session",
          from("203.0.113.4", { "content-type": "application/json" }),
          JSON.stringify({ email: v.email, password: v.password }),
        ),
      );
      assertLimited(
        await send(server, "GET", "/api/v1/workspace", from("203.0.113.4", { authorization: `Bearer ${v.key}` })),
      );
    });

    it("sign-in attempts per e-mail, whatever the address (10 a minute): known or unknown e-mail alike, links and resets included", async () => {
      const json = { "content-type": "application/json" };
      const known = "target@acme.example";
      assert.equal(
        (await server.api("POST", "/api/v1/teammates", { token: v.key, body: { full_name: "Target", email: known } }))
          .status,
        201,
      );
      for (const email of [known, "nobody@unknown.example"]) {
        const tag = email === known ? 1 : 2;
        for (let i = 0; i < 10; i++) {
          const r = await send(
            server,
            "POST",
            "/api/v1/session",
            from(`198.51.${tag}.${i}`, json),
            JSON.stringify({ email, password: "a wrong password" }),
          );
          assert.equal(r.status, 401, r.text);
        }
        assertLimited(
          await send(
            server,
            "POST",
            "/api/v1/session",
            from(`198.51.${tag}.200`, json),
            JSON.stringify({ email, password: "a wrong password" }),
          ),
        );
        assertLimited(
          await send(
            server,
            "POST",
            "/api/v1/password-resets",
            from(`198.51.${tag}.201`, json),
            JSON.stringify({ email }),
          ),
        );
      }
      // Another person is not affected.
      const other = await send(
        server,
        "POST",
        "/api/v1/sign-in-links",
        from("198.51.3.1", json),
        JSON.stringify({ email: "someone.else@acme.example" }),
      );
      assert.equal(other.status, 202, other.text);
    });

    it("inbound requests per token, whatever the address; another account's token is not affected", async () => {
      const account = async (phone: string) => {
        const r = await server.api("POST", "/api/v1/accounts", {
          token: v.key,
          body: {
            phone,
            owner_email: "owner@acme.example",
            source: "waha",
            source_config: { base_url: "http://gw.example", api_key: "k", session: "default" },
          },
        });
        assert.equal(r.status, 201, r.text);
        return new URL(r.json.inbound_url).pathname;
      };
      const [a, b] = [await account("+15557654321"), await account("+15557654322")];
      const body = fixtureText("waha/message-any-received-direct.json");
      for (let i = 0; i < 5; i++)
        assert.equal(
          (await send(server, "POST", a, from(`198.51.100.${i}`, { "content-type": "application/json" }), body)).status,
          200,
        );
      assertLimited(await send(server, "POST", a, from("198.51.100.99", { "content-type": "application/json" }), body));
      assert.equal(
        (await send(server, "POST", b, from("198.51.100.99", { "content-type": "application/json" }), body)).status,
        200,
      );
    });

    it("the send URL: unknown tokens count as failed authentications, then even the right URL gets 429 from there; requests per token are limited", async () => {
      const made = await server.api("POST", "/api/v1/send-url", { token: v.key });
      assert.equal(made.status, 201, made.text);
      const path = new URL(made.json.url).pathname;
      const json = { "content-type": "application/json" };
      const body = JSON.stringify({ phone: "+15550009001", text: "hi" });
      for (let i = 0; i < 5; i++)
        assert.equal(
          (await send(server, "POST", `/hooks/send/snd_guess_${i}`, from("203.0.113.20", json), body)).status,
          404,
        );
      assertLimited(await send(server, "POST", path, from("203.0.113.20", json), body));
      // Per token: 5 a minute here, whatever the address (each a valid send, answered 202 or 400).
      for (let i = 0; i < 5; i++)
        assert.notEqual((await send(server, "POST", path, from(`198.51.100.${20 + i}`, json), body)).status, 429);
      assertLimited(await send(server, "POST", path, from("198.51.100.99", json), body));
    });

    it("authenticated API traffic per workspace: generous, then 429; another workspace is not affected", async () => {
      const ws = await createWorkspace(server, { name: "Busy", owner: { full_name: "B", email: "b@busy.example" } });
      for (let i = 0; i < 40; i++)
        assert.equal((await server.api("GET", "/api/v1/workspace", { token: ws.api_key })).status, 200);
      const limited = await server.api("GET", "/api/v1/workspace", { token: ws.api_key });
      assertLimited({ ...limited, headers: limited.headers });
      assert.equal((await server.api("GET", "/api/v1/teammates", { token: v.key })).status, 200);
      const operator = await server.api("POST", "/api/v1/workspaces", {
        token: OPERATOR_TOKEN,
        body: { name: "Next", owner: { full_name: "N", email: "n@next.example" } },
      });
      assert.equal(operator.status, 201, "the operator is counted apart");
    });
  });

  describe(`X-Forwarded-For is not believed by default (${database})`, () => {
    let server: TestServer;
    let v: Victim;
    before(async () => {
      server = await TestServer.start({ database, env: { THREADLINE_RATE_LIMIT_AUTH_FAILURES: "3" } });
      v = await victim(server);
    });
    after(async () => {
      await server?.stop();
    });

    it("a guesser that changes X-Forwarded-For on each try is still blocked after 3 failures", async () => {
      for (let i = 0; i < 3; i++) {
        const r = await send(server, "GET", "/api/v1/workspace", {
          "x-forwarded-for": `192.0.2.${i}`,
          authorization: `Bearer tlk_guess_${i}`,
        });
        assert.equal(r.status, 401, r.text);
      }
      assertLimited(
        await send(server, "GET", "/api/v1/workspace", {
          "x-forwarded-for": "192.0.2.200",
          authorization: "Bearer tlk_guess_x",
        }),
      );
      assertLimited(
        await send(server, "GET", "/api/v1/workspace", {
          "x-forwarded-for": "192.0.2.201",
          authorization: `Bearer ${v.key}`,
        }),
      );
    });
  });
}

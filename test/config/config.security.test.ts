/** The security settings are configuration like any other: parsed once, a bad value is one sentence naming the variable. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, RATE_LIMIT_DEFAULTS, loadConfig } from "../../src/config/index.js";

describe("security configuration", () => {
  it("defaults: generous rate limits, X-Forwarded-For not believed, private targets blocked", () => {
    const c = loadConfig({});
    assert.deepEqual(c.rateLimits, RATE_LIMIT_DEFAULTS);
    assert.equal(c.trustProxy, false);
    assert.equal(c.allowPrivateTargets, false);
  });

  it("each limit and the proxy list are read; 0 turns a limit off", () => {
    const c = loadConfig({
      THREADLINE_RATE_LIMIT_AUTH_FAILURES: "5",
      THREADLINE_RATE_LIMIT_SIGNIN: "0",
      THREADLINE_RATE_LIMIT_INBOUND: "7",
      THREADLINE_RATE_LIMIT_API: "9",
      THREADLINE_RATE_LIMIT_SIGNIN_EMAIL: "3",
      THREADLINE_TRUST_PROXY: "10.0.0.0/8, 127.0.0.1",
      THREADLINE_ALLOW_PRIVATE_TARGETS: "192.168.1.0/24",
    });
    assert.deepEqual(c.rateLimits, { authFailures: 5, signIn: 0, inbound: 7, api: 9, signInEmail: 3 });
    assert.deepEqual(c.trustProxy, ["10.0.0.0/8", "127.0.0.1"]);
    assert.deepEqual(c.allowPrivateTargets, ["192.168.1.0/24"]);
    assert.equal(loadConfig({ THREADLINE_TRUST_PROXY: "1" }).trustProxy, true);
  });

  for (const [name, value] of [
    ["THREADLINE_RATE_LIMIT_AUTH_FAILURES", "many"],
    ["THREADLINE_RATE_LIMIT_API", "-1"],
    ["THREADLINE_RATE_LIMIT_INBOUND", "1.5"],
    ["THREADLINE_TRUST_PROXY", "my-proxy"],
    ["THREADLINE_TRUST_PROXY", "10.0.0.0/33"],
  ] as const) {
    it(`${name}=${value} stops start-up naming the variable`, () => {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (e: unknown) => e instanceof ConfigError && e.message.startsWith(name) && e.message.includes(value),
      );
    });
  }
});

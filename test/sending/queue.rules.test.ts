// The send queue's rules as pure functions: the pause's jitter, what is retried, phone numbers.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isRetryable, jitteredPause } from "../../src/sending/sender.js";
import { directChatId, normalizePhone } from "../../src/sending/queue.js";
import { GatewayError } from "../../src/sources/gateway-http.js";
import { ConfigError, loadConfig } from "../../src/config/index.js";

describe("the send queue's rules", () => {
  it("the pause is the configured one ±25 %, whole milliseconds", () => {
    assert.equal(
      jitteredPause(2000, () => 0),
      1500,
    );
    assert.equal(
      jitteredPause(2000, () => 0.5),
      2000,
    );
    assert.equal(
      jitteredPause(2000, () => 0.9999),
      2500,
    );
    assert.equal(
      jitteredPause(333, () => 0.3),
      Math.round(333 * 0.9),
    );
    assert.equal(jitteredPause(0), 0);
  });

  it("a gateway without an answer, or answering 5xx, 408 or 429, is retried; another 4xx or a mapping error is final", () => {
    assert.equal(isRetryable(new GatewayError("could not connect")), true);
    for (const status of [500, 502, 503, 408, 429])
      assert.equal(isRetryable(new GatewayError("x", status)), true, String(status));
    for (const status of [400, 401, 403, 404, 422])
      assert.equal(isRetryable(new GatewayError("x", status)), false, String(status));
    assert.equal(isRetryable(new Error("WAHA answered sendText without a message id.")), false);
  });

  it("phones in international form, formatting tolerated; a new phone's chat id is the gateway's", () => {
    assert.equal(normalizePhone("+972 54-000 0000"), "+972540000000");
    assert.equal(normalizePhone("972540000000"), "+972540000000");
    assert.equal(normalizePhone("(555) 123"), undefined);
    assert.equal(normalizePhone("+0123456789"), undefined);
    assert.equal(directChatId("cloud_api", "+972540000000"), "972540000000");
    assert.equal(directChatId("waha", "+972540000000"), "972540000000@c.us");
    assert.equal(directChatId("evolution", "+972540000000"), "972540000000@s.whatsapp.net");
    assert.equal(directChatId("api", "+972540000000"), "972540000000@s.whatsapp.net");
  });

  it("THREADLINE_SEND_PAUSE_MS: 2 s by default, a whole number up to 600000 else start-up stops naming it", () => {
    assert.equal(loadConfig({}).sendPauseMs, 2000);
    assert.equal(loadConfig({ THREADLINE_SEND_PAUSE_MS: "0" }).sendPauseMs, 0);
    for (const bad of ["1.5", "-1", "fast", "600001"])
      assert.throws(
        () => loadConfig({ THREADLINE_SEND_PAUSE_MS: bad }),
        (e) => e instanceof ConfigError && /THREADLINE_SEND_PAUSE_MS/.test(e.message),
      );
  });
});

// The rules of issue #23 as pure functions: which name a chat keeps, what a hidden id is,
// the per-account bound on gateway calls, and the alert delay's variable.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { betterName, replacesName } from "../../src/ingest/names.js";
import { isHiddenId } from "../../src/ingest/identity.js";
import { AccountLimiter, within } from "../../src/sources/limiter.js";
import { ConfigError, loadConfig } from "../../src/config/index.js";

describe("contacts: names, hidden ids, the bound on gateway calls", () => {
  it("a teammate's name is never replaced; a push name replaces only an empty or push name; a gateway name beats a push name", () => {
    const is = (source: string, name = "Old") => ({ name, source });
    assert.equal(replacesName(is(""), is("push", "New")), true);
    assert.equal(replacesName(is("push"), is("push", "New")), true);
    assert.equal(replacesName(is("gateway"), is("push", "New")), false);
    assert.equal(replacesName(is("teammate"), is("push", "New")), false);
    assert.equal(replacesName(is("push"), is("gateway", "New")), true);
    assert.equal(replacesName(is("gateway"), is("gateway", "New")), false, "the first address-book name stays");
    assert.equal(replacesName(is("teammate"), is("gateway", "New")), false);
    assert.equal(replacesName(is(""), is("push", "")), false, "no name is no name");
    assert.deepEqual(betterName({ name: "Phone chat", source: "push" }, { name: "Lid chat", source: "teammate" }), {
      name: "Lid chat",
      source: "teammate",
    });
    assert.deepEqual(betterName({ name: "Phone chat", source: "gateway" }, { name: "Lid chat", source: "push" }), {
      name: "Phone chat",
      source: "gateway",
    });
  });

  it("hidden ids: @lid JIDs and Cloud API user ids, not phones or groups", () => {
    assert.equal(isHiddenId("103899771998284@lid"), true);
    assert.equal(isHiddenId("US.90817263544536271809"), true);
    assert.equal(isHiddenId("15551234567@s.whatsapp.net"), false);
    assert.equal(isHiddenId("15551234567"), false);
    assert.equal(isHiddenId("120363041234567890@g.us"), false);
  });

  it("the limiter: at most N in flight per account, a bounded queue, the rest skipped; other accounts never wait", async () => {
    const limiter = new AccountLimiter(2, 3);
    let inFlight = 0;
    let max = 0;
    const release: (() => void)[] = [];
    const call = () =>
      new Promise<string>((resolve) => {
        inFlight++;
        max = Math.max(max, inFlight);
        release.push(() => {
          inFlight--;
          resolve("ok");
        });
      });
    const far = Date.now() + 60_000;
    const results = Array.from({ length: 10 }, () => limiter.run("acc_a", call, far));
    const other = limiter.run("acc_b", async () => "b", far);
    assert.equal(await other, "b", "another account is not queued behind acc_a");
    await new Promise((r) => setImmediate(r));
    assert.equal(max, 2);
    while (release.length) {
      release.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    const answers = await Promise.all(results);
    assert.equal(answers.filter((a) => a === "ok").length, 5, "2 in flight + 3 queued ran");
    assert.equal(answers.filter((a) => a === undefined).length, 5, "the rest were skipped");
    assert.equal(max, 2);
    assert.equal(limiter.busyAccounts, 0, "nothing kept once idle");
  });

  it("a queued call whose start time passed is skipped; a failing call answers undefined; within() gives up on time", async () => {
    const limiter = new AccountLimiter(1, 5);
    let finish!: () => void;
    const first = limiter.run("acc", () => new Promise<string>((r) => (finish = () => r("first"))), Date.now() + 1000);
    const late = limiter.run("acc", async () => "late", Date.now() - 1);
    finish();
    assert.equal(await first, "first");
    assert.equal(await late, undefined);
    assert.equal(await limiter.run("acc", () => Promise.reject(new Error("boom")), Date.now() + 1000), undefined);
    assert.equal(await within(new Promise(() => undefined), 10), undefined);
    assert.equal(await within(Promise.resolve(7), 1000), 7);
  });

  it("THREADLINE_DISCONNECT_ALERT_MINUTES: 10 by default, 1 to 10080 minutes", () => {
    assert.equal(loadConfig({}).disconnectAlertMinutes, 10);
    assert.equal(loadConfig({ THREADLINE_DISCONNECT_ALERT_MINUTES: "3" }).disconnectAlertMinutes, 3);
    for (const bad of ["0", "-1", "1.5", "x", "10081"]) {
      assert.throws(
        () => loadConfig({ THREADLINE_DISCONNECT_ALERT_MINUTES: bad }),
        (e: unknown) => e instanceof ConfigError && /THREADLINE_DISCONNECT_ALERT_MINUTES/.test(e.message),
        bad,
      );
    }
  });
});

// Replay from a time through the API (webhooks/replay.ts): start one, read its progress, wait
// for its end, and mark a moment on the server's clock that separates messages stored before
// and after it.
import assert from "node:assert/strict";
import type { Static } from "typebox";
import type { ReplayView } from "../../src/webhooks/schemas.js";
import { type TestServer, waitFor } from "./server.js";
import type { Space } from "./workspace.js";

export type Replay = Static<typeof ReplayView>;

export function replays(server: () => TestServer) {
  const start = (s: Space, id: string, body: object) =>
    server().api("POST", `/api/v1/webhooks/${id}/replay`, { token: s.key, body });
  const progress = async (s: Space, id: string): Promise<Replay> => {
    const r = await server().api("GET", `/api/v1/webhooks/${id}/replay`, { token: s.key });
    assert.equal(r.status, 200, r.text);
    return r.json as Replay;
  };
  const ended = (s: Space, id: string) =>
    waitFor(async () => {
      const v = await progress(s, id);
      return v.state === "running" ? undefined : v;
    }, "the replay to end");
  /** A moment on the server's clock with nothing stored at it: messages before and after fall on either side. */
  const mark = async () => {
    await server().advance(60_000);
    const t = await server().advance(0);
    await server().advance(1000);
    return t;
  };
  return { replay: start, progress, ended, mark };
}

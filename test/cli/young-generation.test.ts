// `serve` bounds V8's young generation at run time (its maximum can only be set when node
// starts): a server's new space stays at 2 x 4 MB, where V8 would grow it to 2 x 16 MB.
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { CLI, TestServer } from "../helpers/server.js";

let server: TestServer;
before(async () => {
  server = await TestServer.start();
});
after(() => server.stop());

const newSpace = async () => {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/^nodejs_heap_space_size_total_bytes\{space="new"\} (\d+)/m.exec(text)![1]);
};

// Under tsx (sources newer than the bundle), loading the sources alone grows the young
// generation past the bound before `serve` runs; the bound only stops growth.
it(
  "the server's young generation stays at 4 MB a semi-space",
  { skip: CLI[0] === "--import" && "runs the sources under tsx" },
  async () => {
    for (let i = 0; i < 200; i++) await fetch(`${server.url}/metrics`); // a little allocation
    const size = await newSpace();
    assert.ok(size > 0 && size <= 8 * 1024 * 1024, `new space ${size} bytes`);
  },
);

// A minimal webhook receiver in its own process, so it does not share an event loop
// with the sender being measured. Reports counts to its parent over IPC.
import http from "node:http";
import type { AddressInfo } from "node:net";

let count = 0;
const seen = new Set<string>();
const server = http.createServer((req, res) => {
  req.on("data", () => {});
  req.on("end", () => {
    count++;
    const id = req.headers["webhook-id"];
    if (typeof id === "string") seen.add(id);
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok");
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  process.send!({ port: (server.address() as AddressInfo).port });
});
process.on("message", (m: { cmd: string }) => {
  if (m.cmd === "count") process.send!({ count, unique: seen.size });
  if (m.cmd === "reset") {
    count = 0;
    seen.clear();
    process.send!({ reset: true });
  }
  if (m.cmd === "exit") process.exit(0);
});

/** A bare service for the call benches: every request gets a small JSON answer. */
import { createServer } from "node:http";
import { announce, portOf } from "./ready.js";

const answer = Buffer.from(JSON.stringify({ ok: true, id: "42" }));
const server = createServer((req, res) => {
  req.resume();
  req.once("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": answer.length });
    res.end(answer);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => announce(portOf(server)));

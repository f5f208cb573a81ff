/** B_raw: a bare `ws` server sending one pre-serialised message to every client. */
import { createServer } from "node:http";
import { WebSocketServer } from "ws";
import { announce, portOf } from "../servers/ready.js";

const wss = new WebSocketServer({ noServer: true });
const server = createServer((req, res) => {
  if (req.method === "POST" && req.url === "/publish") {
    const message = JSON.stringify({ at: Date.now() });
    for (const client of wss.clients) client.send(message);
    res.writeHead(204).end();
    return;
  }
  res.writeHead(404).end();
});
server.on("upgrade", (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
});
server.listen(0, "127.0.0.1", () => announce(portOf(server)));

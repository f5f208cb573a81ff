import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import type { WebSocketServer } from "ws";

/**
 * One `upgrade` listener for the port, handing each WebSocket to the server of its path.
 * ws's `{ server, path }` mode answers 400 to every upgrade for another path, so two
 * endpoints on one server (/graphql and the federated graph) need this.
 */
export function createUpgradeRouter(server: Server) {
  const routes = new Map<string, WebSocketServer>();
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const wss = routes.get(pathOf(req.url));
    if (!wss) {
      // As ws answers an upgrade it does not handle.
      socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  };
  server.on("upgrade", onUpgrade);
  return {
    route(path: string, wss: WebSocketServer): void {
      routes.set(path, wss);
    },
    close(): void {
      server.off("upgrade", onUpgrade);
    },
  };
}

export type UpgradeRouter = ReturnType<typeof createUpgradeRouter>;

function pathOf(target: string | undefined): string {
  const end = (target ?? "/").search(/[?#]/);
  return end === -1 ? (target ?? "/") : (target ?? "/").slice(0, end);
}

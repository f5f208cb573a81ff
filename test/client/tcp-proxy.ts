import type { AddressInfo } from "node:net";
import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP proxy on a port that outlives the gateways behind it: the SDK under test keeps one
 * URL while the test takes "the gateway" down (connections refused) and brings a fresh one
 * up, as a restart behind a fixed address looks to a client.
 */
export async function startTcpProxy(initialTarget: string) {
  let target = new URL(initialTarget);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;

  const listen = () =>
    new Promise<void>((resolve) => {
      const listening = createServer((client) => {
        const upstream = connect(Number(target.port), target.hostname);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on("close", () => sockets.delete(socket));
          socket.on("error", () => {
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream).pipe(client);
      });
      listening.listen(port, "127.0.0.1", () => {
        port = (listening.address() as AddressInfo).port;
        server = listening;
        resolve();
      });
    });
  const dropConnections = () => {
    for (const socket of sockets) socket.destroy();
  };
  await listen();

  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    /** Closes every connection and refuses new ones. */
    async down(): Promise<void> {
      const closing = server;
      server = undefined;
      dropConnections();
      await new Promise<void>((resolve) => (closing ? closing.close(() => resolve()) : resolve()));
    },
    /** Listens again on the same port, forwarding to `url`. */
    async up(url: string): Promise<void> {
      target = new URL(url);
      if (!server) await listen();
    },
    /** Forwards new connections to `url` and closes the open ones, without refusing any. */
    retarget(url: string): void {
      target = new URL(url);
      dropConnections();
    },
  };
}

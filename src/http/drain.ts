import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { Server as NetServer, type Socket } from "node:net";

export type DrainOptions = {
  /** When every connection still open is destroyed, counted from the start of the drain. */
  timeoutMs: number;
  /**
   * How long connections that were idle when the drain began stay open before they are
   * closed. Default: the server's `keepAliveTimeout` (Node's 5 s), the time it announced
   * in `Keep-Alive: timeout=N`, past which clients that honour the hint (undici, fetch)
   * no longer send on them.
   */
  idleGraceMs?: number;
};

export type DrainResult = {
  /** Connections open (HTTP and WebSocket) when the drain began. */
  open: number;
  /** Connections still open at the timeout, and destroyed. */
  destroyed: number;
  ms: number;
};

export type ConnectionDrain = ReturnType<typeof trackConnections>;

/**
 * Tracks the server's connections and the responses on each, so it can stop without
 * leaving a request that reached it unanswered. Must be attached before the server
 * listens: a socket it never saw cannot be drained.
 *
 * Closing an idle keep-alive connection races a client that is sending its next request
 * on it (the request gets a reset, not an answer), so a connection is only closed once
 * its client was told: a response with `Connection: close`, or the keep-alive timeout
 * the server announced. See docs at `drain()`.
 */
export function trackConnections(server: Server) {
  /** Every open socket, with the responses it still owes. */
  const connections = new Map<Socket, Set<ServerResponse>>();
  let draining: Promise<DrainResult> | null = null;
  let onLastClosed: (() => void) | null = null;
  let destroyed = 0;

  server.on("connection", (socket: Socket) => {
    connections.set(socket, new Set());
    socket.once("close", () => {
      connections.delete(socket);
      if (connections.size === 0) onLastClosed?.();
    });
  });

  // Prepended, so the header is set before a handler that answers synchronously (the
  // health probes do) has written its head.
  server.prependListener("request", (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    const owed = connections.get(socket);
    if (!owed) return;
    owed.add(res);
    if (draining) res.setHeader("connection", "close");
    res.once("close", () => {
      owed.delete(res);
      // A response whose head went out before the drain said keep-alive (an SSE stream,
      // say): its connection is closed as soon as it is done, never in the middle.
      if (draining && owed.size === 0) socket.end();
    });
  });

  function beginDrain({ timeoutMs, idleGraceMs }: DrainOptions): Promise<DrainResult> {
    const started = performance.now();
    const open = connections.size;
    // net's close, not http's: since Node 19 http's close() also destroys every idle
    // keep-alive connection at once, the race above. This only stops accepting.
    if (server.listening) NetServer.prototype.close.call(server);

    for (const owed of connections.values()) {
      for (const res of owed) if (!res.headersSent) res.setHeader("connection", "close");
    }

    const grace = Math.min(idleGraceMs ?? server.keepAliveTimeout, timeoutMs);
    // Node closes a keep-alive connection itself when its keep-alive timeout runs out;
    // this closes the ones it has no timer for (opened, never used), between requests.
    const idleTimer = setTimeout(() => server.closeIdleConnections(), grace);
    const deadline = setTimeout(() => {
      for (const socket of connections.keys()) {
        destroyed++;
        socket.destroy();
      }
    }, timeoutMs);

    return new Promise<DrainResult>((resolve) => {
      onLastClosed = () => {
        clearTimeout(idleTimer);
        clearTimeout(deadline);
        resolve({ open, destroyed, ms: Math.round(performance.now() - started) });
      };
      if (connections.size === 0) onLastClosed();
    });
  }

  return {
    /**
     * Stops accepting connections at once, then drains the open ones and resolves when
     * none is left:
     * - every response whose head is not yet written says `Connection: close`, so Node
     *   closes its connection when it is sent, and the client knows not to reuse it;
     * - a response in flight whose head is out already has its connection closed when
     *   it finishes;
     * - idle keep-alive connections stay open, answering whatever comes on them with
     *   `Connection: close`, until `idleGraceMs` has passed; then those still idle are
     *   closed (never one receiving a request);
     * - at `timeoutMs`, whatever is still open is destroyed.
     * WebSockets count as open connections; closing them is the caller's. Calling it
     * again returns the same drain.
     */
    drain(options: DrainOptions): Promise<DrainResult> {
      draining ??= beginDrain(options);
      return draining;
    },
  };
}

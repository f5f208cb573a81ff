import type { IncomingMessage } from "node:http";
import type { WebSocket } from "ws";
import type { Caller } from "../domain/access.js";
import { isGatewayError } from "../domain/errors.js";
import type { Access } from "../services/access.js";

/**
 * Who each graphql-ws socket authenticated as at connection_init, from a bearer token in
 * connectionParams or the upgrade's headers; sockets whose API token is revoked or
 * expires are closed with 4403. One per WebSocket endpoint.
 */
export function createSocketCallers(access: Access) {
  const callers = new WeakMap<WebSocket, Caller>();
  const socketsByToken = new Map<string, Set<WebSocket>>();
  const stopWatching = access.onInvalidated((tokenId) => {
    for (const socket of socketsByToken.get(tokenId) ?? []) {
      socket.close(4403, "Forbidden: the token was revoked or has expired");
    }
    socketsByToken.delete(tokenId);
  });

  return {
    /** False (graphql-ws closes with 4403) for a missing or bad token. */
    connect(
      socket: WebSocket,
      request: IncomingMessage,
      connectionParams: Readonly<Record<string, unknown>> | undefined,
    ): boolean {
      const fromParams = connectionParams?.authorization;
      const authorization =
        typeof fromParams === "string" ? fromParams : request.headers.authorization;
      try {
        const caller = access.authenticate(authorization, request.socket.remoteAddress ?? null);
        callers.set(socket, caller);
        if (caller.tokenId !== null) {
          const sockets = socketsByToken.get(caller.tokenId) ?? new Set<WebSocket>();
          sockets.add(socket);
          socketsByToken.set(caller.tokenId, sockets);
        }
        return true;
      } catch (error) {
        if (isGatewayError(error)) return false;
        throw error;
      }
    },
    disconnect(socket: WebSocket): void {
      const caller = callers.get(socket);
      if (caller?.tokenId) socketsByToken.get(caller.tokenId)?.delete(socket);
    },
    /** The socket's caller while its token is valid; null: refuse the operation. */
    callerOf(socket: WebSocket): Caller | null {
      const caller = callers.get(socket);
      if (!caller || (caller.tokenId !== null && !access.isValid(caller.tokenId))) return null;
      return caller;
    },
    stop(): void {
      stopWatching();
    },
  };
}

import type { RequestListener } from "node:http";
import { GRAPHQL_PATH } from "./graphql.js";

/** What the gateway is waiting for while it starts, e.g. "database (postgres)". */
export type StartingState = { waitingFor: string; error: string | null };

/**
 * Answers on the gateway's port before the gateway is built (while it opens or waits
 * for its database): alive, not ready naming what it waits for, and 503
 * SERVICE_UNAVAILABLE for everything else, so a load balancer and a supervisor see a
 * process that is coming up rather than one that is down or restart-looping.
 */
export function answerWhileStarting(state: () => StartingState): RequestListener {
  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const { waitingFor, error } = state();
    const reason = `${waitingFor}: ${error ?? "starting"}`;
    const message = `The gateway is starting; waiting for the ${waitingFor}.`;
    const [status, body] =
      path === "/health/alive"
        ? [200, { status: "alive" }]
        : path === "/health/ready"
          ? [503, { status: "not ready", failing: [reason] }]
          : path === GRAPHQL_PATH
            ? [503, { errors: [{ message, extensions: { code: "SERVICE_UNAVAILABLE" } }] }]
            : [503, { detail: message, code: "SERVICE_UNAVAILABLE" }];
    const payload = JSON.stringify(body);
    // The request body, if any, is not read: close rather than leave it on the socket.
    res.writeHead(status, {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(payload),
      ...(status === 503 ? { "retry-after": "1" } : {}),
      ...(req.method === "GET" || req.method === "HEAD" ? {} : { connection: "close" }),
    });
    res.end(payload);
  };
}

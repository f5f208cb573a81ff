import type { IncomingHttpHeaders } from "node:http";
import { type Caller, permits } from "../domain/access.js";
import type { SupergraphSnapshot } from "../domain/federation.js";

/** The caller's headers on the forwarding allow-list (FEDERATION_FORWARD_HEADERS). */
export function forwardedHeaders(
  headers: IncomingHttpHeaders,
  allowed: readonly string[],
): Record<string, string> {
  const forwarded: Record<string, string> = {};
  for (const name of allowed) {
    const value = headers[name];
    if (value !== undefined) forwarded[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return forwarded;
}

/**
 * Whether a federated response carries `extensions.explain`: the request asks with
 * `x-gateway-explain: 1`, and the caller may see the topology behind the graph (admin
 * and operator roles); a service token querying the graph gets its data alone.
 */
export function wantsExplain(headers: IncomingHttpHeaders, caller: Caller): boolean {
  return headers["x-gateway-explain"] === "1" && permits(caller, "explainFederation");
}

/** Why the federated graph cannot answer yet, for its 503. */
export function notComposedMessage(snapshot: SupergraphSnapshot): string {
  if (snapshot.errors.length > 0) {
    return `No supergraph is composed yet: the composition failed (${snapshot.errors.join("; ")}).`;
  }
  return "No supergraph is composed yet: no registered service declares a GraphQL API with a healthy instance (register one with graphql: { path, kind }).";
}

export const FEDERATION_FORBIDDEN =
  "The federated graph calls services: this token's role lacks callServices (admin and service roles have it).";

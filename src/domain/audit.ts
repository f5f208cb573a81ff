// The audit trail's model: who changed what, when, and how it ended. The gateway records
// one entry per mutation (a GraphQL root field or a REST route that is not a GET).

import type { Caller } from "./access.js";
import { isGatewayError } from "./errors.js";

export type AuditActor = {
  /** The token's id and name; null for an anonymous caller, known by address. */
  tokenId: string | null;
  name: string | null;
  role: string | null;
  address: string | null;
};

/** One mutation as it is recorded; `at` and `id` are added by the trail and the database. */
export type AuditEvent = {
  actor: AuditActor;
  transport: "graphql" | "rest";
  /** The mutation field (`registerService`) or the route (`PUT /registry/services/{id}/status`). */
  operation: string;
  /** Ids it acted on; never any other value of the request or the answer. */
  targets: string[];
  /** "ok", or the error code it ended with. */
  result: string;
  requestId: string | null;
};

export type AuditEntry = AuditEvent & { at: string };
export type StoredAuditEntry = AuditEntry & { id: number };

export const AUDIT_OK = "ok";

/** The two names a heartbeat goes by: the GraphQL mutation and the REST route. */
const HEARTBEATS: ReadonlySet<string> = new Set([
  "heartbeat",
  "POST /registry/services/{id}/heartbeat",
]);

/**
 * Whether an event is left out of the trail: a heartbeat that succeeded. Heartbeats are
 * the liveness hot path (a fleet sends thousands a second), not changes anyone makes, and
 * the status changes they cause are in each service's statusHistory already; as
 * Kubernetes audit policies leave out lease renewals. A refused heartbeat is recorded.
 */
export function isRoutineLiveness(event: AuditEvent): boolean {
  return event.result === AUDIT_OK && HEARTBEATS.has(event.operation);
}

/** Enough for any id this gateway hands out; a longer one is cut, not stored whole. */
const MAX_TARGET_LENGTH = 256;
/** A mutation names a few ids; an entry never grows with what a client sends. */
const MAX_TARGETS = 20;

export function actorOf(caller: Caller): AuditActor {
  return {
    tokenId: caller.tokenId,
    name: caller.tokenName,
    role: caller.role,
    address: caller.address,
  };
}

/** The result of an operation that threw: its code, or INTERNAL_SERVER_ERROR for a bug. */
export function auditResultOf(error: unknown): string {
  return isGatewayError(error) ? error.code : "INTERNAL_SERVER_ERROR";
}

/** Distinct, bounded targets, in the order found. */
export function boundedTargets(ids: Iterable<string>): string[] {
  const seen = new Set<string>();
  for (const id of ids) {
    if (id.length === 0) continue;
    seen.add(id.slice(0, MAX_TARGET_LENGTH));
    if (seen.size >= MAX_TARGETS) break;
  }
  return [...seen];
}

import { asc, gt, sql } from "drizzle-orm";
import {
  type BreakerSettings,
  type BreakerTransition,
  type CircuitBreakerSnapshot,
  type CircuitState,
  circuitStates,
} from "../domain/breaker.js";
import type { Db } from "./client.js";
import { guardDatabase } from "./errors.js";
import { circuitBreakerEvents } from "./schema.js";
import { iso, isoOrNull } from "./timestamps.js";

/** A recorded transition, read back as the breaker it left behind. */
export type RecordedBreaker = { breaker: CircuitBreakerSnapshot; byOperator: boolean };

/** Circuit breaker transitions: the audit trail, and the state a replica starts from. */
export function createBreakerRepository(db: Db) {
  return {
    record: (transitions: readonly BreakerTransition[]) =>
      guardDatabase(async () => {
        if (transitions.length === 0) return;
        await db.insert(circuitBreakerEvents).values(
          transitions.map((transition) => ({
            serviceId: transition.serviceId,
            fromState: transition.previousState,
            toState: transition.state,
            failureCount: transition.breaker.failureCount,
            consecutiveFailures: transition.breaker.consecutiveFailures,
            lastFailureAt: transition.breaker.lastFailureAt,
            reason: transition.reason,
            byOperator: transition.byOperator,
            at: transition.at,
          })),
        );
      }),

    /** The last transition of every breaker that has one. */
    latest: (settings: BreakerSettings) =>
      guardDatabase(async (): Promise<RecordedBreaker[]> => {
        const rows = await db
          .selectDistinctOn([circuitBreakerEvents.serviceId])
          .from(circuitBreakerEvents)
          .orderBy(
            circuitBreakerEvents.serviceId,
            sql`${circuitBreakerEvents.at} DESC`,
            sql`${circuitBreakerEvents.id} DESC`,
          );
        return rows.map((row) => toRecorded(row, settings));
      }),

    /** Transitions recorded after `since`, oldest first (what a replica may have missed). */
    since: (since: string, settings: BreakerSettings) =>
      guardDatabase(async (): Promise<RecordedBreaker[]> => {
        const rows = await db
          .select()
          .from(circuitBreakerEvents)
          .where(gt(circuitBreakerEvents.at, since))
          .orderBy(asc(circuitBreakerEvents.at), asc(circuitBreakerEvents.id))
          .limit(10_000);
        return rows.map((row) => toRecorded(row, settings));
      }),
  };
}

export type BreakerRepository = ReturnType<typeof createBreakerRepository>;

function toRecorded(
  row: typeof circuitBreakerEvents.$inferSelect,
  settings: BreakerSettings,
): RecordedBreaker {
  const at = iso(row.at);
  return {
    byOperator: row.byOperator,
    breaker: {
      ...settings,
      serviceId: row.serviceId,
      state: stateOf(row.toState) ?? "CLOSED",
      failureCount: row.failureCount,
      consecutiveFailures: row.consecutiveFailures,
      lastFailureAt: isoOrNull(row.lastFailureAt),
      lastStateChangeAt: at,
    },
  };
}

function stateOf(value: string): CircuitState | null {
  return (circuitStates as readonly string[]).includes(value) ? (value as CircuitState) : null;
}

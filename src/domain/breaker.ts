// Circuit breakers as every layer sees them: states, settings, snapshots, transitions.

export const circuitStates = ["CLOSED", "OPEN", "HALF_OPEN", "ISOLATED"] as const;
export type CircuitState = (typeof circuitStates)[number];

export type BreakerSettings = {
  /** Consecutive failures that open a closed breaker. */
  failureThreshold: number;
  /** How long an open breaker rejects every call before trial calls are let through. */
  resetTimeoutMs: number;
  /** Trial calls let through while half-open; this many successes close the breaker. */
  halfOpenMaxCalls: number;
};

export const defaultBreakerSettings: BreakerSettings = {
  failureThreshold: 5,
  resetTimeoutMs: 30_000,
  halfOpenMaxCalls: 3,
};

export type CircuitBreakerSnapshot = BreakerSettings & {
  serviceId: string;
  state: CircuitState;
  /** Failures since the breaker last closed. */
  failureCount: number;
  /** The current run of failures without a success between them. */
  consecutiveFailures: number;
  lastFailureAt: string | null;
  lastStateChangeAt: string | null;
};

export type BreakerTransition = {
  serviceId: string;
  previousState: CircuitState;
  state: CircuitState;
  at: string;
  reason: string;
  /** Made by an operator (reset, isolate), not by calls. */
  byOperator: boolean;
  breaker: CircuitBreakerSnapshot;
};

/** A transition as published to every replica; `origin` is the process that made it. */
export type BreakerChange = BreakerTransition & { origin: string };

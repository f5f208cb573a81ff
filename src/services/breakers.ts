export const circuitStates = ["CLOSED", "OPEN", "HALF_OPEN", "ISOLATED"] as const;
export type CircuitState = (typeof circuitStates)[number];

export type BreakerSettings = {
  failureThreshold: number;
  resetTimeoutMs: number;
  halfOpenMaxCalls: number;
};

export type CircuitBreakerSnapshot = BreakerSettings & {
  serviceId: string;
  state: CircuitState;
  failureCount: number;
  consecutiveFailures: number;
  lastFailureAt: string | null;
  lastStateChangeAt: string | null;
};

export const defaultBreakerSettings: BreakerSettings = {
  failureThreshold: 5,
  resetTimeoutMs: 30_000,
  halfOpenMaxCalls: 3,
};

/**
 * Breaker state per service instance. The gateway makes no calls to services yet, so
 * every breaker is CLOSED with no failures; the circuit-broken client records real ones.
 */
export function createBreakers(settings: BreakerSettings = defaultBreakerSettings) {
  return {
    forService(serviceId: string): CircuitBreakerSnapshot {
      return {
        ...settings,
        serviceId,
        state: "CLOSED",
        failureCount: 0,
        consecutiveFailures: 0,
        lastFailureAt: null,
        lastStateChangeAt: null,
      };
    },
  };
}

export type Breakers = ReturnType<typeof createBreakers>;

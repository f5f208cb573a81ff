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
 * Breaker state per service instance. Nothing in the gateway calls registered services
 * yet, so no breaker has seen a failure: each reads CLOSED with its settings. Calls
 * through the gateway (a later capability) will record failures and trip them.
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

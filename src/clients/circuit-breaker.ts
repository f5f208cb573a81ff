import { BrokenCircuitError } from "cockatiel";
import type {
  BreakerSettings,
  BreakerTransition,
  CircuitBreakerSnapshot,
  CircuitState,
} from "../domain/breaker.js";

/** A transition to adopt: the breaker it left, and whether an operator made it. */
export type AdoptedChange = { breaker: CircuitBreakerSnapshot; byOperator: boolean };

/** How a call was let through; its outcome is reported back with it. */
export type Permit = { readonly trial: boolean; readonly generation: number };

/**
 * A call refused by a breaker, in microseconds and without touching the service. It is a
 * cockatiel BrokenCircuitError so that no retry policy ever waits on it.
 */
export class CircuitOpenError extends BrokenCircuitError {
  constructor(
    readonly serviceId: string,
    readonly state: CircuitState,
    /** When trial calls may start; null while isolated or while trials are under way. */
    readonly retryAfterMs: number | null,
  ) {
    super(refusalMessage(serviceId, state));
    this.name = "CircuitOpenError";
  }
}

/** Why a breaker refuses calls, in words for the caller. */
export function refusalMessage(serviceId: string, state: CircuitState): string {
  return state === "ISOLATED"
    ? `The circuit breaker of ${serviceId} is isolated by an operator.`
    : state === "HALF_OPEN"
      ? `The circuit breaker of ${serviceId} is half-open and its trial calls are under way.`
      : `The circuit breaker of ${serviceId} is open after repeated failures.`;
}

/** A refusal known without waiting: the state, and when trial calls may start. */
export type Refusal = { state: CircuitState; retryAfterMs: number | null };

/** What a breaker needs from around it: the clock, the trial lease and a listener. */
export type BreakerHost = {
  now(): number;
  /**
   * Asks for the right to send trial calls; one replica holds it at a time. It is kept
   * after the trials (until it lapses): a replica that has not yet heard they closed the
   * breaker would otherwise take it and start a needless half-open round of its own.
   */
  acquireTrial(serviceId: string): Promise<boolean>;
  /** How long a granted trial lease lasts. */
  trialLeaseMs: number;
  changed(transition: BreakerTransition): void;
};

/** After a refused trial lease, calls are refused locally this long before asking again. */
const LEASE_RETRY_MS = 1000;

/**
 * The circuit breaker of one service instance.
 *
 * CLOSED counts consecutive failures and opens at `failureThreshold`. OPEN refuses every
 * call until `resetTimeoutMs` has passed since it opened; the next call then asks for the
 * trial lease. The replica that gets it goes HALF_OPEN and lets up to `halfOpenMaxCalls`
 * trial calls through: that many successes close it, any failure opens it again. A trial
 * call that ends in neither (cancelled) gives its slot back, so a breaker never sticks
 * half-open. ISOLATED refuses everything until an operator resets it.
 *
 * The checks on the call path are synchronous; only asking for the trial lease waits.
 */
export class InstanceBreaker {
  state: CircuitState = "CLOSED";
  failureCount = 0;
  consecutiveFailures = 0;
  lastFailureAt: number | null = null;
  lastStateChangeAt: number | null = null;
  /** Bumped on every transition: outcomes of calls let through before it are ignored. */
  private generation = 0;
  /** Set while this replica holds the trial lease (until `leaseUntil`, renewed as it goes). */
  private trial: { admitted: number; succeeded: number; leaseUntil: number } | null = null;
  private leaseRequest: Promise<void> | null = null;
  private nextLeaseRequestAt = 0;
  /** When the last operator action known (here or on a replica) was made. */
  private operatorAt = 0;

  constructor(
    readonly serviceId: string,
    readonly settings: BreakerSettings,
    private readonly host: BreakerHost,
  ) {}

  /** Lets a call through, or throws CircuitOpenError. */
  admit(): Permit | Promise<Permit> {
    if (this.state === "CLOSED") return { trial: false, generation: this.generation };
    const refusal = this.refusesNow();
    if (refusal) throw new CircuitOpenError(this.serviceId, refusal.state, refusal.retryAfterMs);
    return this.admitTrial();
  }

  /**
   * The refusal a call now would get without waiting on anything, or null: ISOLATED;
   * OPEN before the reset timeout; half-open with every trial slot taken, or while
   * another replica holds the trial lease.
   */
  refusesNow(): Refusal | null {
    const state = this.state;
    switch (state) {
      case "CLOSED":
        return null;
      case "ISOLATED":
        return { state, retryAfterMs: null };
      case "OPEN":
      case "HALF_OPEN": {
        const now = this.host.now();
        const trialsFrom = (this.lastStateChangeAt ?? 0) + this.settings.resetTimeoutMs;
        if (state === "OPEN" && now < trialsFrom) return { state, retryAfterMs: trialsFrom - now };
        if (this.trial) {
          return this.trial.admitted < this.settings.halfOpenMaxCalls
            ? null
            : { state, retryAfterMs: null };
        }
        return now < this.nextLeaseRequestAt ? { state, retryAfterMs: null } : null;
      }
    }
  }

  /** True when a call now could be let through (OPEN and ISOLATED are skipped by discovery). */
  isCallable(): boolean {
    return this.refusesNow() === null;
  }

  succeeded(permit: Permit): void {
    if (permit.generation !== this.generation) return;
    if (this.state === "CLOSED") {
      this.consecutiveFailures = 0;
      return;
    }
    if (permit.trial && this.trial) {
      this.consecutiveFailures = 0;
      this.trial.succeeded += 1;
      if (this.trial.succeeded >= this.settings.halfOpenMaxCalls) {
        this.transition("CLOSED", `${this.trial.succeeded} trial calls succeeded`);
      }
    }
  }

  failed(permit: Permit, reason: string): void {
    if (permit.generation !== this.generation) return;
    this.lastFailureAt = this.host.now();
    this.failureCount += 1;
    this.consecutiveFailures += 1;
    if (this.state === "CLOSED" && this.consecutiveFailures >= this.settings.failureThreshold) {
      this.transition("OPEN", `${this.consecutiveFailures} consecutive failures; last: ${reason}`);
    } else if (this.state === "HALF_OPEN" && permit.trial) {
      this.transition("OPEN", `trial call failed: ${reason}`);
    }
  }

  /** The call ended in neither success nor failure (it was cancelled): its slot is free. */
  released(permit: Permit): void {
    if (permit.trial && this.trial && permit.generation === this.generation) {
      this.trial.admitted -= 1;
    }
  }

  /**
   * Closes the breaker and clears its counts. Operator actions are always published, even
   * when the state does not change, so every replica ends up with the latest of them.
   */
  reset(reason: string): void {
    this.transition("CLOSED", reason, true);
  }

  isolate(reason: string): void {
    this.transition("ISOLATED", reason, true);
  }

  /**
   * Adopts a transition another replica made (or one recorded, at start and on resync).
   * Operator actions are ordered among themselves by when they were made, so the last
   * reset or isolate wins on every replica, whatever else happened locally. A transition
   * made by calls is adopted when it is newer than this breaker's last change, and never
   * while the breaker is ISOLATED or when an operator acted after it. Trial calls of this
   * replica no longer count once a change is adopted.
   */
  adopt({ breaker: snapshot, byOperator }: AdoptedChange): boolean {
    const changedAt = snapshot.lastStateChangeAt ? Date.parse(snapshot.lastStateChangeAt) : 0;
    if (byOperator) {
      if (changedAt <= this.operatorAt) return false;
      this.operatorAt = changedAt;
    } else {
      const localAt = this.lastStateChangeAt ?? 0;
      if (this.state === "ISOLATED" || changedAt < this.operatorAt) return false;
      if (changedAt < localAt || (changedAt === localAt && snapshot.state === this.state)) {
        return false;
      }
    }
    this.state = snapshot.state;
    this.failureCount = snapshot.failureCount;
    this.consecutiveFailures = snapshot.consecutiveFailures;
    this.lastFailureAt = snapshot.lastFailureAt ? Date.parse(snapshot.lastFailureAt) : null;
    this.lastStateChangeAt = changedAt;
    this.generation += 1;
    this.trial = null;
    return true;
  }

  snapshot(): CircuitBreakerSnapshot {
    return {
      ...this.settings,
      serviceId: this.serviceId,
      state: this.state,
      failureCount: this.failureCount,
      consecutiveFailures: this.consecutiveFailures,
      lastFailureAt: isoOrNull(this.lastFailureAt),
      lastStateChangeAt: isoOrNull(this.lastStateChangeAt),
    };
  }

  private admitTrial(): Permit | Promise<Permit> {
    if (this.trial && this.host.now() < this.trial.leaseUntil) return this.takeTrialSlot();
    // A lease that lapsed locally is asked for again before another trial call is sent.
    this.trial = null;
    this.leaseRequest ??= this.host
      .acquireTrial(this.serviceId)
      .then((granted) => {
        if (!granted) {
          this.nextLeaseRequestAt = this.host.now() + LEASE_RETRY_MS;
          return;
        }
        // The state may have moved while the lease was asked for: a reset, a replica, or
        // a trial that reopened it (whose reset timeout then starts again).
        const trialsFrom = (this.lastStateChangeAt ?? 0) + this.settings.resetTimeoutMs;
        const leaseUntil = this.host.now() + this.host.trialLeaseMs;
        if (this.state === "OPEN" && this.host.now() >= trialsFrom) {
          this.transition("HALF_OPEN", "reset timeout elapsed");
          this.trial = { admitted: 0, succeeded: 0, leaseUntil };
        } else if (this.state === "HALF_OPEN") {
          this.trial = { admitted: 0, succeeded: 0, leaseUntil };
        }
      })
      .finally(() => {
        this.leaseRequest = null;
      });
    return this.leaseRequest.then(() => this.afterLeaseRequest());
  }

  /** A call that waited for the trial lease goes as the breaker now stands. */
  private afterLeaseRequest(): Permit {
    if (this.state === "CLOSED") return { trial: false, generation: this.generation };
    if (this.trial) return this.takeTrialSlot();
    const refusal = this.refusesNow();
    throw new CircuitOpenError(this.serviceId, this.state, refusal?.retryAfterMs ?? null);
  }

  private takeTrialSlot(): Permit {
    const trial = this.trial;
    if (!trial || trial.admitted >= this.settings.halfOpenMaxCalls) {
      throw new CircuitOpenError(this.serviceId, this.state, null);
    }
    trial.admitted += 1;
    // Renewed with every later trial call, however slowly they come (a lapsed one is asked
    // for again before the call, in admitTrial); if another replica took it meanwhile, the
    // trials are theirs now.
    if (trial.admitted > 1) {
      const asked = this.host.now();
      void this.host
        .acquireTrial(this.serviceId)
        .catch(() => false)
        .then((granted) => {
          if (this.trial !== trial) return;
          if (granted) {
            trial.leaseUntil = asked + this.host.trialLeaseMs;
          } else {
            this.trial = null;
            this.nextLeaseRequestAt = this.host.now() + LEASE_RETRY_MS;
          }
        });
    }
    return { trial: true, generation: this.generation };
  }

  private transition(state: CircuitState, reason: string, byOperator = false): void {
    const previousState = this.state;
    const at = this.host.now();
    if (byOperator) this.operatorAt = at;
    this.state = state;
    this.lastStateChangeAt = at;
    this.generation += 1;
    if (state === "CLOSED") {
      this.failureCount = 0;
      this.consecutiveFailures = 0;
    }
    if (state !== "HALF_OPEN") this.trial = null;
    this.host.changed({
      serviceId: this.serviceId,
      previousState,
      state,
      at: new Date(at).toISOString(),
      reason,
      byOperator,
      breaker: this.snapshot(),
    });
  }
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

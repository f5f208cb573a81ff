import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { type BreakerHost, InstanceBreaker } from "../clients/circuit-breaker.js";
import type { BreakerRepository, RecordedBreaker } from "../db/breakers.js";
import {
  type BreakerSettings,
  type BreakerTransition,
  type CircuitBreakerSnapshot,
  type CircuitState,
  defaultBreakerSettings,
} from "../domain/breaker.js";
import { notFound } from "../domain/errors.js";
import type { Events } from "../events.js";
import { systemClock } from "../lib/clock.js";
import { every } from "../lib/interval-loop.js";
import { createWriteBehind } from "../lib/write-behind.js";
import type { LeaseStore } from "../stores/lease.js";

export type BreakersDeps = {
  settings?: BreakerSettings;
  events: Events;
  leases: LeaseStore;
  repository: BreakerRepository;
  log: Logger;
  now?: () => number;
  /**
   * How long a replica keeps the right to send trial calls; if it dies half-open,
   * another takes over after this. Default 10,000 ms.
   */
  trialLeaseMs?: number;
  /** How often transitions missed over pub/sub are read from the database. Default 10,000 ms. */
  resyncIntervalMs?: number;
  /** Whether a service is registered: breakers are only reset or isolated for those. */
  isRegistered: (serviceId: string) => Promise<boolean>;
  /** Every registered instance: each has a breaker, CLOSED until calls say otherwise. */
  registeredIds: () => Promise<string[]>;
  /** Told when an instance is unregistered, after its breaker is dropped. */
  onUnregistered?: (serviceId: string) => void;
};

/** Writes that failed are held and retried this often. */
const RETRY_WRITES_MS = 2000;
/** Transitions held while the database is away; the oldest go first beyond this. */
const MAX_PENDING_WRITES = 10_000;
/** A replica may write a transition this long after it happened (write-behind, retries). */
const RESYNC_OVERLAP_MS = 30_000;

/**
 * One circuit breaker per service instance, shared by the replicas: a transition made
 * here is published (Redis pub/sub when configured) and adopted by every other replica,
 * only the holder of a lease sends half-open trial calls, and every transition is
 * recorded in circuit_breaker_events, from which a (re)started replica takes the last
 * state of each breaker. Counting failures stays local, so a call costs no round trip.
 */
export function createBreakers({
  settings = defaultBreakerSettings,
  events,
  leases,
  repository,
  log,
  now = () => systemClock.now(),
  trialLeaseMs = 10_000,
  resyncIntervalMs = 10_000,
  isRegistered,
  registeredIds,
  onUnregistered = () => {},
}: BreakersDeps) {
  const processId = randomUUID();
  const breakers = new Map<string, InstanceBreaker>();
  const leaseName = (serviceId: string) => `breaker-trial:${serviceId}`;
  let lastResyncAt = new Date(now()).toISOString();
  const subscriptions: AsyncIterator<unknown>[] = [];

  // Recorded behind the call path: a call never waits on the database.
  const writer = createWriteBehind<BreakerTransition>({
    write: (transitions) => repository.record(transitions),
    name: "circuit breaker transitions",
    log,
    maxHeld: MAX_PENDING_WRITES,
    retryIntervalMs: RETRY_WRITES_MS,
  });

  /** Instances whose trial lease this process has taken, to give back at shutdown. */
  const trialLeases = new Set<string>();

  const host: BreakerHost = {
    now,
    trialLeaseMs,
    acquireTrial: async (serviceId) => {
      try {
        const granted = await leases.acquire(leaseName(serviceId), processId, trialLeaseMs);
        if (granted) trialLeases.add(serviceId);
        return granted;
      } catch (error) {
        // Without the lease store no replica can coordinate; calling the service beats
        // refusing it until the store returns.
        log.warn({ err: error, serviceId }, "trial lease unavailable; sending trial calls anyway");
        return true;
      }
    },
    changed: (transition) => {
      log.info(
        {
          serviceId: transition.serviceId,
          from: transition.previousState,
          to: transition.state,
          reason: transition.reason,
        },
        "circuit breaker changed",
      );
      events.publish("breaker.changed", { ...transition, origin: processId });
      writer.add(transition);
    },
  };

  function breakerOf(serviceId: string): InstanceBreaker {
    let breaker = breakers.get(serviceId);
    if (!breaker) {
      breaker = new InstanceBreaker(serviceId, settings, host);
      breakers.set(serviceId, breaker);
    }
    return breaker;
  }

  /** The breaker of an instance as it stands; CLOSED for one never called. */
  function forService(serviceId: string): CircuitBreakerSnapshot {
    return (
      breakers.get(serviceId)?.snapshot() ?? {
        ...settings,
        serviceId,
        state: "CLOSED",
        failureCount: 0,
        consecutiveFailures: 0,
        lastFailureAt: null,
        lastStateChangeAt: null,
      }
    );
  }

  /** Recorded transitions of instances still registered (ids unregistered since are left). */
  async function adoptRecorded(recorded: RecordedBreaker[]): Promise<void> {
    if (recorded.length === 0) return;
    const registered = new Set(await registeredIds());
    for (const change of recorded) {
      if (registered.has(change.breaker.serviceId)) {
        breakerOf(change.breaker.serviceId).adopt(change);
      }
    }
  }

  async function resync(): Promise<void> {
    const from = new Date(Date.parse(lastResyncAt) - RESYNC_OVERLAP_MS).toISOString();
    const startedAt = new Date(now()).toISOString();
    await adoptRecorded(await repository.since(from, settings));
    lastResyncAt = startedAt;
  }
  const resyncLoop = every(resyncIntervalMs, resync, { log, name: "circuit breaker resync" });

  function follow<T>(stream: AsyncIterable<T>, apply: (item: T) => void): void {
    const iterator = stream[Symbol.asyncIterator]();
    subscriptions.push(iterator);
    void (async () => {
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
        try {
          apply(next.value);
        } catch (error) {
          log.error({ err: error }, "circuit breaker event not applied");
        }
      }
    })();
  }

  async function assertRegistered(serviceId: string): Promise<void> {
    if (!(await isRegistered(serviceId))) throw notFound(`Service ${serviceId} is not registered.`);
  }

  return {
    forService,

    /** The breakers of every registered instance, by id; narrowed to `states` when given. */
    async list(states?: readonly CircuitState[] | null): Promise<CircuitBreakerSnapshot[]> {
      const ids = (await registeredIds()).sort();
      const all = ids.map(forService);
      return states?.length ? all.filter((breaker) => states.includes(breaker.state)) : all;
    },

    /** The breaker calls to an instance go through. */
    of: breakerOf,

    /** False while the breaker is OPEN (before trial calls are due) or ISOLATED. */
    isCallable(serviceId: string): boolean {
      return breakers.get(serviceId)?.isCallable() ?? true;
    },

    /** Closes the breaker and clears its counts, on every replica. */
    async reset(serviceId: string): Promise<CircuitBreakerSnapshot> {
      await assertRegistered(serviceId);
      const breaker = breakerOf(serviceId);
      breaker.reset("reset by an operator");
      return breaker.snapshot();
    },

    /** Holds the breaker open (ISOLATED) on every replica until it is reset. */
    async isolate(serviceId: string): Promise<CircuitBreakerSnapshot> {
      await assertRegistered(serviceId);
      const breaker = breakerOf(serviceId);
      breaker.isolate("isolated by an operator");
      return breaker.snapshot();
    },

    /**
     * Takes the last recorded state of every breaker, then follows the other replicas'
     * transitions. A database that is down at start only costs the restore.
     */
    async start(): Promise<void> {
      follow(
        events.subscribe("breaker.changed", (change) => change.origin !== processId),
        (change) => {
          const known = breakers.get(change.serviceId);
          if (known) {
            known.adopt(change);
            return;
          }
          // Pub/sub channels are not ordered: a change may trail the unregistration.
          isRegistered(change.serviceId)
            .then((registered) => {
              if (registered) breakerOf(change.serviceId).adopt(change);
            })
            .catch((error: unknown) => log.warn({ err: error }, "breaker change not applied"));
        },
      );
      follow(
        events.subscribe("registry.changed", (event) => event.change === "UNREGISTERED"),
        (event) => {
          breakers.delete(event.service.id);
          onUnregistered(event.service.id);
        },
      );
      try {
        await adoptRecorded(await repository.latest(settings));
      } catch (error) {
        log.warn({ err: error }, "circuit breakers not restored from the database");
      }
      writer.start();
      resyncLoop.start();
    },

    async stop(): Promise<void> {
      await resyncLoop.stop();
      await Promise.all(subscriptions.map((iterator) => iterator.return?.()));
      await writer.stop();
      await Promise.all(
        [...trialLeases].map((serviceId) =>
          leases.release(leaseName(serviceId), processId).catch(() => {}),
        ),
      );
    },
  };
}

export type Breakers = ReturnType<typeof createBreakers>;

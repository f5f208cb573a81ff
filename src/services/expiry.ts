import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { CALLABLE_STATUSES, heartbeatOverdue } from "../domain/status.js";
import { systemClock } from "../lib/clock.js";
import { every } from "../lib/interval-loop.js";
import type { LeaseStore } from "../stores/lease.js";
import type { RegistryStore } from "../stores/registry.js";
import type { Registry } from "./registry.js";

export type ExpiryOptions = {
  store: RegistryStore;
  registry: Registry;
  leases: LeaseStore;
  log: Logger;
  /** How often overdue heartbeats are looked for. Default 5,000 ms. */
  intervalMs?: number;
  now?: () => number;
};

export type SelfPreservation = {
  active: boolean;
  /** When expiry was last held, while it is. */
  since: string | null;
  /** How many services would have expired in the sweep that held it. */
  held: number;
};

/** Expiring at least this many, and more than half of the live services, holds expiry. */
const SELF_PRESERVATION_MINIMUM = 3;

/**
 * The heartbeat sweeper: services whose last heartbeat is older than their ttlSeconds go
 * OFFLINE ("heartbeat expired"). One replica sweeps at a time, holding a lease that
 * another takes over once it lapses (three intervals) when the holder dies.
 *
 * Self-preservation: when one sweep would expire more than half of the live services
 * (and at least three), the fault is far likelier on the gateway's side of the network
 * than in all those services at once, so expiry is held, and said so, until it passes.
 */
export function createExpirySweeper({
  store,
  registry,
  leases,
  log,
  intervalMs = 5000,
  now = () => systemClock.now(),
}: ExpiryOptions) {
  const holder = randomUUID();
  let preservation: SelfPreservation = { active: false, since: null, held: 0 };

  async function sweep(): Promise<{ leader: boolean; expired: number; held: number }> {
    if (!(await leases.acquire("heartbeat-sweeper", holder, intervalMs * 3))) {
      // The state is the sweeping replica's; one that no longer sweeps has none to report.
      preservation = { active: false, since: null, held: 0 };
      return { leader: false, expired: 0, held: 0 };
    }
    const live = await store.find({ statuses: CALLABLE_STATUSES });
    const at = now();
    const due = live.filter((service) => heartbeatOverdue(service, at));
    if (due.length >= SELF_PRESERVATION_MINIMUM && due.length * 2 > live.length) {
      if (!preservation.active) {
        log.warn(
          { due: due.length, live: live.length },
          "self-preservation: most services missed their heartbeats at once; expiry held",
        );
      }
      preservation = {
        active: true,
        since: preservation.since ?? new Date(at).toISOString(),
        held: due.length,
      };
      return { leader: true, expired: 0, held: due.length };
    }
    if (preservation.active) log.info("self-preservation over: heartbeats resumed");
    preservation = { active: false, since: null, held: 0 };
    let expired = 0;
    for (const service of due) {
      if (await registry.expire(service.id, service.lastHeartbeat)) expired += 1;
    }
    return { leader: true, expired, held: 0 };
  }

  const loop = every(intervalMs, sweep, { log, name: "heartbeat sweep" });

  return {
    sweep,
    selfPreservation: (): SelfPreservation => preservation,
    start: loop.start,
    async stop(): Promise<void> {
      await loop.stop();
      // Hand the lease over now rather than after it lapses.
      await leases.release("heartbeat-sweeper", holder).catch(() => {});
    },
  };
}

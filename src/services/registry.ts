import { randomUUID } from "node:crypto";
import DataLoader from "dataloader";
import type { AddressPolicy } from "../clients/address-guard.js";
import type { ProbeResult } from "../clients/health-probe.js";
import type { DurableWrite, RegistryRepository } from "../db/registry.js";
import { type Caller, mayRegisterType, permits } from "../domain/access.js";
import { badInput, GatewayError, notFound } from "../domain/errors.js";
import {
  HEALTH_CHECKS_KEPT,
  type HealthCheck,
  parseStatus,
  type RegistryChangeEvent,
  type RegistryChangeKind,
  type ServiceRecord,
  type ServiceStatus,
  type StatusChange,
} from "../domain/service.js";
import {
  healthCheckOf,
  heartbeatOverdue,
  type ProbeThresholds,
  probeReason,
  statusAfterExpiry,
  statusAfterProbe,
  statusOnRegistration,
} from "../domain/status.js";
import type { Telemetry } from "../domain/telemetry.js";
import type { Events } from "../events.js";
import { createBatcher } from "../lib/batcher.js";
import { systemClock } from "../lib/clock.js";
import { pageSize } from "../lib/page-size.js";
import type { RegistryStore, StoredService } from "../stores/registry.js";
import { assertMayChange, notOwner } from "./caller.js";
import type { HeartbeatRecorder } from "./heartbeat-recorder.js";
import { createRegistrationParser, parseServiceId } from "./registration-input.js";

export type RegistryDeps = {
  store: RegistryStore;
  /** The durable record (PostgreSQL or PGlite). */
  repository: RegistryRepository;
  heartbeats: HeartbeatRecorder;
  events: Events;
  /** Counts the heartbeats answered. */
  telemetry: Pick<Telemetry, "heartbeat">;
  maxPageSize: number;
  /** The hosts registrations may name, as far as is known before DNS. */
  addressPolicy: Pick<AddressPolicy, "forbiddenHost">;
  now?: () => Date;
};

/** Optimistic writes retry this often when another writer got there first. */
const MAX_WRITE_ATTEMPTS = 5;

/** Registry changes kept for clients that reconnect and catch up. */
const CHANGES_KEPT = 10_000;

/**
 * Registration, heartbeats and manual status changes. Registrations, status changes
 * and unregistering are written to the database first (the source of truth), then to
 * the live store under its version check. Heartbeats change the live store first (the
 * hot path) and reach the database behind it. Every change publishes one registry
 * event, every status transition one status event and one history row.
 */
export function createRegistry({
  store,
  repository,
  heartbeats,
  events,
  telemetry,
  maxPageSize,
  addressPolicy,
  now = () => new Date(systemClock.now()),
}: RegistryDeps) {
  const timestamp = () => now().toISOString();
  // The body stays on Service.health only: a ring of bodies would cost the live store
  // up to HEALTH_CHECKS_KEPT copies of whatever a health endpoint answers.
  const keepInRing = (check: HealthCheck) =>
    store.appendHealthCheck({ ...check, body: null }, HEALTH_CHECKS_KEPT);
  const parseRegistration = createRegistrationParser(addressPolicy);
  // Concurrent registrations and status changes share one transaction (group commit).
  const saveDurably = createBatcher<DurableWrite>((writes) => repository.saveMany(writes));
  // Concurrent look-ups of durable records go out as one query; no cache, as rows change.
  const durableRecords = new DataLoader<string, ServiceRecord | null>(
    (ids) => repository.getMany(ids),
    { cache: false },
  );

  const transition = (
    service: ServiceRecord,
    previousStatus: ServiceStatus | null,
    reason: string,
    at: string = timestamp(),
  ): StatusChange | null =>
    previousStatus === service.status
      ? null
      : { service, previousStatus, status: service.status, reason, at };

  /** Keeps the change for catching up, then tells subscribers. */
  const publish = async (
    kind: RegistryChangeKind,
    service: ServiceRecord,
    revision: number,
    change: StatusChange | null,
  ) => {
    const event = { change: kind, service, revision, at: timestamp() };
    // A change that could not be kept shows as a gap in registryChanges, and the client
    // is told to resync; the change itself has happened, so this never fails it.
    await store.appendChange(event, CHANGES_KEPT).catch(() => {});
    events.publish("registry.changed", event);
    if (change) events.publish("service.statusChanged", change);
  };

  /**
   * Read-modify-write: the database gets the new record, then the live store takes it
   * only if nobody changed the service meanwhile; otherwise both are written again from
   * what is there now, so neither keeps a stale write. The transition keeps one time
   * across attempts, so a retried write records it once.
   */
  async function update(
    id: string,
    next: (current: ServiceRecord | null) => { record: ServiceRecord; reason: string },
    { durableWhenMissing = false }: { durableWhenMissing?: boolean } = {},
  ) {
    const at = timestamp();
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      const current = await store.get(id);
      const base = current?.record ?? (durableWhenMissing ? await durableRecords.load(id) : null);
      const { record, reason } = next(base);
      const change = transition(record, base?.status ?? null, reason, at);
      await saveDurably({ record, change });
      const result = await store.put(record, current?.version ?? null);
      if (result.ok) return { previous: base, record, revision: result.revision, change };
    }
    throw tooFast(id);
  }

  async function getOrThrow(id: string): Promise<StoredService> {
    const current = await store.get(id);
    if (!current) throw notFound(`Service ${id} is not registered.`);
    return current;
  }

  return {
    /** Upsert by id. Re-registering keeps registeredAt, and MAINTENANCE set by an operator. */
    async register(input: Record<string, unknown>, caller: Caller): Promise<ServiceRecord> {
      const registration = parseRegistration(input);
      if (!mayRegisterType(caller, registration.type)) {
        throw new GatewayError(
          "FORBIDDEN",
          `This token may register services of type ${caller.serviceTypes?.join(", ")} only, not ${registration.type}.`,
          { type: registration.type },
        );
      }
      const id = registration.id ?? randomUUID();
      const at = timestamp();
      // Ownership, registeredAt and MAINTENANCE come from the durable record when the
      // live store does not hold the id: what it lost (a flush) must not hand the id
      // to the next token that asks.
      const registered = await update(
        id,
        (existing) => {
          if (existing) assertMayChange(existing.owner, caller, id);
          const sameProbeTarget = existing?.healthCheckUrl === registration.healthCheckUrl;
          return {
            reason: existing ? "re-registered" : "registered",
            record: {
              ...registration,
              id,
              owner: existing ? existing.owner : caller.ownerKey,
              status: statusOnRegistration(existing?.status ?? null),
              lastHeartbeat: at,
              registeredAt: existing?.registeredAt ?? at,
              updatedAt: at,
              health: sameProbeTarget ? (existing?.health ?? null) : null,
            },
          };
        },
        { durableWhenMissing: true },
      );
      const { previous, record, revision, change } = registered;
      await publish(previous ? "UPDATED" : "REGISTERED", record, revision, change);
      return record;
    },

    /** Idempotent: false when the id was not registered. History rows are kept. */
    async unregister(id: string, caller: Caller): Promise<boolean> {
      parseServiceId(id);
      // Removes only the version whose owner was checked: if the id was re-registered by
      // someone else in between, the check runs again on what is stored now.
      for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
        const current = await store.get(id);
        if (!current) return false;
        assertMayChange(current.record.owner, caller, id);
        const gone: ServiceRecord = { ...current.record, status: "OFFLINE" };
        const change: StatusChange = {
          service: gone,
          previousStatus: current.record.status,
          status: "OFFLINE",
          reason: "unregistered",
          at: timestamp(),
        };
        // A newer write in the database: re-read the live store and decide again.
        if ((await repository.remove(id, current.record.updatedAt, change)) === "changed") continue;
        const result = await store.remove(id, current.version);
        if (result.ok) {
          await publish("UNREGISTERED", result.removed, result.revision, change);
          return true;
        }
        if (result.reason === "not_found") return false;
      }
      throw tooFast(id);
    },

    /**
     * Refreshes lastHeartbeat; an OFFLINE service comes back ONLINE unless it reports a
     * status. The hot path: one live-store round trip; the database follows behind.
     */
    async heartbeat(id: string, status: string | null, caller: Caller): Promise<ServiceRecord> {
      parseServiceId(id);
      const reported = status === null ? null : parseStatus(status, "status");
      const at = timestamp();
      const result = await store.heartbeat({
        id,
        at,
        status: reported,
        callerOwner: caller.ownerKey,
        callerIsAdmin: permits(caller, "overrideOwnership"),
        unownedIsOpen: caller.mode === "open",
      });
      telemetry.heartbeat(result.outcome);
      if (result.outcome === "not_found") throw notFound(`Service ${id} is not registered.`);
      if (result.outcome === "forbidden") throw notOwner(id);
      heartbeats.recordBeat(id, at);
      if (result.revision !== null) {
        const reason = reported ? "reported by heartbeat" : "heartbeat resumed";
        const change = transition(result.record, result.previousStatus, reason, at);
        if (change) await heartbeats.writeTransition(change);
        await publish("UPDATED", result.record, result.revision, change);
      }
      return result.record;
    },

    /** Sets a status by hand, e.g. MAINTENANCE, which probes and expiry never override. */
    async updateStatus(id: string, status: string, caller: Caller): Promise<ServiceRecord> {
      const next = parseStatus(status, "status");
      const current = await getOrThrow(parseServiceId(id));
      // An operator sets the status of any service; anyone else, of the ids they own.
      const anyService = permits(caller, "changeAnyStatus");
      if (!anyService) assertMayChange(current.record.owner, caller, id);
      if (current.record.status === next) return current.record;
      const { record, revision, change } = await update(id, (latest) => {
        if (!latest) throw notFound(`Service ${id} is not registered.`);
        if (!anyService) assertMayChange(latest.owner, caller, id);
        return {
          reason: "set manually",
          record: { ...latest, status: next, updatedAt: timestamp() },
        };
      });
      await publish("UPDATED", record, revision, change);
      return record;
    },

    /**
     * Takes a service whose heartbeat is overdue OFFLINE, unless it heartbeated (or
     * changed at all) since `seenHeartbeat` was read. Like a heartbeat's, this change is
     * the system's: the live store first, the database right behind it.
     */
    async expire(id: string, seenHeartbeat: string): Promise<boolean> {
      const current = await store.get(id);
      const before = current?.record;
      if (!current || !before || before.lastHeartbeat !== seenHeartbeat) return false;
      const status = statusAfterExpiry(before.status);
      if (!status) return false;
      const record: ServiceRecord = { ...before, status };
      const result = await store.put(record, current.version);
      if (!result.ok) return false;
      const change = transition(record, before.status, "heartbeat expired");
      if (change) await heartbeats.writeTransition(change);
      await publish("UPDATED", record, result.revision, change);
      return true;
    },

    /**
     * Keeps a probe's result and applies what it means for the status (statusAfterProbe).
     * Null when the service is gone.
     */
    async applyProbe(
      id: string,
      result: ProbeResult,
      thresholds: ProbeThresholds,
    ): Promise<HealthCheck | null> {
      for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
        const current = await store.get(id);
        if (!current) return null;
        const before = current.record;
        const previous = before.health;
        const check: HealthCheck = {
          serviceId: id,
          ...healthCheckOf(result.verdict, previous),
          reachable: result.reachable,
          httpStatus: result.httpStatus,
          latencyMs: result.latencyMs,
          checkedAt: timestamp(),
          error: result.error,
          body: result.body,
        };
        const heartbeatFresh = !heartbeatOverdue(before, now().getTime());
        const status = statusAfterProbe(before.status, check, heartbeatFresh, thresholds);
        if (status === before.status) {
          // Under the version read above, so a probe racing another one (or a
          // re-registration that cleared the health) is decided again, not lost.
          const saved = await store.saveHealth(check, current.version);
          if (saved === "conflict") continue;
          if (saved === "missing") return null;
          await keepInRing(check);
          return check;
        }
        const record: ServiceRecord = { ...before, status, health: check };
        const put = await store.put(record, current.version);
        if (!put.ok) continue;
        await keepInRing(check);
        const change = transition(record, before.status, probeReason(check));
        if (change) await heartbeats.writeTransition(change);
        await publish("UPDATED", record, put.revision, change);
        return check;
      }
      throw tooFast(id);
    },

    /**
     * What changed after `sinceRevision`, oldest first, for a client that reconnects.
     * When the kept changes no longer reach back that far, or have a gap (a restore,
     * a change that could not be kept), the client is told to resync instead: to read
     * the registry again and continue from `revision`.
     */
    async changesSince(
      sinceRevision: number,
      first: number | null | undefined,
    ): Promise<RegistryChanges> {
      if (!Number.isInteger(sinceRevision) || sinceRevision < 0) {
        throw badInput("sinceRevision", "must be a revision, 0 or more");
      }
      const size = pageSize(first, { fallback: 500, min: 1, max: maxPageSize });
      const [kept, revision] = await Promise.all([
        store.changesSince(sinceRevision, size + 1),
        store.revision(),
      ]);
      const page = kept.events.slice(0, size);
      let resyncRequired =
        sinceRevision > revision ||
        (sinceRevision < revision &&
          (kept.oldestKept === null || kept.oldestKept > sinceRevision + 1));
      let expected = sinceRevision + 1;
      for (const event of page) {
        if (event.revision !== expected) resyncRequired = true;
        expected = event.revision + 1;
      }
      if (resyncRequired) return { events: [], revision, resyncRequired, hasMore: false };
      // The revision reached is the last change returned: a change counted but not yet
      // kept (its append still on its way) is then asked for again, not skipped.
      return {
        events: page,
        revision: page.at(-1)?.revision ?? sinceRevision,
        resyncRequired,
        hasMore: kept.events.length > size,
      };
    },

    /**
     * The service's last probe results, newest first (HEALTH_CHECKS_KEPT at most, without
     * their bodies); none once it is unregistered.
     */
    async recentHealthChecks(id: string, first?: number | null): Promise<HealthCheck[]> {
      const size = pageSize(first, { fallback: 10, min: 0, max: HEALTH_CHECKS_KEPT });
      return store.recentHealthChecks(id, size);
    },

    /** Status transitions of a service, newest first; kept after it is unregistered. */
    async history(
      id: string,
      { since, first }: { since?: Date | string | null; first?: number | null },
    ): Promise<StatusChange[]> {
      parseServiceId(id);
      const size = pageSize(first, { fallback: 50, min: 0, max: maxPageSize });
      const from = since == null ? null : new Date(since).toISOString();
      return repository.history(id, { since: from, first: size });
    },
  };
}

export type Registry = ReturnType<typeof createRegistry>;

export type RegistryChanges = {
  events: RegistryChangeEvent[];
  revision: number;
  resyncRequired: boolean;
  hasMore: boolean;
};

function tooFast(id: string): GatewayError {
  return new GatewayError("CONFLICT", `Service ${id} is changing too fast to update; retry.`, {
    serviceId: id,
  });
}

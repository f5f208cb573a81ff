import { randomUUID } from "node:crypto";
import { GatewayError, notFound } from "../errors.js";
import type { Events } from "../events.js";
import type { RegistryStore, StoredService } from "../stores/registry.js";
import { assertMayChange, type Caller, notOwner } from "./caller.js";
import type { RegistryChangeKind, ServiceRecord, ServiceStatus } from "./model.js";
import { parseRegistration, parseServiceId } from "./registration-input.js";
import { parseStatus } from "./status.js";

export type RegistryDeps = {
  store: RegistryStore;
  events: Events;
  now?: () => Date;
};

/** Optimistic writes retry this often when another writer got there first. */
const MAX_WRITE_ATTEMPTS = 5;

/**
 * Registration, heartbeats and manual status changes. Every change publishes one
 * registry event, and every status transition one status event.
 */
export function createRegistry({ store, events, now = () => new Date() }: RegistryDeps) {
  const timestamp = () => now().toISOString();

  const publishChange = (change: RegistryChangeKind, service: ServiceRecord, revision: number) => {
    events.publish("registry.changed", { change, service, revision, at: timestamp() });
  };

  const publishStatus = (
    service: ServiceRecord,
    previousStatus: ServiceStatus | null,
    reason: string,
  ) => {
    if (previousStatus === service.status) return;
    events.publish("service.statusChanged", {
      service,
      previousStatus,
      status: service.status,
      reason,
      at: timestamp(),
    });
  };

  /**
   * Read-modify-write with the store's version check, so a concurrent heartbeat or
   * status change is never overwritten with stale data.
   */
  async function update(
    id: string,
    change: (current: StoredService | null) => ServiceRecord,
  ): Promise<{ previous: ServiceRecord | null; record: ServiceRecord; revision: number }> {
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      const current = await store.get(id);
      const record = change(current);
      const result = await store.put(record, current?.version ?? null);
      if (result.ok)
        return { previous: current?.record ?? null, record, revision: result.revision };
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
      const id = registration.id ?? randomUUID();
      const at = timestamp();
      const { previous, record, revision } = await update(id, (current) => {
        const existing = current?.record;
        if (existing) assertMayChange(existing.owner, caller, id);
        const sameProbeTarget = existing?.healthCheckUrl === registration.healthCheckUrl;
        return {
          ...registration,
          id,
          owner: existing ? existing.owner : caller.ownerKey,
          status: existing?.status === "MAINTENANCE" ? "MAINTENANCE" : "ONLINE",
          lastHeartbeat: at,
          registeredAt: existing?.registeredAt ?? at,
          updatedAt: at,
          health: sameProbeTarget ? (existing?.health ?? null) : null,
        };
      });
      publishChange(previous ? "UPDATED" : "REGISTERED", record, revision);
      publishStatus(record, previous?.status ?? null, previous ? "re-registered" : "registered");
      return record;
    },

    /** Idempotent: false when the id was not registered. */
    async unregister(id: string, caller: Caller): Promise<boolean> {
      parseServiceId(id);
      // Removes only the version whose owner was checked: if the id was re-registered by
      // someone else in between, the check runs again on what is stored now.
      for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
        const current = await store.get(id);
        if (!current) return false;
        assertMayChange(current.record.owner, caller, id);
        const result = await store.remove(id, current.version);
        if (result.ok) {
          publishChange("UNREGISTERED", result.removed, result.revision);
          return true;
        }
        if (result.reason === "not_found") return false;
      }
      throw tooFast(id);
    },

    /** Refreshes lastHeartbeat; an OFFLINE service comes back ONLINE unless it reports a status. */
    async heartbeat(id: string, status: string | null, caller: Caller): Promise<ServiceRecord> {
      parseServiceId(id);
      const reported = status === null ? null : parseStatus(status, "status");
      const result = await store.heartbeat({
        id,
        at: timestamp(),
        status: reported,
        callerOwner: caller.ownerKey,
        callerIsAdmin: caller.isAdmin,
      });
      if (result.outcome === "not_found") throw notFound(`Service ${id} is not registered.`);
      if (result.outcome === "forbidden") throw notOwner(id);
      if (result.revision !== null) {
        publishChange("UPDATED", result.record, result.revision);
        publishStatus(
          result.record,
          result.previousStatus,
          reported ? "reported by heartbeat" : "heartbeat resumed",
        );
      }
      return result.record;
    },

    /** Sets a status by hand, e.g. MAINTENANCE, which probes and expiry never override. */
    async updateStatus(id: string, status: string, caller: Caller): Promise<ServiceRecord> {
      const next = parseStatus(status, "status");
      const current = await getOrThrow(parseServiceId(id));
      assertMayChange(current.record.owner, caller, id);
      if (current.record.status === next) return current.record;
      const { previous, record, revision } = await update(id, (latest) => {
        if (!latest) throw notFound(`Service ${id} is not registered.`);
        assertMayChange(latest.record.owner, caller, id);
        return { ...latest.record, status: next, updatedAt: timestamp() };
      });
      publishChange("UPDATED", record, revision);
      publishStatus(record, previous?.status ?? null, "set manually");
      return record;
    },
  };
}

export type Registry = ReturnType<typeof createRegistry>;

function tooFast(id: string): GatewayError {
  return new GatewayError("CONFLICT", `Service ${id} is changing too fast to update; retry.`, {
    serviceId: id,
  });
}

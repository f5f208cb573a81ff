import type { HealthCheck, RegistryChangeEvent, ServiceRecord } from "../domain/service.js";
import {
  type HeartbeatRequest,
  type HeartbeatResult,
  heartbeatOutcome,
  type IndexQuery,
  indexNamesOf,
  type PutResult,
  type RegistryStore,
  type RemoveResult,
  type StoredService,
} from "./registry.js";

/**
 * Registry state in this process only: the default for a single gateway and for tests.
 * JavaScript runs each call to completion, so every write is atomic without locks.
 * Records are frozen on write, so a caller can never change stored state by accident.
 */
export function createMemoryRegistryStore(): RegistryStore {
  const services = new Map<string, StoredService>();
  const indexes = new Map<string, Set<string>>();
  const counters = new Map<string, number>();
  let revision = 0;
  let restored = false;
  const changes: RegistryChangeEvent[] = [];
  const healthChecks = new Map<string, readonly HealthCheck[]>();

  const indexKeys = (record: ServiceRecord): string[] => [
    ...indexNamesOf(record),
    `status:${record.status}`,
  ];

  const addToIndex = (key: string, id: string) => {
    const members = indexes.get(key) ?? new Set<string>();
    members.add(id);
    indexes.set(key, members);
  };

  const removeFromIndex = (key: string, id: string) => {
    const members = indexes.get(key);
    members?.delete(id);
    if (members?.size === 0) indexes.delete(key);
  };

  const addToIndexes = (record: ServiceRecord) => {
    for (const key of indexKeys(record)) addToIndex(key, record.id);
  };

  const removeFromIndexes = (record: ServiceRecord) => {
    for (const key of indexKeys(record)) removeFromIndex(key, record.id);
  };

  const write = (record: ServiceRecord, version: number): ServiceRecord => {
    const previous = services.get(record.id);
    if (previous) removeFromIndexes(previous.record);
    const frozen = deepFreeze(record);
    services.set(record.id, { record: frozen, version });
    addToIndexes(frozen);
    return frozen;
  };

  /**
   * Ids worth reading for a query: the intersection of the type, capability and tag
   * indexes, smallest first. Statuses are checked on the records afterwards, so a query
   * never walks every ONLINE service just to narrow twenty.
   */
  const candidateIds = (query: IndexQuery): Iterable<string> => {
    const required: Set<string>[] = [];
    if (query.type !== undefined) required.push(indexes.get(`type:${query.type}`) ?? new Set());
    if (query.capability !== undefined) {
      required.push(indexes.get(`cap:${query.capability}`) ?? new Set());
    }
    for (const tag of query.tags ?? []) required.push(indexes.get(`tag:${tag}`) ?? new Set());
    if (required.length === 0) {
      if (!query.statuses) return services.keys();
      return query.statuses.flatMap((status) => [...(indexes.get(`status:${status}`) ?? [])]);
    }
    required.sort((a, b) => a.size - b.size);
    const [smallest, ...others] = required as [Set<string>, ...Set<string>[]];
    return [...smallest].filter((id) => others.every((set) => set.has(id)));
  };

  return {
    kind: "memory",

    async get(id) {
      return services.get(id) ?? null;
    },

    async find(query) {
      const statuses = query.statuses ? new Set(query.statuses) : null;
      const found: ServiceRecord[] = [];
      for (const id of candidateIds(query)) {
        const record = services.get(id)?.record;
        if (record && (!statuses || statuses.has(record.status))) found.push(record);
      }
      return found;
    },

    async put(record, expectedVersion): Promise<PutResult> {
      const current = services.get(record.id);
      if ((current?.version ?? null) !== expectedVersion) return { ok: false, reason: "conflict" };
      write(record, (current?.version ?? 0) + 1);
      return { ok: true, revision: ++revision };
    },

    async remove(id, expectedVersion): Promise<RemoveResult> {
      const current = services.get(id);
      if (!current) return { ok: false, reason: "not_found" };
      if (expectedVersion !== undefined && current.version !== expectedVersion) {
        return { ok: false, reason: "conflict" };
      }
      removeFromIndexes(current.record);
      services.delete(id);
      healthChecks.delete(id);
      return { ok: true, removed: current.record, revision: ++revision };
    },

    async heartbeat(request: HeartbeatRequest): Promise<HeartbeatResult> {
      const current = services.get(request.id);
      if (!current) return { outcome: "not_found" };
      const { record } = current;
      const outcome = heartbeatOutcome(record, request);
      if (!outcome) return { outcome: "forbidden" };
      const { status } = outcome;
      // The hot path: only the status index can change, and every nested value is
      // already frozen, so the new record needs a shallow freeze only.
      const updated = Object.freeze({ ...record, ...outcome });
      services.set(record.id, { record: updated, version: current.version + 1 });
      if (status !== record.status) {
        removeFromIndex(`status:${record.status}`, record.id);
        addToIndex(`status:${status}`, record.id);
      }
      return {
        outcome: "ok",
        previousStatus: record.status,
        record: updated,
        revision: status === record.status ? null : ++revision,
      };
    },

    async saveHealth(check: HealthCheck, expectedVersion?: number) {
      const current = services.get(check.serviceId);
      if (!current) return "missing";
      if (expectedVersion !== undefined && current.version !== expectedVersion) return "conflict";
      write({ ...current.record, health: check }, current.version + 1);
      return "saved";
    },

    async appendHealthCheck(check, keep) {
      const kept = healthChecks.get(check.serviceId) ?? [];
      healthChecks.set(check.serviceId, [deepFreeze({ ...check }), ...kept].slice(0, keep));
    },

    async recentHealthChecks(id, limit) {
      return (healthChecks.get(id) ?? []).slice(0, limit);
    },

    async nextCounter(name) {
      const next = (counters.get(name) ?? 0) + 1;
      counters.set(name, next);
      return next;
    },

    async revision() {
      return revision;
    },

    async isRestored() {
      return restored;
    },

    async markRestored() {
      restored = true;
    },

    async appendChange(event, keep) {
      changes.push(event);
      if (changes.length > keep) changes.splice(0, changes.length - keep);
    },

    async changesSince(since, limit) {
      return {
        events: changes
          .filter((event) => event.revision > since)
          .sort((a, b) => a.revision - b.revision)
          .slice(0, limit),
        oldestKept: changes.reduce<number | null>(
          (oldest, event) => (oldest === null ? event.revision : Math.min(oldest, event.revision)),
          null,
        ),
      };
    },

    async ping() {},
  };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

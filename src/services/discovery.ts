import { badInput } from "../domain/errors.js";
import {
  DEFAULT_STRATEGY,
  normalizeServiceType,
  parseStatus,
  type SelectionStrategy,
  type ServiceRecord,
  selectionStrategies,
} from "../domain/service.js";
import { CALLABLE_STATUSES, VISIBLE_BY_DEFAULT } from "../domain/status.js";
import { systemClock } from "../lib/clock.js";
import type { IndexQuery, RegistryStore } from "../stores/registry.js";
import { byId, type Page, type PageRequest, paginateById } from "./pagination.js";
import { parseServiceId } from "./registration-input.js";
import {
  compileWhere,
  indexHint,
  limitList,
  limitText,
  type ServiceWhere,
} from "./service-where.js";

export type ServiceFilter = {
  type?: string | null;
  status?: readonly string[] | null;
  capability?: string | null;
  /** Every one of these tags. */
  tags?: readonly string[] | null;
  /** OFFLINE services are hidden unless this is true or `status` names OFFLINE. */
  includeOffline?: boolean | null;
};

/** Narrowing a selection beyond status and breakers (federation's routing). */
export type SelectionPreference = {
  /** Only instances that pass are ever chosen. */
  only?: (service: ServiceRecord) => boolean;
  /** Chosen among these when any is selectable; among the rest only when none is. */
  prefer?: (service: ServiceRecord) => boolean;
};

export type DiscoveryDeps = {
  store: RegistryStore;
  maxPageSize: number;
  now?: () => number;
  /** Uniform in [0, 1); injectable so RANDOM and WEIGHTED can be tested exactly. */
  random?: () => number;
  /** False for an instance whose circuit breaker refuses calls (OPEN or ISOLATED). */
  isCallable?: (serviceId: string) => boolean;
};

/** Reads of the registry: lookups, filtered lists, search and load-balanced selection. */
export function createDiscovery({
  store,
  maxPageSize,
  now = () => systemClock.now(),
  random = Math.random,
  isCallable = () => true,
}: DiscoveryDeps) {
  /**
   * `select`, and how many other instances a following `select` that also excluded the
   * chosen one could still choose: a moment's view, since the registry and the breakers
   * move. Calls by type read it to know whether an instance is the last they can try.
   */
  async function pick(
    type: string,
    requested?: string | null,
    exclude?: ReadonlySet<string>,
    { only, prefer }: SelectionPreference = {},
  ): Promise<{ service: ServiceRecord; others: number } | null> {
    limitText(type, "type");
    const strategy = (requested ?? DEFAULT_STRATEGY) as SelectionStrategy;
    if (!(selectionStrategies as readonly string[]).includes(strategy)) {
      throw badInput("strategy", `must be one of ${selectionStrategies.join(", ")}`);
    }
    const normalizedType = normalizeServiceType(type);
    const available = (
      await store.find({ type: normalizedType, statuses: CALLABLE_STATUSES })
    ).filter(
      (service) => isCallable(service.id) && !exclude?.has(service.id) && (only?.(service) ?? true),
    );
    const preferred = prefer ? available.filter(prefer) : [];
    const candidates = preferred.length > 0 ? preferred : available;
    const online = candidates.filter((service) => service.status === "ONLINE");
    const pool = (online.length > 0 ? online : candidates).sort(byId);
    if (pool.length === 0) return null;
    const service = await choose(strategy, pool, normalizedType);
    if (!service) return null;
    // A drained instance (weight 0) is never chosen by WEIGHTED, so it is no alternative.
    const others = available.filter(
      (other) => other.id !== service.id && (strategy !== "WEIGHTED" || weightOf(other) > 0),
    ).length;
    return { service, others };
  }

  async function choose(
    strategy: SelectionStrategy,
    pool: ServiceRecord[],
    normalizedType: string,
  ): Promise<ServiceRecord | null> {
    switch (strategy) {
      case "ROUND_ROBIN":
        return roundRobin(pool, await store.nextCounter(`round-robin:${normalizedType}`));
      case "RANDOM":
        return pool[Math.floor(random() * pool.length)] ?? null;
      case "LEAST_LATENCY":
        return (
          fastest(pool) ??
          roundRobin(pool, await store.nextCounter(`round-robin:${normalizedType}`))
        );
      case "WEIGHTED":
        return weighted(pool, random());
    }
  }

  return {
    async get(id: string): Promise<ServiceRecord | null> {
      return (await store.get(parseServiceId(id)))?.record ?? null;
    },

    async list(filter: ServiceFilter, page: PageRequest): Promise<Page<ServiceRecord>> {
      limitText(filter.type, "filter.type");
      limitText(filter.capability, "filter.capability");
      for (const [name, list] of [
        ["status", filter.status],
        ["tags", filter.tags],
      ] as const) {
        limitList(list ?? [], `filter.${name}`);
        for (const [i, text] of (list ?? []).entries()) limitText(text, `filter.${name}.${i}`);
      }
      const query: IndexQuery = {
        statuses: filter.status?.length
          ? filter.status.map((status) => parseStatus(status, "filter.status"))
          : filter.includeOffline
            ? undefined
            : VISIBLE_BY_DEFAULT,
      };
      if (filter.type != null) query.type = normalizeServiceType(filter.type);
      if (filter.capability != null) query.capability = filter.capability;
      if (filter.tags?.length) query.tags = [...new Set(filter.tags)];
      return paginateById(await store.find(query), page, maxPageSize);
    },

    async search(where: ServiceWhere, page: PageRequest): Promise<Page<ServiceRecord>> {
      const matches = compileWhere(where);
      const candidates = await store.find(indexHint(where));
      const at = now();
      return paginateById(
        candidates.filter((service) => matches(service, at)),
        page,
        maxPageSize,
      );
    },

    /**
     * One instance of a type to call, or null when none is selectable. OFFLINE and
     * MAINTENANCE instances are never chosen, nor any whose circuit breaker refuses calls
     * now (ISOLATED, OPEN before its reset timeout, half-open with its trials taken), nor
     * any in `exclude`; DEGRADED ones only when no ONLINE one is left (among the
     * preferred ones, when any of those is selectable). An OPEN breaker
     * past its reset timeout is selectable: its trial calls are how it recovers.
     */
    async select(
      type: string,
      requested?: string | null,
      exclude?: ReadonlySet<string>,
      preference: SelectionPreference = {},
    ): Promise<ServiceRecord | null> {
      return (await pick(type, requested, exclude, preference))?.service ?? null;
    },

    pick,
  };
}

export type Discovery = ReturnType<typeof createDiscovery>;

function roundRobin(pool: ServiceRecord[], counter: number): ServiceRecord | null {
  return pool[(counter - 1) % pool.length] ?? null;
}

/** Lowest latency of the last probe; null when no instance has been probed yet. */
function fastest(pool: ServiceRecord[]): ServiceRecord | null {
  let best: ServiceRecord | null = null;
  for (const service of pool) {
    const latency = service.health?.latencyMs;
    if (latency == null) continue;
    if (best === null || latency < (best.health?.latencyMs ?? Number.POSITIVE_INFINITY)) {
      best = service;
    }
  }
  return best;
}

function weightOf(service: ServiceRecord): number {
  const weight = service.metadata.weight;
  return typeof weight === "number" && Number.isFinite(weight) && weight >= 0 ? weight : 1;
}

/** `metadata.weight` (default 1); weight 0 drains an instance. Null when every weight is 0. */
function weighted(pool: ServiceRecord[], draw: number): ServiceRecord | null {
  const weights = pool.map(weightOf);
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  if (total === 0) return null;
  let point = draw * total;
  for (const [i, service] of pool.entries()) {
    point -= weights[i] as number;
    if (point < 0) return service;
  }
  return pool.findLast((_, i) => (weights[i] as number) > 0) ?? null;
}

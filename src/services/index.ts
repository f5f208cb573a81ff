import type { Events } from "../events.js";
import type { RegistryStore } from "../stores/registry.js";
import { createBreakers } from "./breakers.js";
import { createDiscovery } from "./discovery.js";
import { createReadiness, type DependencyCheck } from "./readiness.js";
import { createRegistry } from "./registry.js";

export type ServicesDeps = {
  store: RegistryStore;
  events: Events;
  maxPageSize: number;
  /** Extra dependencies readiness reports on, besides the registry store. */
  dependencies?: DependencyCheck[];
  now?: () => Date;
  random?: () => number;
};

/** The facade every adapter (GraphQL, REST) calls; domain rules live behind it. */
export function createServices(deps: ServicesDeps) {
  const now = deps.now ?? (() => new Date());
  return {
    registry: createRegistry({ store: deps.store, events: deps.events, now }),
    discovery: createDiscovery({
      store: deps.store,
      maxPageSize: deps.maxPageSize,
      now: () => now().getTime(),
      random: deps.random,
    }),
    breakers: createBreakers(),
    readiness: createReadiness([
      { name: `registry store (${deps.store.kind})`, check: () => deps.store.ping() },
      ...(deps.dependencies ?? []),
    ]),
  };
}

export type Services = ReturnType<typeof createServices>;

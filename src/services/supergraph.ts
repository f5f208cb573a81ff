import { createHash } from "node:crypto";
import { parse } from "graphql";
import type { Logger } from "pino";
import semver from "semver";
import {
  type GraphQLApi,
  type GraphQLApiKind,
  type SubgraphSummary,
  type SupergraphChange,
  type SupergraphSnapshot,
  subgraphUrlOf,
} from "../domain/federation.js";
import { type ServiceRecord, selectionStrategies } from "../domain/service.js";
import { CALLABLE_STATUSES } from "../domain/status.js";
import type { Events } from "../events.js";
import type { Clock } from "../lib/clock.js";
import { every } from "../lib/interval-loop.js";
import type { RegistryStore } from "../stores/registry.js";
import { nullPropagationWarnings } from "./federation-lint.js";
import type { SdlReader } from "./federation-sdl.js";

/** What composing a set of subgraphs gave: a supergraph, or why not. */
export type Composition = { ok: true; supergraphSdl: string } | { ok: false; errors: string[] };

type Compose = (subgraphs: readonly { name: string; url: string; sdl: string }[]) => Composition;

export type SupergraphDeps = {
  store: RegistryStore;
  events: Events;
  sdl: SdlReader;
  compose: Compose;
  /** False for an instance whose breaker refuses calls now. */
  isCallable: (serviceId: string) => boolean;
  clock: Clock;
  log: Logger;
  /** Told of each new supergraph before it is reported composed: the server swaps to it. */
  onComposed?: (supergraphSdl: string) => Promise<void>;
  /** Told the result of every composition tried (metrics). */
  onResult?: (result: "composed" | "failed") => void;
  /** How long events are gathered into one recomposition. Default 50 ms. */
  debounceMs?: number;
  /** How long a type with no callable instance stays in the graph. Default 600 s. */
  dropAfterMs?: number;
  /** How often the whole registry is read again (missed events, drops). Default 5,000 ms. */
  reconcileIntervalMs?: number;
};

/** A type in the graph: the SDL composed for it and since when it has had no instance. */
type Member = {
  type: string;
  kind: GraphQLApiKind;
  version: string;
  sdl: string;
  sdlHash: string;
  /** Registered instances declaring an API, and how many of them are callable. */
  instances: number;
  callable: number;
  /** When the type last had a callable instance. */
  lastCallableAt: number;
  /** The selection strategy its instances ask for in `metadata.strategy`; null: none. */
  strategy: string | null;
};

/**
 * The supergraph, composed from what is registered and healthy: a type joins when it
 * gains its first callable instance that declares a GraphQL API, changes when its newest
 * callable version serves another SDL, and leaves when its last instance unregisters or
 * after `dropAfterMs` with none callable. A health flap of one instance of several
 * changes nothing here (which instance serves is routing's job), and a type whose last
 * instance dies stays, so queries selecting it still validate and only its fields fail.
 * A composition that fails keeps the last good supergraph and says why.
 */
export function createSupergraph(deps: SupergraphDeps) {
  const { store, log, clock } = deps;
  const debounceMs = deps.debounceMs ?? 50;
  const dropAfterMs = deps.dropAfterMs ?? 600_000;
  const members = new Map<string, Member>();
  /**
   * SDL per type and version, read once: a version's API does not change under it. Only
   * versions some instance runs are kept, so it is bounded by the registry.
   */
  const sdlCache = new Map<string, { kind: GraphQLApiKind; sdl: string }>();
  /** The input of the last composition tried, so a failing one is not retried on every event. */
  let lastAttempt: string | null = null;
  let serving: { sdl: string; composedAt: string; members: Member[]; warnings: string[] } | null =
    null;
  let errors: string[] = [];
  const listeners = new Set<(change: SupergraphChange) => void>();

  // Types named by events since the last reconcile; null: every type (a full reread).
  let dirty: Set<string> | null = new Set();
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopped = false;

  function markDirty(type: string | null): void {
    if (stopped) return;
    if (type === null) dirty = null;
    else dirty?.add(type);
    timer ??= setTimeout(() => {
      timer = null;
      void runReconcile();
    }, debounceMs);
  }

  /** One reconcile at a time; events meanwhile gather for the next. */
  function runReconcile(): Promise<void> {
    if (running) {
      // Picked up when the one running ends.
      timer ??= setTimeout(() => {
        timer = null;
        void runReconcile();
      }, debounceMs);
      return running;
    }
    const types = dirty;
    dirty = new Set();
    running = reconcile(types)
      .catch((error: unknown) => {
        log.warn({ err: error }, "supergraph reconcile failed; retrying on the next change");
        // Nothing was applied for these types: look at them again next time.
        if (types === null) dirty = null;
        else for (const type of types) dirty?.add(type);
      })
      .finally(() => {
        running = null;
      });
    return running;
  }

  async function reconcile(only: Set<string> | null): Promise<void> {
    // Events name a few types: those are read by index; a full reread reads everything.
    const found = only
      ? (await Promise.all([...only].map((type) => store.find({ type })))).flat()
      : await store.find({});
    const byType = new Map<string, ServiceRecord[]>();
    for (const service of found) {
      if (service.graphql === null) continue;
      byType.set(service.type, [...(byType.get(service.type) ?? []), service]);
    }
    const at = clock.now();
    const examined = only ?? new Set([...members.keys(), ...byType.keys()]);
    for (const type of examined) await examine(type, byType.get(type) ?? [], at);
    // Every member, dirty or not, may have outlived its grace period.
    for (const member of members.values()) {
      if (member.callable === 0 && at - member.lastCallableAt >= dropAfterMs) {
        log.info({ type: member.type }, "federated type dropped: no callable instance");
        members.delete(member.type);
      }
    }
    await composeIfChanged();
  }

  async function examine(type: string, instances: ServiceRecord[], at: number): Promise<void> {
    const member = members.get(type);
    // A version no instance runs any more is read again if one comes back: a developer
    // restarting a service under the same version expects its new SDL.
    const running = new Set(instances.map((service) => service.version));
    for (const key of sdlCache.keys()) {
      const [cachedType, version] = splitKey(key);
      if (cachedType === type && !running.has(version)) sdlCache.delete(key);
    }
    if (instances.length === 0) {
      // The last instance unregistered (or stopped declaring an API): gone at once.
      if (member) members.delete(type);
      return;
    }
    const callable = instances.filter(
      (service) => CALLABLE_STATUSES.includes(service.status) && deps.isCallable(service.id),
    );
    const strategy = strategyAskedBy(instances);
    if (member) {
      member.instances = instances.length;
      member.callable = callable.length;
      member.strategy = strategy;
    }
    if (callable.length === 0) return;
    const chosen = await sdlOfNewest(type, callable);
    if (!chosen) {
      // No instance answered with its SDL; the member (if any) keeps what it had.
      if (member) member.lastCallableAt = at;
      return;
    }
    members.set(type, {
      type,
      kind: chosen.kind,
      version: chosen.version,
      sdl: chosen.sdl,
      sdlHash: hashOf(chosen.sdl),
      instances: instances.length,
      callable: callable.length,
      lastCallableAt: at,
      strategy,
    });
  }

  /** The SDL of the newest version among callable instances, read from one of them. */
  async function sdlOfNewest(type: string, callable: ServiceRecord[]) {
    const versions = [...new Set(callable.map((service) => service.version))].sort(newestFirst);
    for (const version of versions) {
      const key = keyOf(type, version);
      const cached = sdlCache.get(key);
      if (cached) return { version, ...cached };
      for (const instance of callable.filter((service) => service.version === version)) {
        const api = instance.graphql as GraphQLApi;
        try {
          const sdl = await deps.sdl.read(instance, api);
          const entry = { kind: api.kind, sdl };
          sdlCache.set(key, entry);
          return { version, ...entry };
        } catch (error) {
          log.warn({ err: error, type, version }, "could not read a subgraph's SDL");
        }
      }
    }
    return null;
  }

  async function composeIfChanged(): Promise<void> {
    const input = [...members.values()].sort((a, b) => (a.type < b.type ? -1 : 1));
    const key = input.map((member) => `${member.type}:${member.kind}:${member.sdlHash}`).join("|");
    if (key === lastAttempt) {
      if (serving) refreshCounts(serving.members);
      return;
    }
    lastAttempt = key;
    if (input.length === 0) {
      // Every type unregistered: there is no graph to serve, and the endpoint says why.
      if (serving) log.info("supergraph empty: no registered type declares a GraphQL API");
      serving = null;
      errors = [];
      notify();
      return;
    }
    const started = performance.now();
    const result = deps.compose(
      input.map((member) => ({
        name: member.type,
        url: subgraphUrlOf(member.type),
        sdl: member.sdl,
      })),
    );
    const tookMs = Math.round(performance.now() - started);
    if (!result.ok) {
      errors = result.errors;
      log.warn({ errors, tookMs }, "supergraph composition failed; the last good one serves");
      deps.onResult?.("failed");
      notify();
      return;
    }
    await deps.onComposed?.(result.supergraphSdl);
    errors = [];
    serving = {
      sdl: result.supergraphSdl,
      composedAt: new Date(clock.now()).toISOString(),
      members: input.map((member) => ({ ...member })),
      warnings: nullPropagationWarnings(input.map(({ type, sdl }) => ({ type, sdl }))),
    };
    log.info(
      { types: input.map((member) => `${member.type}@${member.version}`), tookMs },
      "supergraph composed",
    );
    deps.onResult?.("composed");
    notify();
  }

  /** Instance counts move on without a recomposition. */
  function refreshCounts(served: Member[]): void {
    for (const member of served) {
      const live = members.get(member.type);
      if (live) {
        member.instances = live.instances;
        member.callable = live.callable;
      }
    }
  }

  function snapshot(): SupergraphSnapshot {
    if (serving) refreshCounts(serving.members);
    return {
      status: errors.length > 0 ? "FAILED" : serving ? "COMPOSED" : "EMPTY",
      sdl: serving?.sdl ?? null,
      composedAt: serving?.composedAt ?? null,
      errors,
      warnings: serving?.warnings ?? [],
      subgraphs: (serving?.members ?? []).map(summaryOf),
    };
  }

  function notify(): void {
    const change = { supergraph: snapshot(), at: new Date(clock.now()).toISOString() };
    for (const listener of listeners) listener(change);
  }

  const periodic = every(
    deps.reconcileIntervalMs ?? 5000,
    async () => {
      dirty = null;
      await runReconcile();
    },
    { log, name: "supergraph reconcile" },
  );
  const watchers: AsyncIterator<unknown>[] = [];

  /** Reads events until stopped; only types that declare (or declared) an API matter. */
  async function watch<T>(
    iterable: AsyncIterable<T>,
    typeOf: (event: T) => string | null | undefined,
  ): Promise<void> {
    const iterator = iterable[Symbol.asyncIterator]();
    watchers.push(iterator);
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      const type = typeOf(next.value);
      if (type) markDirty(type);
    }
  }

  const relevant = (service: ServiceRecord) =>
    service.graphql !== null || members.has(service.type) ? service.type : null;

  return {
    /** The supergraph SDL serving now; null before the first successful composition. */
    current: (): string | null => serving?.sdl ?? null,
    /** The version whose SDL is composed for a type: instances of it can answer every fetch. */
    composedVersionOf: (type: string): string | null =>
      serving?.members.find((member) => member.type === type)?.version ?? null,
    /** The selection strategy of a type's fetches; null: the default. */
    strategyOf: (type: string): string | null => members.get(type)?.strategy ?? null,
    snapshot,
    /** Called on every composition, successful or failed. */
    onChange(listener: (change: SupergraphChange) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    /** Composes from the registry now, without waiting for the debounce: start and tests. */
    async refresh(): Promise<void> {
      markDirty(null);
      if (timer) clearTimeout(timer);
      timer = null;
      // One that is running may have started before the change: run once more after it.
      if (running) await running;
      await runReconcile();
    },
    start(): void {
      stopped = false;
      void watch(deps.events.subscribe("registry.changed"), (event) => relevant(event.service));
      void watch(deps.events.subscribe("service.statusChanged"), (change) =>
        relevant(change.service),
      );
      // A breaker closing can give a type its first callable instance; which type it is
      // takes a read, so the whole registry is looked at.
      void watch(deps.events.subscribe("breaker.changed"), () => {
        markDirty(null);
        return null;
      });
      periodic.start();
      markDirty(null);
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await periodic.stop();
      for (const iterator of watchers.splice(0)) await iterator.return?.();
      await running;
    },
  };
}

export type Supergraph = ReturnType<typeof createSupergraph>;

function summaryOf(member: Member): SubgraphSummary {
  return {
    type: member.type,
    kind: member.kind,
    version: member.version,
    instances: member.instances,
    callable: member.callable,
  };
}

function keyOf(type: string, version: string): string {
  return `${type}\u0000${version}`;
}

function splitKey(key: string): [string, string] {
  const at = key.indexOf("\u0000");
  return [key.slice(0, at), key.slice(at + 1)];
}

function strategyAskedBy(instances: readonly ServiceRecord[]): string | null {
  for (const { metadata } of instances) {
    const asked = metadata.strategy;
    if (typeof asked === "string" && (selectionStrategies as readonly string[]).includes(asked)) {
      return asked;
    }
  }
  return null;
}

function hashOf(sdl: string): string {
  // Whitespace and comments aside, the same document is the same SDL.
  let normalized: string;
  try {
    normalized = JSON.stringify(parse(sdl, { noLocation: true }));
  } catch {
    normalized = sdl;
  }
  return createHash("sha256").update(normalized).digest("hex");
}

/** Newest first by semver ("1.10" after "1.9"), coercing loose versions; text otherwise. */
function newestFirst(a: string, b: string): number {
  const va = semver.coerce(a, { includePrerelease: true });
  const vb = semver.coerce(b, { includePrerelease: true });
  if (va && vb) {
    const order = semver.rcompare(va, vb);
    if (order !== 0) return order;
  }
  return a < b ? 1 : a > b ? -1 : 0;
}

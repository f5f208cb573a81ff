import type { Etcd3, IKeyValue, Watcher } from "etcd3";
import { Repeater, SlidingBuffer } from "graphql-yoga";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { EventTopics } from "./domain/events.js";
import type { RegistryChangeEvent } from "./domain/service.js";

type EventTopic = keyof EventTopics;

export type Events = {
  /** Fire and forget: the change that publishes has happened whatever becomes of this. */
  publish<K extends EventTopic>(topic: K, ...payload: EventTopics[K]): void;
  /**
   * Events of a topic that pass `wanted`: the test runs as the event is published, so a
   * subscriber is only woken for what it asked for.
   */
  subscribe<K extends EventTopic>(
    topic: K,
    wanted?: (payload: EventTopics[K][0]) => boolean,
  ): AsyncIterable<EventTopics[K][0]>;
  close(): Promise<void>;
};

const topics: EventTopic[] = [
  "registry.changed",
  "service.statusChanged",
  "breaker.changed",
  "workflow.updated",
];

/**
 * Events a subscriber that cannot keep up may fall behind by; past that its oldest are
 * dropped, so one slow reader never blocks, or breaks, delivery to the rest.
 */
export const SUBSCRIBER_BUFFER = 1000;

/**
 * Local fan-out: one set of listeners per topic, and a Repeater per subscriber. (Yoga's
 * pub/sub adds an EventTarget listener per subscriber, which warns past ten of them.)
 */
function createLocalFanOut() {
  const listeners = new Map<EventTopic, Set<(payload: unknown) => void>>();
  return {
    publish<K extends EventTopic>(topic: K, payload: EventTopics[K][0]): void {
      for (const listener of listeners.get(topic) ?? []) listener(payload);
    },
    subscribe<K extends EventTopic>(
      topic: K,
      wanted: (payload: EventTopics[K][0]) => boolean = () => true,
    ): AsyncIterable<EventTopics[K][0]> {
      return new Repeater<EventTopics[K][0]>(async (push, stop) => {
        const listener = (payload: unknown) => {
          const event = payload as EventTopics[K][0];
          if (wanted(event)) void push(event);
        };
        const set = listeners.get(topic) ?? new Set();
        listeners.set(topic, set.add(listener));
        await stop;
        set.delete(listener);
      }, new SlidingBuffer(SUBSCRIBER_BUFFER));
    },
  };
}

/** In-process events: one gateway, or tests. */
export function createInProcessEvents(): Events {
  const local = createLocalFanOut();
  return {
    publish: (topic, ...[payload]) => local.publish(topic, payload),
    subscribe: (topic, wanted) => local.subscribe(topic, wanted),
    close: async () => {},
  };
}

export type RedisEventsOptions = {
  /** Any connection; publishing is one PUBLISH. */
  publisher: Redis;
  /** A connection of its own, in subscriber mode for the life of the process. */
  subscriber: Redis;
  /** Channel prefix, so gateways on different key prefixes do not hear each other. */
  channelPrefix: string;
  log: Logger;
};

/**
 * Events through Redis pub/sub, so a subscriber on any replica sees a change made on
 * any other. A published event reaches this process's subscribers the same way, back
 * from Redis, so none hears it twice; pub/sub keeps nothing, so events published while
 * this process's subscriber connection is reconnecting are missed (registryChanges lets
 * a client catch up). One subscriber connection per process, however many clients
 * subscribe; local fan-out is in-process.
 */
export function createRedisEvents({
  publisher,
  subscriber,
  channelPrefix,
  log,
}: RedisEventsOptions): Events {
  const local = createLocalFanOut();
  const channelOf = (topic: EventTopic) => `${channelPrefix}events:${topic}`;
  const topicOf = new Map(topics.map((topic) => [channelOf(topic), topic]));

  subscriber.on("message", (channel: string, message: string) => {
    const topic = topicOf.get(channel);
    if (!topic) return;
    try {
      local.publish(topic, JSON.parse(message) as EventTopics[typeof topic][0]);
    } catch (error) {
      log.error({ err: error, channel }, "unreadable event from Redis");
    }
  });
  // Not awaited: a Redis that is down at start must not hold the gateway back. The
  // command waits in the connection's queue, and ioredis subscribes again by itself
  // after every reconnect.
  subscriber.subscribe(...topics.map(channelOf)).catch((error: unknown) => {
    log.error({ err: error }, "could not subscribe to gateway events in Redis");
  });

  return {
    publish(topic, ...payload) {
      publisher.publish(channelOf(topic), JSON.stringify(payload[0])).catch((error: unknown) => {
        log.warn({ err: error, topic }, "event not published: Redis unavailable");
      });
    },
    subscribe: (topic, wanted) => local.subscribe(topic, wanted),
    async close() {
      await subscriber.quit().catch(() => subscriber.disconnect());
    },
  };
}

export type EtcdEventsOptions = {
  client: Etcd3;
  /** Key prefix, so gateways on different prefixes do not hear each other. */
  keyPrefix: string;
  /**
   * The kept registry changes after a revision (the store's changesSince): what a
   * subscriber is given again when the watch cannot resume where it stopped.
   */
  changesSince(
    revision: number,
    limit: number,
  ): Promise<{ events: RegistryChangeEvent[]; oldestKept: number | null }>;
  log: Logger;
};

/** Registry changes replayed at most after a resync (the registry keeps 10,000). */
const RESYNC_LIMIT = 10_000;

/**
 * Events through one etcd watch, so a subscriber on any replica sees a change made on
 * any other. Publishing is a put of `<prefix>events/<topic>` (one key per topic,
 * overwritten: the watch sees every revision of it, and etcd's compaction bounds what
 * is kept), holding the events queued since the last put, in order. Unlike Redis pub/sub, a watch cut by a disconnect resumes from the last
 * revision it saw, so nothing published meanwhile is missed. When that revision was
 * compacted away, etcd cancels the watch: it starts again from now, and registry
 * changes are resynced from the kept change log (`changes/`, current keys that
 * compaction leaves alone); a subscriber whose gap reaches past that log hears nothing
 * more, and registryChanges tells such a client to resync. Status, breaker and workflow
 * events of a compacted gap are lost, as with Redis, and the gateway says so.
 */
export function createEtcdEvents({
  client,
  keyPrefix,
  changesSince,
  log,
}: EtcdEventsOptions): Events & { watching: Promise<void> } {
  const local = createLocalFanOut();
  const prefix = `${keyPrefix}events/`;
  const topicSet = new Set<string>(topics);
  let lastRegistryRevision = 0;
  // Revisions a resync delivered, so the same changes arriving live are not heard twice.
  let replayed = new Set<number>();
  let watcher: Watcher | null = null;
  let closed = false;

  const deliverOne = (topic: EventTopic, payload: EventTopics[EventTopic][0]) => {
    if (topic === "registry.changed") {
      const { revision } = payload as RegistryChangeEvent;
      if (replayed.has(revision)) return;
      lastRegistryRevision = Math.max(lastRegistryRevision, revision);
    }
    local.publish(topic, payload);
  };

  const deliver = (found: IKeyValue) => {
    const topic = found.key.toString().slice(prefix.length);
    if (!topicSet.has(topic)) return;
    try {
      const batch = JSON.parse(found.value.toString()) as EventTopics[EventTopic][0][];
      for (const payload of batch) deliverOne(topic as EventTopic, payload);
    } catch (error) {
      log.error({ err: error, topic }, "unreadable event from etcd");
    }
  };

  // Publishing: one transaction at a time, each putting every event queued meanwhile
  // (per topic, a list in publish order), so one replica's events are heard in the
  // order it published them, and a burst costs one round trip, not one each.
  let queued = new Map<EventTopic, unknown[]>();
  let flushing = false;
  async function flush(): Promise<void> {
    flushing = true;
    while (queued.size > 0) {
      const batch = queued;
      queued = new Map();
      await client.kv
        .txn({
          compare: [],
          success: [...batch].map(([topic, payloads]) => ({
            request_put: {
              key: Buffer.from(prefix + topic),
              value: Buffer.from(JSON.stringify(payloads)),
            },
          })),
          failure: [],
        })
        .catch((error: unknown) => {
          log.warn(
            { err: error, topics: [...batch.keys()] },
            "events not published: etcd unavailable",
          );
        });
    }
    flushing = false;
  }

  async function resync(): Promise<void> {
    const since = lastRegistryRevision;
    const kept = await changesSince(since, RESYNC_LIMIT);
    if (since > 0 && (kept.oldestKept === null || kept.oldestKept > since + 1)) {
      log.warn(
        { since, oldestKept: kept.oldestKept },
        "registry changes compacted beyond the kept log: subscribers must resync (registryChanges says so)",
      );
    }
    replayed = new Set(kept.events.map((event) => event.revision));
    for (const event of kept.events) {
      lastRegistryRevision = Math.max(lastRegistryRevision, event.revision);
      local.publish("registry.changed", event);
    }
  }

  function watch(): void {
    // Not awaited: an etcd that is down at start must not hold the gateway back; the
    // watcher connects, and reconnects, by itself.
    const created = client.watch().prefix(prefix).watcher();
    watcher = created;
    created.on("put", deliver);
    created.on("error", (error: Error) => {
      // etcd cancelled the watch: the revision it was to resume from is compacted.
      if (closed) return;
      log.warn(
        { err: error, lastRegistryRevision },
        "event watch cancelled by etcd (history compacted); resyncing registry changes",
      );
      watch();
      resync().catch((failure: unknown) =>
        log.error({ err: failure }, "registry changes not resynced after compaction"),
      );
    });
  }
  watch();
  const watching = new Promise<void>((resolve) => watcher?.once("connected", () => resolve()));

  return {
    /** Resolves once the watch first reaches etcd: events published after it are heard. */
    watching,
    publish(topic, ...payload) {
      const list = queued.get(topic);
      if (list) list.push(payload[0]);
      else queued.set(topic, [payload[0]]);
      if (!flushing) void flush();
    },
    subscribe: (topic, wanted) => local.subscribe(topic, wanted),
    async close() {
      closed = true;
      await watcher?.cancel().catch(() => {});
    },
  };
}

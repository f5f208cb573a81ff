import { Repeater, SlidingBuffer } from "graphql-yoga";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { EventTopics } from "./domain/events.js";

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

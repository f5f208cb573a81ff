import { createPubSub } from "graphql-yoga";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { RegistryChangeEvent, StatusChange } from "./services/model.js";

/** Every event the gateway publishes, by topic. Services publish; subscriptions read. */
export type EventTopics = {
  "registry.changed": [RegistryChangeEvent];
  "service.statusChanged": [StatusChange];
};

export type EventTopic = keyof EventTopics;

export type Events = {
  /** Fire and forget: a lost event bus never fails the change that published. */
  publish<K extends EventTopic>(topic: K, ...payload: EventTopics[K]): void;
  subscribe<K extends EventTopic>(topic: K): AsyncIterable<EventTopics[K][0]>;
  close(): Promise<void>;
};

const topics: EventTopic[] = ["registry.changed", "service.statusChanged"];

/**
 * Local fan-out through yoga's pub/sub. Every topic carries exactly one payload (never
 * a topic id), which yoga's overloaded types cannot express for a generic topic; the
 * typed wrappers below restore them.
 */
function createLocalFanOut() {
  const pubsub = createPubSub() as unknown as {
    publish(topic: string, payload: unknown): void;
    subscribe(topic: string): AsyncIterable<unknown>;
  };
  return {
    publish: <K extends EventTopic>(topic: K, payload: EventTopics[K][0]) =>
      pubsub.publish(topic, payload),
    subscribe: <K extends EventTopic>(topic: K) =>
      pubsub.subscribe(topic) as AsyncIterable<EventTopics[K][0]>,
  };
}

/** In-process events: one gateway, or tests. */
export function createInProcessEvents(): Events {
  const local = createLocalFanOut();
  return {
    publish: (topic, ...[payload]) => local.publish(topic, payload),
    subscribe: (topic) => local.subscribe(topic),
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
 * from Redis, so each hears it exactly once. One subscriber connection per process,
 * however many clients subscribe; local fan-out is in-process.
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
    subscribe: (topic) => local.subscribe(topic),
    async close() {
      await subscriber.quit().catch(() => subscriber.disconnect());
    },
  };
}

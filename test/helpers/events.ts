import { createInProcessEvents, type Events } from "../../src/events.js";

type Topic = Parameters<Events["subscribe"]>[0];

/**
 * In-process events that tell a test when a subscriber starts listening. graphql-ws does
 * not acknowledge a subscription, so a test waits on this (as graphql-ws's own tests wait
 * on the server's onSubscribe) before it makes the change it expects to hear about.
 */
export function observedEvents(inner: Events = createInProcessEvents()) {
  const waiting = new Map<Topic, (() => void)[]>();
  const started = (topic: Topic) => {
    for (const resolve of waiting.get(topic) ?? []) resolve();
    waiting.delete(topic);
  };
  const events: Events = {
    publish: (topic, ...payload) => inner.publish(topic, ...payload),
    subscribe: (topic, wanted) => onFirstNext(inner.subscribe(topic, wanted), () => started(topic)),
    close: () => inner.close(),
  };
  return {
    events,
    /**
     * Resolves when the next subscriber of `topic` (after this call) is listening: ask
     * before subscribing, await after.
     */
    nextSubscriber(topic: Topic): Promise<void> {
      return new Promise((resolve) => {
        waiting.set(topic, [...(waiting.get(topic) ?? []), resolve]);
      });
    },
  };
}

/**
 * The events' iterators attach their listener inside their first next() (a Repeater runs
 * its executor there, synchronously), so once that call returns, an event is heard.
 */
function onFirstNext<T>(source: AsyncIterable<T>, listening: () => void): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const iterator = source[Symbol.asyncIterator]();
      let first = true;
      return {
        next() {
          const result = iterator.next();
          if (first) {
            first = false;
            listening();
          }
          return result;
        },
        return: (value?: unknown) =>
          iterator.return?.(value) ?? Promise.resolve({ done: true as const, value: undefined }),
      };
    },
  };
}

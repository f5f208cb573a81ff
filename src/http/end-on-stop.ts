import { setMaxListeners } from "node:events";
import { isAsyncIterable, type Plugin } from "graphql-yoga";

/**
 * Subscriptions end when the gateway stops: each stream completes once `stopping`
 * aborts, so an SSE client reads yoga's `event: complete` and the end of the response,
 * not a reset (graphql-ws clients get `complete` too, if their socket is still open).
 * Answers yoga writes from then on say `Connection: close`, its SSE head's
 * `Connection: keep-alive` included.
 */
export function useEndOnStop(stopping: AbortSignal): Plugin {
  // One listener per open subscription, removed when it ends: not a leak to warn about.
  setMaxListeners(0, stopping);
  return {
    onSubscribe() {
      return {
        onSubscribeResult({ result, setResult }) {
          if (isAsyncIterable(result)) setResult(endOnAbort(result, stopping));
        },
      };
    },
    onResponse({ response }) {
      if (stopping.aborted) response.headers.set("connection", "close");
    },
  };
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/**
 * `source`, ending (done, and the source's iterator returned) as soon as `signal`
 * aborts, even while a `next()` waits for an event that may never come.
 */
function endOnAbort<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncIterableIterator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let finished = false;
  // The pending next(), resolved as done on abort. Each next() has its own promise, so
  // a long stream does not pile reactions onto one promise that only settles at stop.
  let wakeWaiting: ((result: IteratorReturnResult<undefined>) => void) | null = null;

  async function finish(): Promise<IteratorReturnResult<undefined>> {
    if (finished) return DONE;
    finished = true;
    signal.removeEventListener("abort", onAbort);
    wakeWaiting?.(DONE);
    await iterator.return?.();
    return DONE;
  }
  function onAbort() {
    void finish();
  }

  if (signal.aborted) void finish();
  else signal.addEventListener("abort", onAbort, { once: true });

  return {
    next() {
      if (finished) return Promise.resolve(DONE);
      return new Promise<IteratorResult<T>>((resolve, reject) => {
        wakeWaiting = resolve;
        iterator.next().then((next) => {
          wakeWaiting = null;
          if (next.done) void finish();
          resolve(next);
        }, reject);
      });
    },
    return: finish,
    async throw(error: unknown) {
      await finish();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/**
 * The same object, each of its asynchronous methods timed: `observe` hears the method's
 * name, how long its promise took and whether it was rejected (a method that returns no
 * promise is not a round trip, and is not observed). One wrapper for every store and
 * repository, so none of them grows timing code of its own.
 */
export function timed<T extends object>(
  target: T,
  observe: (operation: string, seconds: number, failed: boolean) => void,
): T {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(object, key, receiver) {
      const value: unknown = Reflect.get(object, key, receiver);
      if (typeof value !== "function" || typeof key !== "string") return value;
      let method = wrapped.get(key);
      if (!method) {
        method = function (this: unknown, ...args: unknown[]) {
          const started = performance.now();
          const seconds = () => (performance.now() - started) / 1000;
          const result: unknown = (value as (...a: unknown[]) => unknown).apply(object, args);
          if (!(result instanceof Promise)) return result;
          return result.then(
            (resolved: unknown) => {
              observe(key, seconds(), false);
              return resolved;
            },
            (error: unknown) => {
              observe(key, seconds(), true);
              throw error;
            },
          );
        };
        wrapped.set(key, method);
      }
      return method;
    },
  });
}

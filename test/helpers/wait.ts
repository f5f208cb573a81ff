import { vi } from "vitest";

/**
 * Re-checks `check` until it stops throwing (an `expect` inside it passes), and returns
 * what it returned. The deadline is generous so that a busy machine only makes a test
 * slower, never failing; a condition that never comes true still fails at the deadline,
 * with the last assertion's message.
 */
export function eventually<T>(check: () => T | Promise<T>, timeoutMs = 15_000): Promise<T> {
  return vi.waitFor(check, { timeout: timeoutMs, interval: 20 });
}

/** A promise and its resolve, for a fixture to wait on what the test does next. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

import { afterEach, describe, expect, it, vi } from "vitest";
import { createReadiness } from "../../src/services/readiness.js";

describe("readiness", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("reports each dependency, the cause of a wrapped error, and a hung one as timed out", async () => {
    vi.useFakeTimers();
    const readiness = createReadiness([
      { name: "up", check: async () => {} },
      {
        name: "down",
        check: async () => {
          throw new Error("store unavailable", { cause: new Error("ECONNREFUSED") });
        },
      },
      { name: "hung", check: () => new Promise<void>(() => {}) },
    ]);
    const answer = readiness.check();
    await vi.advanceTimersByTimeAsync(1999);
    let settled = false;
    void answer.then(() => {
      settled = true;
    });
    await Promise.resolve();
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const { ready, dependencies } = await answer;
    expect(ready).toBe(false);
    expect(dependencies.map(({ name, ok, error }) => ({ name, ok, error }))).toEqual([
      { name: "up", ok: true, error: null },
      { name: "down", ok: false, error: "ECONNREFUSED" },
      { name: "hung", ok: false, error: "no answer in 2000 ms" },
    ]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("is ready when every dependency answers", async () => {
    const readiness = createReadiness([{ name: "a", check: async () => {} }]);
    expect((await readiness.check()).ready).toBe(true);
  });
});

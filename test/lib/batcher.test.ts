import { describe, expect, it } from "vitest";
import { createBatcher } from "../../src/lib/batcher.js";

describe("group commit batcher", () => {
  it("writes what arrives during a write as the next batch, in order", async () => {
    const batches: number[][] = [];
    let release: () => void = () => {};
    const add = createBatcher<number>(async (items) => {
      batches.push(items);
      if (batches.length === 1) await new Promise<void>((resolve) => (release = resolve));
    });
    const first = add(1);
    const rest = [add(2), add(3), add(4)];
    release();
    await Promise.all([first, ...rest]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it("rejects exactly the callers whose batch failed, and goes on", async () => {
    let calls = 0;
    const add = createBatcher<string>(async () => {
      calls += 1;
      if (calls === 1) throw new Error("database away");
    });
    await expect(add("a")).rejects.toThrow("database away");
    await expect(add("b")).resolves.toBeUndefined();
  });

  it("fails only the bad item of a batch, writing its neighbours", async () => {
    let release: () => void = () => {};
    const written: string[] = [];
    const add = createBatcher<string>(async (items) => {
      if (items.includes("first")) await new Promise<void>((resolve) => (release = resolve));
      if (items.includes("bad")) throw new Error("refused");
      written.push(...items);
    });
    const first = add("first");
    const results = Promise.allSettled([add("a"), add("bad"), add("b")]);
    release();
    await first;
    expect((await results).map((result) => result.status)).toEqual([
      "fulfilled",
      "rejected",
      "fulfilled",
    ]);
    expect(written).toEqual(["first", "a", "b"]);
  });

  it("splits a long queue into batches of at most the given size", async () => {
    const sizes: number[] = [];
    let release: () => void = () => {};
    const add = createBatcher<number>(async (items) => {
      sizes.push(items.length);
      if (sizes.length === 1) await new Promise<void>((resolve) => (release = resolve));
    }, 3);
    const pending = [add(0)];
    for (let i = 1; i <= 7; i++) pending.push(add(i));
    release();
    await Promise.all(pending);
    expect(sizes).toEqual([1, 3, 3, 1]);
  });
});

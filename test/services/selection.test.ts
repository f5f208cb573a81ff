import { describe, expect, it } from "vitest";
import { createDiscovery } from "../../src/services/discovery.js";
import { createMemoryRegistryStore } from "../../src/stores/memory-registry.js";
import { serviceRecord } from "../stores/registry-contract.js";

/** A deterministic sequence standing in for Math.random. */
function sequence(values: number[]) {
  let i = 0;
  return () => values[i++ % values.length] as number;
}

async function discoveryWith(random: () => number, weights: Record<string, number | string>) {
  const store = createMemoryRegistryStore();
  for (const [id, weight] of Object.entries(weights)) {
    await store.put(serviceRecord({ id, metadata: { weight } }), null);
  }
  return createDiscovery({ store, maxPageSize: 100, random });
}

describe("instance selection", () => {
  it("WEIGHTED splits traffic in proportion to metadata.weight", async () => {
    // Twelve evenly spaced draws over [0, 1): a weight of 3 against 1 gets 9 of them.
    const draws = Array.from({ length: 12 }, (_, i) => (i + 0.5) / 12);
    const discovery = await discoveryWith(sequence(draws), { big: 3, small: 1 });
    const picks: string[] = [];
    for (let i = 0; i < draws.length; i++)
      picks.push((await discovery.select("PLANNING_SYSTEM", "WEIGHTED"))?.id ?? "");
    expect(picks.filter((id) => id === "big")).toHaveLength(9);
    expect(picks.filter((id) => id === "small")).toHaveLength(3);
  });

  it("WEIGHTED treats a missing or non-numeric weight as 1, and all-zero as none", async () => {
    const even = await discoveryWith(sequence([0.25, 0.75]), { a: "heavy", b: 1 });
    expect((await even.select("PLANNING_SYSTEM", "WEIGHTED"))?.id).toBe("a");
    expect((await even.select("PLANNING_SYSTEM", "WEIGHTED"))?.id).toBe("b");
    const drained = await discoveryWith(Math.random, { a: 0, b: 0 });
    expect(await drained.select("PLANNING_SYSTEM", "WEIGHTED")).toBeNull();
  });

  it("RANDOM draws uniformly over the selectable instances", async () => {
    const discovery = await discoveryWith(sequence([0, 0.34, 0.67, 0.99]), { a: 1, b: 1, c: 1 });
    const picks: string[] = [];
    for (let i = 0; i < 4; i++)
      picks.push((await discovery.select("PLANNING_SYSTEM", "RANDOM"))?.id ?? "");
    expect(picks).toEqual(["a", "b", "c", "c"]);
  });

  it("rejects an unknown strategy", async () => {
    const discovery = await discoveryWith(Math.random, { a: 1 });
    await expect(discovery.select("PLANNING_SYSTEM", "FASTEST")).rejects.toMatchObject({
      code: "BAD_USER_INPUT",
      details: { field: "strategy" },
    });
  });
});

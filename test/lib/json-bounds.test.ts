import { describe, expect, it } from "vitest";
import { describeJsonLimit, exceededJsonLimit } from "../../src/lib/json-bounds.js";

const roomy = { maxDepth: 1000, maxBytes: Number.MAX_SAFE_INTEGER };

/** The smallest maxBytes a value passes with, found through the checker alone. */
function measuredBytes(value: unknown): number {
  let low = 0;
  let high = 1 << 24;
  while (low < high) {
    const mid = Math.floor((low + high) / 2);
    if (exceededJsonLimit(value, { ...roomy, maxBytes: mid }) === null) high = mid;
    else low = mid + 1;
  }
  return low;
}

/** Nested `levels` deep, built without recursion: [[[…]]] or {"a":{"a":…}}. */
function nested(levels: number, kind: "array" | "object"): unknown {
  let value: unknown = "bottom";
  for (let i = 0; i < levels; i++) value = kind === "array" ? [value] : { a: value };
  return value;
}

describe("JSON bounds", () => {
  it.each([
    ["a flat object", { name: "planner", port: 8080, ok: true, none: null }],
    ["nested arrays and objects", { a: [1, [2, [3, { b: [] }]], {}], c: { d: { e: -1.5e-7 } } }],
    ["escapes and non-ASCII text", { 'q"uote': "line\nbreak\ttab\\", ü: "€ 𝄞 \u0000 \u2028" }],
    ["numbers JSON writes as null", [Number.NaN, Number.POSITIVE_INFINITY, 1e21, -0]],
    ["members JSON.stringify leaves out", { kept: 1, gone: undefined, alsoGone: () => 1 }],
    ["an empty array", []],
    ["a bare string", "just text"],
  ])("counts the bytes of %s exactly as JSON.stringify writes them", (_name, value) => {
    expect(measuredBytes(value)).toBe(Buffer.byteLength(JSON.stringify(value)));
  });

  it("counts depth as levels of objects and arrays", () => {
    expect(exceededJsonLimit("scalar", { ...roomy, maxDepth: 0 })).toBeNull();
    expect(exceededJsonLimit({}, { ...roomy, maxDepth: 0 })).toMatchObject({ limit: "depth" });
    expect(exceededJsonLimit({ a: [] }, { ...roomy, maxDepth: 2 })).toBeNull();
    expect(exceededJsonLimit({ a: [{}] }, { ...roomy, maxDepth: 2 })).toEqual({
      limit: "depth",
      max: 2,
      at: "a.0",
    });
  });

  it.each([5_000, 100_000])(
    "refuses %i levels of nesting quickly, where JSON.stringify overflows the stack",
    (levels) => {
      for (const kind of ["array", "object"] as const) {
        const value = nested(levels, kind);
        const started = performance.now();
        const exceeded = exceededJsonLimit(value, { maxDepth: 32, maxBytes: 1 << 20 });
        expect(exceeded).toMatchObject({ limit: "depth", max: 32 });
        expect(performance.now() - started).toBeLessThan(200);
      }
      expect(() => JSON.stringify(nested(levels, "object"))).toThrow(RangeError);
    },
  );

  it("stops at the first byte over the limit, without escaping a string that cannot fit", () => {
    const huge = "x".repeat(50_000_000);
    const started = performance.now();
    expect(exceededJsonLimit({ huge }, { maxDepth: 32, maxBytes: 16_384 })).toEqual({
      limit: "size",
      max: 16_384,
    });
    expect(performance.now() - started).toBeLessThan(50);
  });

  it("says what was exceeded, and where", () => {
    expect(describeJsonLimit({ limit: "depth", max: 32, at: "a.b" })).toBe(
      "nests deeper than 32 levels (at a.b)",
    );
    expect(describeJsonLimit({ limit: "size", max: 16_384 })).toBe(
      "is larger than 16384 bytes as JSON",
    );
    const deep = exceededJsonLimit(nested(1000, "object"), { maxDepth: 32, maxBytes: 1 << 20 });
    expect(deep?.limit === "depth" && deep.at.length).toBeLessThanOrEqual(121);
  });
});

import { describe, expect, it } from "vitest";
import { decodeStepKey, encodeStepKey, type StepKey } from "../../src/workflows/step-key.js";

// Rows in workflow_steps carry these ids; a resumed execution must read them as written.
const persisted: [string, StepKey][] = [
  ["plan", { stepId: "plan" }],
  ["each[0]", { stepId: "each", item: 0 }],
  ["each[12]", { stepId: "each", item: 12 }],
  ["plan.compensate", { stepId: "plan", compensation: true }],
  ["each[3].compensate", { stepId: "each", item: 3, compensation: true }],
];

describe("step keys", () => {
  it.each(persisted)("reads and writes %s as it is persisted", (id, key) => {
    expect(decodeStepKey(id)).toEqual(key);
    expect(encodeStepKey(key)).toBe(id);
  });

  it("reads no key from an id the engine never writes", () => {
    for (const id of ["", "each[]", "each[01]", "each[-1]", "each.undo", "each.compensate[1]"]) {
      expect(decodeStepKey(id)).toBeUndefined();
    }
  });
});

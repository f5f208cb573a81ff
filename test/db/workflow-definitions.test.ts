import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createWorkflowRepository, type WorkflowRepository } from "../../src/db/workflows.js";
import type { JsonObject, JsonValue } from "../../src/domain/json.js";
import { openTestDatabase, postgresIsAvailable, type TestDatabase } from "../helpers/database.js";

const postgres = await postgresIsAvailable();

const steps: JsonValue[] = [
  { id: "a", output: { n: 1, x: 0.1, big: 1e21, list: [1, { b: true, a: null }] } },
  { id: "b", output: "{{steps.a.output}}", dependsOn: ["a"] },
];
const definition: JsonObject = {
  type: "SAME_OR_NOT",
  description: 'ünïcødé, "quotes" and a \\ backslash',
  steps,
};

/** The same document, every object's keys written in the other order. */
function reversedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversedKeys);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .reverse()
        .map(([key, item]) => [key, reversedKeys(item)]),
    );
  }
  return value;
}

for (const kind of ["pglite", "postgres"] as const) {
  describe.runIf(kind === "pglite" || postgres)(`workflow definitions on ${kind}`, () => {
    let test: TestDatabase;
    let repository: WorkflowRepository;

    beforeAll(async () => {
      test = await openTestDatabase(kind);
      repository = createWorkflowRepository(test.database.db);
    });
    afterAll(() => test.dispose());
    beforeEach(() => test.truncate());

    it("keeps the version when the same document comes again, in any key order", async () => {
      expect(await repository.saveDefinition("SAME_OR_NOT", definition)).toEqual({
        version: 1,
        created: true,
      });
      expect(await repository.saveDefinition("SAME_OR_NOT", definition)).toEqual({
        version: 1,
        created: false,
      });
      const reordered = reversedKeys(definition) as JsonObject;
      expect(JSON.stringify(reordered)).not.toBe(JSON.stringify(definition));
      expect(await repository.saveDefinition("SAME_OR_NOT", reordered)).toEqual({
        version: 1,
        created: false,
      });
    });

    it("stores a changed document as the next version, and an older one again as the next", async () => {
      await repository.saveDefinition("SAME_OR_NOT", definition);
      const changed = { ...definition, description: "changed" };
      expect(await repository.saveDefinition("SAME_OR_NOT", changed)).toEqual({
        version: 2,
        created: true,
      });
      // Only the newest version is compared with: going back is a new version.
      expect(await repository.saveDefinition("SAME_OR_NOT", definition)).toEqual({
        version: 3,
        created: true,
      });
      // Arrays keep their order: the same steps in another order are another document.
      const swapped = { ...definition, steps: [...steps].reverse() };
      expect(await repository.saveDefinition("SAME_OR_NOT", swapped)).toEqual({
        version: 4,
        created: true,
      });
      // A number and the string of it are different values.
      const asString = { ...definition, steps: [{ id: "a", output: "1" }] };
      const asNumber = { ...definition, steps: [{ id: "a", output: 1 }] };
      expect(await repository.saveDefinition("SAME_OR_NOT", asNumber)).toEqual({
        version: 5,
        created: true,
      });
      expect(await repository.saveDefinition("SAME_OR_NOT", asString)).toEqual({
        version: 6,
        created: true,
      });
      expect((await repository.definition("SAME_OR_NOT", 6))?.definition).toEqual(asString);
    });

    it("versions each type on its own", async () => {
      await repository.saveDefinition("SAME_OR_NOT", definition);
      expect(await repository.saveDefinition("OTHER", { ...definition, type: "OTHER" })).toEqual({
        version: 1,
        created: true,
      });
    });
  });
}

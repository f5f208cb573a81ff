import { readFileSync } from "node:fs";
import { printSchema } from "graphql";
import { describe, expect, it } from "vitest";
import { schema } from "../src/schema/index.js";

describe("schema.graphql", () => {
  it("is the printed Pothos schema (run `npm run schema:print` after changing types)", () => {
    const committed = readFileSync(new URL("../schema.graphql", import.meta.url), "utf8");
    expect(committed).toBe(`${printSchema(schema)}\n`);
  });

  it("keeps the names dashboards code against", () => {
    const printed = printSchema(schema);
    for (const name of [
      "enum ServiceStatus",
      "enum SelectionStrategy",
      "enum CircuitState",
      "type Service ",
      "type ServiceConnection",
      "input RegisterServiceInput",
      "input ServiceFilter",
      "input ServiceWhere",
      "registerService(input: RegisterServiceInput!): Service!",
      "unregisterService(id: ID!): Boolean!",
      "heartbeat(id: ID!, status: ServiceStatus): Service!",
      "updateServiceStatus(id: ID!, status: ServiceStatus!): Service!",
      "services(filter: ServiceFilter, first: Int = 100, after: String): ServiceConnection!",
      "searchServices(where: ServiceWhere!, first: Int = 100, after: String): ServiceConnection!",
      "serviceByType(type: String!, strategy: SelectionStrategy = ROUND_ROBIN): Service",
    ]) {
      expect(printed).toContain(name);
    }
  });
});

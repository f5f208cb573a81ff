import { readFileSync } from "node:fs";
import { buildSchema, Kind, parse, validate } from "graphql";
import { describe, expect, it } from "vitest";

/**
 * Every GraphQL block of the README pastes into GraphiQL as it is: it parses, validates
 * against the schema the gateway serves, and names its operations when it holds several.
 */
const schema = buildSchema(readFileSync(new URL("../schema.graphql", import.meta.url), "utf8"));
const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const blocks = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((match) => match[1] ?? "");

describe("the README's GraphQL examples", () => {
  it("has some", () => {
    expect(blocks.length).toBeGreaterThan(5);
  });

  it.each(blocks.map((block, i) => [i + 1, block] as const))("block %i is valid", (_n, block) => {
    const document = parse(block);
    expect(validate(schema, document).map((error) => error.message)).toEqual([]);
    const operations = document.definitions.filter(
      (definition) => definition.kind === Kind.OPERATION_DEFINITION,
    );
    if (operations.length > 1) {
      expect(operations.every((operation) => operation.name)).toBe(true);
    }
  });
});

import { readFileSync } from "node:fs";
import { buildSchema, parse, validate } from "graphql";
import { describe, expect, it } from "vitest";
import { operations } from "../../dashboard/src/operations.js";

// The dashboard is typed against schema.graphql: every document it sends must validate
// against the schema the gateway serves, so a rename fails here and not in a browser.
describe("the dashboard's GraphQL documents", () => {
  const schema = buildSchema(
    readFileSync(new URL("../../schema.graphql", import.meta.url), "utf8"),
  );

  for (const [name, document] of Object.entries(operations)) {
    it(`${name} is valid against schema.graphql`, () => {
      expect(validate(schema, parse(document)).map((error) => error.message)).toEqual([]);
    });
  }
});

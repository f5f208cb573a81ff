import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OPERATION_LIMITS } from "../../src/http/operation-limits.js";
import { errorCodeOf, startGateway, type TestGateway } from "../helpers/gateway.js";

const aliases = (count: number) =>
  `{ ${Array.from({ length: count }, (_, i) => `a${i}: __typename`).join(" ")} }`;
/** `levels` brackets open at once: `{`, `(`, `{`, then a list of lists as the tags. */
const nested = (levels: number) =>
  `{ services(filter: { tags: ${"[".repeat(levels - 3)}"t"${"]".repeat(levels - 3)} }) { totalCount } }`;

describe("operation limits", () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway.stop());

  it("holds each document limit at its boundary", async () => {
    expect((await gateway.graphql(aliases(OPERATION_LIMITS.maxAliases))).errors).toBeUndefined();
    const tooMany = await gateway.graphql(aliases(OPERATION_LIMITS.maxAliases + 1));
    expect(tooMany.errors?.[0]?.extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      limit: "aliases",
    });
    // Within the nesting limit the document parses, and fails only as a list of lists would.
    const deepest = await gateway.graphql(nested(OPERATION_LIMITS.maxNesting));
    expect(deepest.errors?.[0]?.extensions?.limit).toBeUndefined();
    const tooDeep = await gateway.graphql(nested(OPERATION_LIMITS.maxNesting + 1));
    expect(tooDeep.errors?.[0]?.extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      limit: "nesting",
    });
  });

  it("counts directives, over HTTP and graphql-ws alike (one parse)", async () => {
    const directives = (count: number) =>
      `{ ${Array.from({ length: count }, () => "__typename @include(if: true)").join(" ")} }`;
    const atLimit = await gateway.graphql(directives(OPERATION_LIMITS.maxDirectives));
    expect(atLimit.errors).toBeUndefined();
    const tooMany = await gateway.graphql(directives(OPERATION_LIMITS.maxDirectives + 1));
    expect(tooMany.errors?.[0]?.extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      limit: "directives",
    });
    // Directives on one field count as much as on many.
    const onOne = `{ __typename ${"@skip(if: false) ".repeat(OPERATION_LIMITS.maxDirectives + 1)}}`;
    expect((await gateway.graphql(onOne)).errors?.[0]?.extensions?.limit).toBe("directives");
  });

  it("prices one cached document by the variables of each request", async () => {
    const query = `query($n: Int) { services(first: 100) { nodes { statusHistory(first: $n) { status } } } }`;
    const cheap = await gateway.graphql(query, { n: 10 });
    expect(cheap.errors).toBeUndefined();
    const costly = await gateway.graphql(query, { n: 500 });
    expect(costly.errors?.[0]?.extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      limit: "complexity",
    });
    expect((await gateway.graphql(query, { n: 10 })).errors).toBeUndefined();
  });

  it("leaves a variable of the wrong type to execution, which names it", async () => {
    const wrong = await gateway.graphql(`query($n: Int) { services(first: $n) { totalCount } }`, {
      n: "many",
    });
    expect(errorCodeOf(wrong)).toBe("BAD_USER_INPUT");
    expect(wrong.errors?.[0]?.extensions?.field).toBe("$n");
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runExample } from "../../examples/federation/run.js";
import {
  authHeaders,
  STANDARD_ADMIN_TOKEN,
  startGateway,
  type TestGateway,
  tokensMode,
} from "../helpers/gateway.js";
import { eventually } from "../helpers/wait.js";

/** The README's Federation example, as written there: its query and the answer it shows. */
const README_QUERY = "{ products { name price reviewCount reviews { body } } }";
const README_ANSWER = {
  data: {
    products: [
      {
        name: "Anvil",
        price: 12.5,
        reviewCount: 2,
        reviews: [{ body: "Heavy." }, { body: "Fell on my foot." }],
      },
      { name: "Rope", price: 3, reviewCount: 1, reviews: [{ body: "Long enough." }] },
      { name: "Lantern", price: 20, reviewCount: 0, reviews: [] },
    ],
  },
};

describe("the README's federation example", () => {
  let gateway: TestGateway;
  let example: Awaited<ReturnType<typeof runExample>>;
  beforeAll(async () => {
    gateway = await startGateway();
    example = await runExample({
      gatewayUrl: gateway.url,
      token: tokensMode ? STANDARD_ADMIN_TOKEN : undefined,
      productsPort: 0,
      reviewsPort: 0,
    });
  });
  afterAll(async () => {
    await example.stop();
    await gateway.stop();
  });

  it("answers the README's query with the README's answer", async () => {
    await eventually(async () => {
      const response = await fetch(`${gateway.url}/federation/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", ...authHeaders() },
        body: JSON.stringify({ query: README_QUERY }),
      });
      expect(await response.json()).toEqual(README_ANSWER);
    });
  });

  it("unregisters both subgraphs when stopped", async () => {
    await example.stop();
    await gateway.app.services.supergraph.refresh();
    const { data } = await gateway.graphql<{ supergraph: { subgraphs: unknown[] } }>(
      "{ supergraph { subgraphs { type } } }",
    );
    expect(data?.supergraph.subgraphs).toEqual([]);
  });
});

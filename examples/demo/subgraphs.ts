import { productsSubgraph, reviewsSubgraph, startSubgraph } from "../federation/subgraphs.js";
import { type DemoService, HEARTBEATS } from "./demo-service.js";

/**
 * The federation example's PRODUCTS and REVIEWS subgraphs, registered with their API
 * (`graphql`), so that the gateway composes them into the graph at /federation/graphql.
 */
export async function startSubgraphs(): Promise<DemoService[]> {
  const subgraphs = [
    { id: "products-1", name: "Products", type: "products", spec: productsSubgraph().spec },
    { id: "reviews-1", name: "Reviews", type: "reviews", spec: reviewsSubgraph().spec },
  ];
  return Promise.all(
    subgraphs.map(async ({ spec, ...registration }) => {
      const subgraph = await startSubgraph(spec);
      return {
        registration: {
          ...registration,
          version: "1.0.0",
          baseUrl: subgraph.baseUrl,
          graphql: { path: "/graphql", kind: "FEDERATION" as const },
          ...HEARTBEATS,
        },
        close: subgraph.close,
      };
    }),
  );
}

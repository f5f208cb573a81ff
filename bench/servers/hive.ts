/**
 * B_hive for `bench:federation`: a bare Hive gateway runtime with its default fetch,
 * planning over a static supergraph composed here (composeServices) from the same
 * subgraph SDLs the gateway composes, under the same subgraph names, with the subgraphs'
 * real URLs. argv[2]: JSON { products, reviews }, the subgraphs' base URLs.
 */
import { createServer } from "node:http";
import { createGatewayRuntime } from "@graphql-hive/gateway-runtime";
import httpTransport from "@graphql-mesh/transport-http";
import { composeServices, compositionHasErrors } from "@theguild/federation-composition";
import { parse } from "graphql";
import { productsSubgraph, reviewsSubgraph } from "../../examples/federation/subgraphs.js";
import { announce, portOf } from "./ready.js";

const urls = JSON.parse(process.argv[2] ?? "{}") as { products: string; reviews: string };
const composition = composeServices([
  {
    name: "PRODUCTS",
    url: `${urls.products}/graphql`,
    typeDefs: parse(productsSubgraph().spec.sdl),
  },
  { name: "REVIEWS", url: `${urls.reviews}/graphql`, typeDefs: parse(reviewsSubgraph().spec.sdl) },
]);
if (compositionHasErrors(composition)) {
  throw new Error(composition.errors.map((error) => error.message).join("\n"));
}

const runtime = createGatewayRuntime({
  supergraph: composition.supergraphSdl,
  transports: { http: httpTransport },
});
const server = createServer(runtime);
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => announce(portOf(server)));

process.on("SIGTERM", () => {
  server.closeAllConnections();
  server.close();
  void Promise.resolve(runtime.dispose()).finally(() => process.exit(0));
});

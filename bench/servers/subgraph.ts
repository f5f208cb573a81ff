/**
 * One federation subgraph for `bench:federation`, in its own process: the test fixture
 * named by argv[2] (`products`, `reviews` or `inventory`), a graphql-yoga server serving
 * `_service` and `_entities` at /graphql.
 */
import {
  inventorySubgraph,
  productsSubgraph,
  reviewsSubgraph,
  type SubgraphSpec,
  startSubgraph,
} from "../../examples/federation/subgraphs.js";
import { announce } from "./ready.js";

const specs: Record<string, () => SubgraphSpec> = {
  products: () => productsSubgraph().spec,
  reviews: () => reviewsSubgraph().spec,
  inventory: () => inventorySubgraph().spec,
};

const name = process.argv[2] ?? "";
const spec = specs[name];
if (!spec) throw new Error(`unknown subgraph ${name}: one of ${Object.keys(specs).join(", ")}`);
const subgraph = await startSubgraph(spec());
// The fixture keeps every request it received, for the tests to inspect; under load that
// would grow without bound and slow the later rounds with garbage collection.
setInterval(() => {
  subgraph.received.length = 0;
}, 1000).unref();
announce(subgraph.port);

process.on("SIGTERM", () => {
  void subgraph.close().then(() => process.exit(0));
});

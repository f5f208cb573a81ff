/**
 * One load run of `bench:federation`, in its own process so the runner can pin it to a
 * core of its own. argv[2]: JSON FederationLoadRequest; prints one JSON LoadResult.
 *
 * `connections` loops run operations back to back over as many keep-alive connections
 * per origin, and every operation's latency is recorded. An operation is what a client
 * makes to get `{ products { id name price reviewCount } }`: one request to the gateway
 * or to B_hive; for B_direct, the products query to PRODUCTS and then, with its ids, the
 * `_entities` query to REVIEWS. autocannon times single requests, so it cannot time
 * B_direct's pair; all three are timed by this one loop, the same way.
 */
import { Pool } from "undici";
import { FEDERATED_QUERY } from "./federation-query.js";
import type { LoadResult } from "./load.js";
import { BENCH_TOKEN } from "./token.js";

export type FederationLoadRequest = {
  target: "gateway" | "hive" | "direct";
  /** gateway: the gateway's port; hive: B_hive's; direct: PRODUCTS' (REVIEWS' below). */
  port: number;
  reviewsPort?: number;
  connections: number;
  durationSeconds: number;
};

const PRODUCTS_QUERY = "{ products { id name price } }";
const ENTITIES_QUERY =
  "query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { reviewCount } } }";
/** Untimed, at the start of every run: connections open and code paths warm. */
const PRE_WARM_MS = 500;

type Product = { id: string; name: string | null; price: number | null; reviewCount: unknown };
type Answer<T> = { data?: T | null; errors?: unknown[] };

const request = JSON.parse(process.argv[2] ?? "{}") as FederationLoadRequest;
const headers = {
  "content-type": "application/json",
  accept: "application/json",
  // The gateway runs in tokens mode; the baselines ignore the header.
  authorization: `Bearer ${BENCH_TOKEN}`,
};
const poolFor = (port: number) =>
  new Pool(`http://127.0.0.1:${port}`, { connections: request.connections });
const pools: Pool[] = [];

/** A failure the server answered: GraphQL errors, or a product without its reviewCount. */
class Failed extends Error {}
class Non2xx extends Error {}

async function post<T>(pool: Pool, path: string, body: unknown): Promise<Answer<T>> {
  const response = await pool.request({
    path,
    method: "POST",
    headers,
    body: JSON.stringify(body),
  });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Non2xx(`HTTP ${response.statusCode}`);
  const answer = JSON.parse(text) as Answer<T>;
  if (answer.errors) throw new Failed("GraphQL errors");
  return answer;
}

function complete(products: Product[] | undefined): void {
  if (products?.length !== 3 || products.some((p) => typeof p.reviewCount !== "number")) {
    throw new Failed("incomplete answer");
  }
}

function operationFor(): () => Promise<void> {
  if (request.target === "direct") {
    const products = poolFor(request.port);
    const reviews = poolFor(request.reviewsPort ?? 0);
    pools.push(products, reviews);
    return async () => {
      const listed = await post<{ products: Omit<Product, "reviewCount">[] }>(
        products,
        "/graphql",
        { query: PRODUCTS_QUERY },
      );
      const list = listed.data?.products ?? [];
      const entities = await post<{ _entities: ({ reviewCount: number } | null)[] }>(
        reviews,
        "/graphql",
        {
          query: ENTITIES_QUERY,
          variables: { representations: list.map(({ id }) => ({ __typename: "Product", id })) },
        },
      );
      complete(
        list.map((product, i) => ({
          ...product,
          reviewCount: entities.data?._entities[i]?.reviewCount,
        })),
      );
    };
  }
  const pool = poolFor(request.port);
  pools.push(pool);
  const path = request.target === "gateway" ? "/federation/graphql" : "/graphql";
  return async () => {
    const answer = await post<{ products: Product[] }>(pool, path, { query: FEDERATED_QUERY });
    complete(answer.data?.products);
  };
}

async function drive(operation: () => Promise<void>, durationMs: number, latencies?: number[]) {
  let errors = 0;
  let non2xx = 0;
  let failed = 0;
  const until = performance.now() + durationMs;
  await Promise.all(
    Array.from({ length: request.connections }, async () => {
      while (performance.now() < until) {
        const started = performance.now();
        try {
          await operation();
          latencies?.push(performance.now() - started);
        } catch (error) {
          if (error instanceof Failed) failed += 1;
          else if (error instanceof Non2xx) non2xx += 1;
          else errors += 1;
        }
      }
    }),
  );
  return { errors, non2xx, failed };
}

const operation = operationFor();
await drive(operation, PRE_WARM_MS);
const latencies: number[] = [];
const started = performance.now();
const { errors, non2xx, failed } = await drive(
  operation,
  request.durationSeconds * 1000,
  latencies,
);
const elapsedSeconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const at = (q: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
const round = (ms: number) => Math.round(ms * 10) / 10;
const out: LoadResult = {
  rps: latencies.length / elapsedSeconds,
  p50: round(at(0.5)),
  p99: round(at(0.99)),
  errors,
  non2xx,
  graphqlErrors: failed,
};
await Promise.all(pools.map((pool) => pool.close()));
process.stdout.write(`${JSON.stringify(out)}\n`);

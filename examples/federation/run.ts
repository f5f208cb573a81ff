/**
 * The README's federation example: two subgraph services, PRODUCTS and REVIEWS, started
 * here and registered with a running gateway, heartbeating until Ctrl-C unregisters them.
 *
 *   npx tsx examples/federation/run.ts
 *
 *   GATEWAY_URL    the gateway (default http://localhost:8090)
 *   GATEWAY_TOKEN  a token with registerServices, in tokens mode
 *   PRODUCTS_PORT  default 4101;  REVIEWS_PORT  default 4201
 */
import { productsSubgraph, reviewsSubgraph, startSubgraph } from "./subgraphs.js";

const HEARTBEAT_SECONDS = 10;

type Registered = { stop(): Promise<void> };

/** Starts both subgraphs, registers them, and keeps them registered until stopped. */
export async function runExample({
  gatewayUrl,
  token,
  productsPort = 4101,
  reviewsPort = 4201,
}: {
  gatewayUrl: string;
  token?: string;
  productsPort?: number;
  reviewsPort?: number;
}): Promise<Registered> {
  const graphql = async (query: string, variables: Record<string, unknown>) => {
    const response = await fetch(`${gatewayUrl}/graphql`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { errors?: { message: string }[] };
    if (body.errors?.length) throw new Error(body.errors.map((e) => e.message).join("; "));
  };
  const subgraphs = [
    { id: "products-1", type: "products", spec: productsSubgraph().spec, port: productsPort },
    { id: "reviews-1", type: "reviews", spec: reviewsSubgraph().spec, port: reviewsPort },
  ];
  const running: { id: string; subgraph: Awaited<ReturnType<typeof startSubgraph>> }[] = [];
  for (const { id, type, spec, port } of subgraphs) {
    const subgraph = await startSubgraph(spec, { port });
    running.push({ id, subgraph });
    await graphql(
      `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`,
      {
        input: {
          id,
          name: `${type} (federation example)`,
          type,
          version: "1.0.0",
          baseUrl: subgraph.baseUrl,
          graphql: { path: "/graphql", kind: "FEDERATION" },
          heartbeatIntervalSeconds: HEARTBEAT_SECONDS,
          ttlSeconds: HEARTBEAT_SECONDS * 3,
        },
      },
    );
  }
  const heartbeats = setInterval(() => {
    for (const { id } of running) {
      graphql(`mutation($id: ID!) { heartbeat(id: $id) { id } }`, { id }).catch(() => {});
    }
  }, HEARTBEAT_SECONDS * 1000);
  return {
    async stop() {
      clearInterval(heartbeats);
      for (const { id, subgraph } of running) {
        await graphql(`mutation($id: ID!) { unregisterService(id: $id) }`, { id }).catch(() => {});
        await subgraph.close();
      }
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const gatewayUrl = process.env.GATEWAY_URL ?? "http://localhost:8090";
  const example = await runExample({
    gatewayUrl,
    token: process.env.GATEWAY_TOKEN,
    productsPort: Number(process.env.PRODUCTS_PORT ?? 4101),
    reviewsPort: Number(process.env.REVIEWS_PORT ?? 4201),
  });
  console.log(
    `PRODUCTS and REVIEWS registered with ${gatewayUrl}; query them at ${gatewayUrl}/federation/graphql (Ctrl-C unregisters them)`,
  );
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      void example.stop().then(() => process.exit(0));
    });
  }
}

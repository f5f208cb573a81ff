import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createClient } from "graphql-ws";
import { createSchema, createYoga } from "graphql-yoga";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  conflictingSubgraph,
  inventorySubgraph,
  productsSubgraph,
  type RunningSubgraph,
  reviewsSubgraph,
  startSubgraph,
} from "../../examples/federation/subgraphs.js";
import {
  authHeaders,
  dataOf,
  startGateway,
  type TestGateway,
  wsConnectionParams,
} from "../helpers/gateway.js";
import { eventually } from "../helpers/wait.js";

const REGISTER = `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`;
const SUPERGRAPH = /* GraphQL */ `
  {
    supergraph {
      status sdl errors warnings composedAt
      subgraphs { type kind version instances callable }
    }
  }
`;

type Supergraph = {
  status: string;
  sdl: string | null;
  errors: string[];
  warnings: string[];
  composedAt: string | null;
  subgraphs: { type: string; kind: string; version: string; instances: number; callable: number }[];
};

type FetchExplained = {
  type: string;
  instanceId: string | null;
  attempts: number;
  instances: string[];
  breakerState: string | null;
  sdlMatched: boolean | null;
  durationMs: number;
  outcome: string;
};

describe("the federated graph", () => {
  let gateway: TestGateway;
  let products: RunningSubgraph;
  let reviews: RunningSubgraph;
  const extra: RunningSubgraph[] = [];

  const register = (
    id: string,
    type: string,
    baseUrl: string,
    { version = "1.0.0", kind = "FEDERATION", metadata = {} } = {},
  ) =>
    gateway.graphql(REGISTER, {
      input: { id, name: id, type, version, baseUrl, graphql: { kind }, metadata },
    });
  /** A federated query with `x-gateway-explain: 1`: its data and the fetches explained. */
  const explained = async <T>(query: string) => {
    const response = await fetch(`${gateway.url}/federation/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-gateway-explain": "1", ...authHeaders() },
      body: JSON.stringify({ query }),
    });
    const body = (await response.json()) as {
      data: T;
      extensions?: { explain: { fetches: FetchExplained[] } };
    };
    return { data: body.data, fetches: body.extensions?.explain.fetches ?? [] };
  };
  const supergraph = async () =>
    dataOf(await gateway.graphql<{ supergraph: Supergraph }>(SUPERGRAPH)).supergraph;
  const composed = () => gateway.app.services.supergraph.refresh();
  const start = async (spec: Parameters<typeof startSubgraph>[0]) => {
    const running = await startSubgraph(spec);
    extra.push(running);
    return running;
  };

  beforeAll(async () => {
    products = await startSubgraph(productsSubgraph().spec);
    reviews = await startSubgraph(reviewsSubgraph().spec);
    gateway = await startGateway({ federation: { forwardHeaders: ["x-tenant"] } });
  });
  afterAll(async () => {
    await gateway.stop();
    await products.close();
    await reviews.close();
  });
  afterEach(async () => {
    await gateway.removeAllServices();
    await composed();
    for (const running of extra.splice(0)) await running.close();
  });

  async function registerBoth() {
    dataOf(await register("products-1", "products", products.baseUrl));
    dataOf(await register("reviews-1", "reviews", reviews.baseUrl));
    await composed();
  }

  it("answers 503 naming why while nothing is composed", async () => {
    const response = await fetch(`${gateway.url}/federation/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", ...authHeaders() },
      body: JSON.stringify({ query: "{ __typename }" }),
    });
    expect(response.status).toBe(503);
    const body = (await response.json()) as {
      errors: { message: string; extensions: { code: string } }[];
    };
    expect(body.errors[0]?.extensions.code).toBe("SERVICE_UNAVAILABLE");
    expect(body.errors[0]?.message).toMatch(/declares a GraphQL API/);
    expect((await supergraph()).status).toBe("EMPTY");
  });

  it("composes the registered types and answers one query spanning both", async () => {
    await registerBoth();
    const graph = await supergraph();
    expect(graph.status).toBe("COMPOSED");
    expect(graph.sdl).toContain("join__Graph");
    expect(graph.subgraphs).toEqual([
      { type: "PRODUCTS", kind: "FEDERATION", version: "1.0.0", instances: 1, callable: 1 },
      { type: "REVIEWS", kind: "FEDERATION", version: "1.0.0", instances: 1, callable: 1 },
    ]);
    const answer = await gateway.federated(`{ products { id name reviewCount reviews { body } } }`);
    expect(answer.errors).toBeUndefined();
    expect(answer.data).toEqual({
      products: [
        {
          id: "p1",
          name: "Anvil",
          reviewCount: 2,
          reviews: [{ body: "Heavy." }, { body: "Fell on my foot." }],
        },
        { id: "p2", name: "Rope", reviewCount: 1, reviews: [{ body: "Long enough." }] },
        { id: "p3", name: "Lantern", reviewCount: 0, reviews: [] },
      ],
    });
  });

  it("sends fetches to the instances of a type in turn", async () => {
    const second = await start(productsSubgraph({ instance: "products-2" }).spec);
    await registerBoth();
    dataOf(await register("products-2", "products", second.baseUrl));
    await composed();
    const servedBy: string[] = [];
    for (let i = 0; i < 4; i++) {
      servedBy.push(
        String(dataOf(await gateway.federated<{ servedBy: string }>("{ servedBy }")).servedBy),
      );
    }
    expect(servedBy.sort()).toEqual(["products", "products", "products-2", "products-2"]);
    // One health flap of one instance of two changes routing, not the graph.
    const before = (await supergraph()).composedAt;
    dataOf(
      await gateway.graphql(
        `mutation { updateServiceStatus(id: "products-2", status: OFFLINE) { id } }`,
      ),
    );
    await composed();
    const after = await supergraph();
    expect(after.composedAt).toBe(before);
    expect(after.subgraphs.find((s) => s.type === "PRODUCTS")).toMatchObject({
      instances: 2,
      callable: 1,
    });
    for (let i = 0; i < 3; i++) {
      expect(dataOf(await gateway.federated<{ servedBy: string }>("{ servedBy }")).servedBy).toBe(
        "products",
      );
    }
  });

  it("loses no query when an instance dies mid-run", async () => {
    const second = await startSubgraph(productsSubgraph({ instance: "products-2" }).spec);
    await registerBoth();
    dataOf(await register("products-2", "products", second.baseUrl));
    await composed();
    const answers = [];
    for (let i = 0; i < 30; i++) {
      if (i === 10) await second.kill();
      answers.push(await gateway.federated(`{ products { id name reviewCount } }`));
    }
    expect(answers.filter((answer) => answer.errors)).toEqual([]);
    expect(
      answers.map((answer) => (answer.data?.products as unknown[] | undefined)?.length),
    ).toEqual(Array(30).fill(3));
  });

  it("answers the rest of the data when every instance of a type is down", async () => {
    const lonelyReviews = await start(reviewsSubgraph().spec);
    dataOf(await register("products-1", "products", products.baseUrl));
    dataOf(await register("reviews-9", "reviews", lonelyReviews.baseUrl));
    await composed();
    await lonelyReviews.kill();
    const unreachable = await gateway.federated<{
      products: { name: string; reviewCount: number | null }[];
    }>(`{ products { id name reviewCount } }`);
    expect(
      unreachable.data?.products.map((product) => [product.name, product.reviewCount]),
    ).toEqual([
      ["Anvil", null],
      ["Rope", null],
      ["Lantern", null],
    ]);
    // One error for the one failed fetch, not one per product it was asked about.
    expect(unreachable.errors).toHaveLength(1);
    expect(unreachable.errors?.[0]?.path).toEqual(["products", "reviewCount"]);
    for (const error of unreachable.errors ?? []) {
      expect(error.extensions).toMatchObject({
        code: "SERVICE_UNAVAILABLE",
        serviceType: "REVIEWS",
      });
    }

    // An instance nothing may call (in maintenance) is never tried at all.
    const callsBefore = lonelyReviews.received.length;
    dataOf(
      await gateway.graphql(
        `mutation { updateServiceStatus(id: "reviews-9", status: MAINTENANCE) { id } }`,
      ),
    );
    await composed();
    // Still in the graph, so the query validates; only its fields fail.
    expect((await supergraph()).subgraphs.map((s) => s.type)).toContain("REVIEWS");
    const maintenance = await gateway.federated<{ products: { reviewCount: number | null }[] }>(
      `{ products { id name reviewCount } }`,
    );
    expect(maintenance.data?.products).toHaveLength(3);
    expect(maintenance.errors?.[0]?.extensions).toMatchObject({
      code: "SERVICE_UNAVAILABLE",
      serviceType: "REVIEWS",
    });
    expect(maintenance.errors?.[0]?.message).toMatch(/No REVIEWS instance/);
    expect(lonelyReviews.received.length).toBe(callsBefore);
  });

  it("drops a type from the graph when its last instance unregisters", async () => {
    await registerBoth();
    dataOf(await gateway.graphql(`mutation { unregisterService(id: "reviews-1") }`));
    await composed();
    expect((await supergraph()).subgraphs.map((s) => s.type)).toEqual(["PRODUCTS"]);
    const answer = await gateway.federated(`{ products { id reviewCount } }`);
    expect(answer.errors?.[0]?.message).toMatch(/Cannot query field "reviewCount"/);
  });

  it("puts a newly registered type in the graph without a restart, within a second", async () => {
    await registerBoth();
    const inventory = await start(inventorySubgraph().spec);
    const registeredAt = performance.now();
    dataOf(await register("inventory-1", "inventory", inventory.baseUrl));
    // No refresh by hand: the registration's event composes it.
    await eventually(async () => {
      const answer = await gateway.federated(`{ products { name inStock } }`);
      expect(answer.errors).toBeUndefined();
      expect(answer.data).toEqual({
        products: [
          { name: "Anvil", inStock: true },
          { name: "Rope", inStock: false },
          { name: "Lantern", inStock: true },
        ],
      });
    });
    expect(performance.now() - registeredAt).toBeLessThan(5000);
  });

  it("keeps the last good graph when a type's SDL does not compose, and says why", async () => {
    await registerBoth();
    const good = await supergraph();
    const conflicting = await start(conflictingSubgraph().spec);
    dataOf(await register("conflicting-1", "conflicting", conflicting.baseUrl));
    await composed();
    const failed = await supergraph();
    expect(failed.status).toBe("FAILED");
    expect(failed.errors.join("\n")).toMatch(/Product\.name/);
    expect(failed.sdl).toBe(good.sdl);
    expect(failed.composedAt).toBe(good.composedAt);
    // The last good graph serves on.
    expect(dataOf(await gateway.federated(`{ products { name reviewCount } }`))).toMatchObject({
      products: [{ name: "Anvil", reviewCount: 2 }, {}, {}],
    });
    const health = dataOf(
      await gateway.graphql<{ systemHealth: { status: string; reasons: string[] } }>(
        "{ systemHealth { status reasons } }",
      ),
    );
    expect(health.systemHealth.status).not.toBe("HEALTHY");
    expect(health.systemHealth.reasons.join("\n")).toMatch(/supergraph composition failed/);
    expect((await fetch(`${gateway.url}/health/ready`)).status).toBe(200);
    // Unregistering the culprit composes again.
    dataOf(await gateway.graphql(`mutation { unregisterService(id: "conflicting-1") }`));
    await composed();
    expect((await supergraph()).status).toBe("COMPOSED");
  });

  it("finishes a mutation in flight across a recomposition, executed once and answered 200", async () => {
    const slow = productsSubgraph({ instance: "slow", mutationDelayMs: 400 });
    const slowProducts = await start(slow.spec);
    dataOf(await register("products-slow", "products", slowProducts.baseUrl));
    dataOf(await register("reviews-1", "reviews", reviews.baseUrl));
    await composed();
    const inventory = await start(inventorySubgraph().spec);
    const inFlight = fetch(`${gateway.url}/federation/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", ...authHeaders() },
      body: JSON.stringify({ query: `mutation { addProduct(name: "Kettle") { id name } }` }),
    });
    await eventually(() => expect(slow.mutations.count).toBe(1));
    dataOf(await register("inventory-1", "inventory", inventory.baseUrl));
    await composed();
    expect((await supergraph()).subgraphs.map((s) => s.type)).toContain("INVENTORY");
    // A request on the new graph while the mutation is still running on the old one.
    expect(dataOf(await gateway.federated(`{ products { name inStock } }`))).toMatchObject({
      products: [{ name: "Anvil", inStock: true }, {}, {}],
    });
    expect(slow.mutations.count).toBe(1);
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { addProduct: { id: "p101", name: "Kettle" } } });
    expect(slow.mutations.count).toBe(1);
  });

  it("routes to the instances that serve the composed SDL during a rolling deploy", async () => {
    const v2 = await start(
      productsSubgraph({ instance: "v2", extraProductFields: "weight: Int" }).spec,
    );
    await registerBoth();
    dataOf(await register("products-v2", "products", v2.baseUrl, { version: "2.0.0" }));
    await composed();
    const graph = await supergraph();
    expect(graph.subgraphs.find((s) => s.type === "PRODUCTS")).toMatchObject({
      version: "2.0.0",
      instances: 2,
    });
    // Only v2 can answer weight: every fetch goes there.
    for (let i = 0; i < 4; i++) {
      const { data, fetches } = await explained<{ servedBy: string }>(
        "{ servedBy products { weight } }",
      );
      expect(data.servedBy).toBe("v2");
      expect(fetches[0]).toMatchObject({
        type: "PRODUCTS",
        instanceId: "products-v2",
        sdlMatched: true,
        outcome: "ok",
      });
    }
    // With v2 in maintenance, v1 answers at once: until the graph is composed again,
    // explain says its SDL is not the composed one; then v1 is the newest callable
    // version, the graph is composed from it, and it matches. (Which of the two the
    // first fetch sees is a race with the recomposition the status change starts.)
    dataOf(
      await gateway.graphql(
        `mutation { updateServiceStatus(id: "products-v2", status: MAINTENANCE) { id } }`,
      ),
    );
    const fallback = await explained<{ servedBy: string }>("{ servedBy }");
    expect(fallback.data.servedBy).toBe("products");
    expect(fallback.fetches[0]).toMatchObject({ instanceId: "products-1" });
    await composed();
    expect((await supergraph()).subgraphs.find((s) => s.type === "PRODUCTS")).toMatchObject({
      version: "1.0.0",
    });
    const recomposed = await explained<{ servedBy: string }>("{ servedBy }");
    expect(recomposed.data.servedBy).toBe("products");
    expect(recomposed.fetches[0]).toMatchObject({ instanceId: "products-1", sdlMatched: true });
  });

  it("explains each subgraph fetch only when asked", async () => {
    await registerBoth();
    const query = "{ products { id reviewCount } }";
    const { fetches } = await explained(query);
    expect(
      fetches.map((f) => [f.type, f.instanceId, f.attempts, f.breakerState, f.outcome]),
    ).toEqual([
      ["PRODUCTS", "products-1", 1, "CLOSED", "ok"],
      ["REVIEWS", "reviews-1", 1, "CLOSED", "ok"],
    ]);
    expect(fetches[0]?.durationMs).toBeGreaterThan(0);
    const plain = await fetch(`${gateway.url}/federation/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", ...authHeaders() },
      body: JSON.stringify({ query }),
    });
    expect(((await plain.json()) as { extensions?: unknown }).extensions).toBeUndefined();
  });

  it("passes x-request-id, traceparent and the allowed headers on, never the caller's token", async () => {
    await registerBoth();
    const seen = products.received.length;
    const response = await fetch(`${gateway.url}/federation/graphql`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-request-id": "req-federated-1",
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "x-tenant": "acme",
        "x-not-forwarded": "secret",
        // The gateway's own token in tokens mode; any bearer in open mode.
        authorization: authHeaders().authorization ?? "Bearer some-caller-token-0123456789",
      },
      body: JSON.stringify({ query: "{ servedBy }" }),
    });
    expect(response.status).toBe(200);
    const sent = products.received.slice(seen).at(-1)?.headers ?? {};
    expect(sent["x-request-id"]).toBe("req-federated-1");
    expect(sent.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(sent["x-tenant"]).toBe("acme");
    expect(sent["x-not-forwarded"]).toBeUndefined();
    expect(sent.authorization).toBeUndefined();
  });

  it("composes a plain GraphQL API, introspected, next to the subgraphs", async () => {
    const plain = createYoga({
      schema: createSchema({
        typeDefs: "type Query { weather(city: String!): String }",
        resolvers: {
          Query: { weather: (_root: unknown, { city }: { city: string }) => `Sunny in ${city}` },
        },
      }),
      logging: false,
    });
    const server = createServer(plain);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      await registerBoth();
      const { port } = server.address() as AddressInfo;
      dataOf(await register("weather-1", "weather", `http://127.0.0.1:${port}`, { kind: "PLAIN" }));
      await composed();
      expect((await supergraph()).subgraphs.find((s) => s.type === "WEATHER")?.kind).toBe("PLAIN");
      expect(
        dataOf(await gateway.federated(`{ weather(city: "Oslo") products { name } }`)),
      ).toMatchObject({
        weather: "Sunny in Oslo",
        products: [{ name: "Anvil" }, {}, {}],
      });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("warns of non-null fields a type owns on shared types", async () => {
    const strict = await start({
      ...reviewsSubgraph().spec,
      sdl: reviewsSubgraph().spec.sdl.replace("reviewCount: Int", "reviewCount: Int!"),
    });
    dataOf(await register("products-1", "products", products.baseUrl));
    dataOf(await register("reviews-strict", "reviews", strict.baseUrl, { version: "2.0.0" }));
    await composed();
    const { warnings } = await supergraph();
    expect(
      warnings.some((warning) =>
        /REVIEWS owns the non-null field Product\.reviewCount/.test(warning),
      ),
    ).toBe(true);
    expect(warnings.some((warning) => /Product\.reviews\b/.test(warning))).toBe(false);
  });

  it("streams a federated subscription over SSE, each event joined across subgraphs", async () => {
    await registerBoth();
    const response = await fetch(`${gateway.url}/federation/graphql`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "text/event-stream",
        ...authHeaders(),
      },
      body: JSON.stringify({ query: "subscription { priceChanged { id price reviewCount } }" }),
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    const events = text
      .split("\n")
      .filter((line) => line.startsWith("data: ") && line !== "data: ")
      .map((line) => JSON.parse(line.slice(6)) as { data: { priceChanged: unknown } });
    expect(events.map((event) => event.data.priceChanged)).toEqual([
      { id: "p1", price: 12.5, reviewCount: 2 },
      { id: "p2", price: 4, reviewCount: 1 },
      { id: "p3", price: 22, reviewCount: 0 },
    ]);
  });

  it("counts subgraph fetches and compositions in the metrics", async () => {
    await registerBoth();
    dataOf(await gateway.federated(`{ products { id reviewCount } }`));
    const metrics = await (
      await fetch(`${gateway.url}/metrics`, { headers: authHeaders() })
    ).text();
    expect(metrics).toMatch(
      /sig_subgraph_fetches_total\{[^}]*type="REVIEWS"[^}]*outcome="ok"[^}]*\} [1-9]/,
    );
    expect(metrics).toMatch(/sig_subgraph_fetch_duration_seconds_count\{[^}]*type="PRODUCTS"/);
    expect(metrics).toMatch(
      /sig_supergraph_compositions_total\{[^}]*result="composed"[^}]*\} [1-9]/,
    );
  });

  it("streams a federated subscription over graphql-ws, beside /graphql's on the same port", async () => {
    await registerBoth();
    const client = (path: string) =>
      createClient({
        url: `${gateway.url.replace("http", "ws")}${path}`,
        webSocketImpl: WebSocket,
        connectionParams: wsConnectionParams(),
        retryAttempts: 0,
      });
    const federated = client("/federation/graphql");
    const controlPlane = client("/graphql");
    try {
      const changes = controlPlane.iterate<{
        supergraphChanged: { supergraph: { subgraphs: { type: string }[] } };
      }>({
        query: "subscription { supergraphChanged { at supergraph { status subgraphs { type } } } }",
      });
      const events: unknown[] = [];
      for await (const event of federated.iterate({
        query: "subscription { priceChanged { id name reviewCount } }",
      })) {
        events.push(event.data);
      }
      expect(events).toEqual([
        { priceChanged: { id: "p1", name: "Anvil", reviewCount: 2 } },
        { priceChanged: { id: "p2", name: "Rope", reviewCount: 1 } },
        { priceChanged: { id: "p3", name: "Lantern", reviewCount: 0 } },
      ]);
      // The control plane hears the next composition.
      const next = changes.next();
      const inventory = await start(inventorySubgraph().spec);
      dataOf(await register("inventory-1", "inventory", inventory.baseUrl));
      const change = await next;
      expect(change.done).toBe(false);
      const composedTypes = (change.value?.data?.supergraphChanged.supergraph.subgraphs ?? []).map(
        (subgraph: { type: string }) => subgraph.type,
      );
      expect(composedTypes).toEqual(["INVENTORY", "PRODUCTS", "REVIEWS"]);
      await changes.return?.();
    } finally {
      await federated.dispose();
      await controlPlane.dispose();
    }
  });
});

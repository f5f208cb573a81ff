import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  productsSubgraph,
  type RunningSubgraph,
  reviewsSubgraph,
  startSubgraph,
} from "../../examples/federation/subgraphs.js";
import type { ConfiguredToken } from "../../src/domain/access.js";
import { dataOf, startGateway, type TestGateway } from "../helpers/gateway.js";

const ADMIN = "federation-admin-token-0123456789";
const tokens: ConfiguredToken[] = [
  {
    secret: "federation-reader-token-012345",
    role: "reader",
    name: "dashboard",
    serviceTypes: null,
  },
  {
    secret: "federation-service-token-01234",
    role: "service",
    name: "storefront",
    serviceTypes: null,
  },
  {
    secret: "federation-operator-token-0123",
    role: "operator",
    name: "oncall",
    serviceTypes: null,
  },
];
const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });
const REGISTER = `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`;

describe("access to the federated graph", () => {
  let gateway: TestGateway;
  let products: RunningSubgraph;
  let reviews: RunningSubgraph;

  beforeAll(async () => {
    products = await startSubgraph(productsSubgraph().spec);
    reviews = await startSubgraph(reviewsSubgraph().spec);
    gateway = await startGateway({ adminToken: ADMIN, tokens, introspection: false });
    for (const [id, type, baseUrl] of [
      ["products-1", "products", products.baseUrl],
      ["reviews-1", "reviews", reviews.baseUrl],
    ] as const) {
      dataOf(
        await gateway.graphql(REGISTER, {
          input: { id, name: id, type, version: "1.0.0", baseUrl, graphql: { kind: "FEDERATION" } },
        }),
      );
    }
    await gateway.app.services.supergraph.refresh();
  });
  afterAll(async () => {
    await gateway.stop();
    await products.close();
    await reviews.close();
  });

  const post = (headers: Record<string, string>, query = "{ products { name reviewCount } }") =>
    fetch(`${gateway.url}/federation/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ query }),
    });

  it("refuses a request without a valid token with 401, before any subgraph is called", async () => {
    const seen = products.received.length;
    for (const headers of [{}, bearer("not-a-token-of-this-gateway")]) {
      const response = await post(headers);
      expect(response.status).toBe(401);
      const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
      expect(body.errors[0]?.extensions.code).toBe("UNAUTHENTICATED");
    }
    expect(products.received.length).toBe(seen);
  });

  it("answers callers that may call services, and refuses the rest with 403", async () => {
    for (const secret of [ADMIN, "federation-service-token-01234"]) {
      const response = await post(bearer(secret));
      expect(response.status).toBe(200);
      expect(((await response.json()) as { data: unknown }).data).toMatchObject({
        products: [{ name: "Anvil", reviewCount: 2 }, {}, {}],
      });
    }
    for (const secret of ["federation-reader-token-012345", "federation-operator-token-0123"]) {
      const response = await post(bearer(secret));
      expect(response.status).toBe(403);
      const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
      expect(body.errors[0]?.extensions.code).toBe("FORBIDDEN");
    }
  });

  it("explains only to a role that may see the topology behind the graph", async () => {
    const asked = { ...bearer(ADMIN), "x-gateway-explain": "1" };
    const admin = (await (await post(asked)).json()) as { extensions?: { explain?: unknown } };
    expect(admin.extensions?.explain).toBeDefined();
    // A service token may query the graph, not see which instances answer it.
    const service = (await (
      await post({ ...bearer("federation-service-token-01234"), "x-gateway-explain": "1" })
    ).json()) as { extensions?: unknown; data: unknown };
    expect(service.data).toBeTruthy();
    expect(service.extensions).toBeUndefined();
  });

  it("refuses introspection when it is off, as on /graphql", async () => {
    const response = await post(bearer(ADMIN), "{ __schema { types { name } } }");
    const body = (await response.json()) as { errors?: { message: string }[] };
    expect(body.errors?.[0]?.message).toMatch(/introspection/i);
  });

  it("closes a graphql-ws connection without a valid token with 4403, and refuses a reader's subscribe", async () => {
    const closed = await new Promise<number>((resolve) => {
      const client = createClient({
        url: `${gateway.url.replace("http", "ws")}/federation/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: bearer("not-a-token-of-this-gateway"),
        retryAttempts: 0,
        on: { closed: (event) => resolve((event as { code: number }).code) },
      });
      client.subscribe(
        { query: "subscription { priceChanged { id } }" },
        {
          next: () => {},
          error: () => {},
          complete: () => {},
        },
      );
    });
    expect(closed).toBe(4403);

    const reader = createClient({
      url: `${gateway.url.replace("http", "ws")}/federation/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: bearer("federation-reader-token-012345"),
      retryAttempts: 0,
    });
    try {
      const refused = await new Promise<unknown>((resolve) => {
        reader.subscribe(
          { query: "subscription { priceChanged { id } }" },
          {
            next: () => {},
            error: resolve,
            complete: () => resolve(null),
          },
        );
      });
      expect(JSON.stringify(refused)).toMatch(/FORBIDDEN/);
    } finally {
      await reader.dispose();
    }
  });

  it("serves GraphiQL's page without a token, and no data", async () => {
    const page = await fetch(`${gateway.url}/federation/graphql`, {
      headers: { accept: "text/html" },
    });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    expect(await page.text()).toMatch(/GraphiQL/i);
  });

  it("refuses what /graphql refuses: forms, batches, documents past the limits, GET mutations", async () => {
    const send = (init: RequestInit) =>
      fetch(`${gateway.url}/federation/graphql`, {
        ...init,
        headers: { ...bearer(ADMIN), ...(init.headers as Record<string, string>) },
      });
    const form = await send({
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "query={products{name}}",
    });
    expect(form.status).toBe(415);
    const batch = await send({
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([{ query: "{ products { name } }" }, { query: "{ products { id } }" }]),
    });
    expect(batch.status).toBe(400);
    const nested = `{ products { ${"reviews { id ".repeat(80)}${"} ".repeat(80)}} }`;
    const deep = (await (
      await send({
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: nested }),
      })
    ).json()) as { errors?: { extensions?: { code?: string } }[] };
    expect(deep.errors?.[0]?.extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      limit: "nesting",
    });
    const aliases = Array.from({ length: 150 }, (_, i) => `a${i}: products { id }`).join(" ");
    const aliased = (await (
      await send({
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: `{ ${aliases} }` }),
      })
    ).json()) as { errors?: { extensions?: { code?: string } }[] };
    expect(aliased.errors?.[0]?.extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      limit: "aliases",
    });
    const seenMutations = products.received.length;
    const getMutation = await fetch(
      `${gateway.url}/federation/graphql?query=${encodeURIComponent('mutation { addProduct(name: "x") { id } }')}`,
      { headers: { ...bearer(ADMIN), accept: "application/json" } },
    );
    expect(getMutation.status).toBe(405);
    expect(products.received.length).toBe(seenMutations);
    const notJson = await send({
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{ not json",
    });
    const notJsonBody = (await notJson.json()) as { errors: { extensions: { code: string } }[] };
    expect(notJsonBody.errors[0]?.extensions.code).toBe("BAD_REQUEST");
  });
});

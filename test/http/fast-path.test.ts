import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { anonymousCaller } from "../../src/domain/access.js";
import { createInProcessEvents } from "../../src/events.js";
import { createGraphQL } from "../../src/http/graphql.js";
import { serveJsonFast } from "../../src/http/graphql-fast-path.js";
import { createMetrics } from "../../src/metrics.js";
import { createServices } from "../../src/services/index.js";
import { createMemoryLeaseStore } from "../../src/stores/lease.js";
import { createMemoryRegistryStore } from "../../src/stores/memory-registry.js";
import { migratedPglite } from "../helpers/database.js";
import { authHeaders, startGateway, type TestGateway } from "../helpers/gateway.js";

/**
 * The JSON fast path must answer exactly as yoga does. A request with an Origin header
 * always goes to yoga (for CORS), so the same request with and without one compares them.
 */
describe("JSON fast path", () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startGateway();
    await gateway.graphql(
      `mutation { registerService(input: { id: "p1", name: "p", type: "planner", version: "1", baseUrl: "http://p.test" }) { id } }`,
    );
  });
  afterAll(() => gateway.stop());

  async function both(body: unknown, accept: string | null) {
    const send = async (origin: string | null) => {
      const headers: Record<string, string> = {
        "content-type": "application/json",
        ...authHeaders(),
      };
      if (accept !== null) headers.accept = accept;
      if (origin) headers.origin = origin;
      const response = await fetch(`${gateway.url}/graphql`, {
        method: "POST",
        headers,
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
      const text = await response.text();
      return {
        status: response.status,
        contentType: response.headers.get("content-type"),
        body: text.replace(/"requestId":"[^"]+"/g, '"requestId":"…"'),
      };
    };
    return { fast: await send(null), yoga: await send("http://dashboard.test") };
  }

  const cases: [string, unknown][] = [
    ["a query", { query: `{ service(id: "p1") { id type status } }` }],
    [
      "a mutation",
      { query: `mutation($id: ID!) { heartbeat(id: $id) { id status } }`, variables: { id: "p1" } },
    ],
    ["a NOT_FOUND error", { query: `mutation { heartbeat(id: "missing") { id } }` }],
    ["a BAD_USER_INPUT error", { query: `{ services(first: 100000) { totalCount } }` }],
    [
      "a variable that fails coercion",
      {
        query: `mutation($s: ServiceStatus!) { updateServiceStatus(id: "p1", status: $s) { id } }`,
        variables: { s: "NOPE" },
      },
    ],
    [
      "a named operation among several",
      { query: `query A { __typename } query B { service(id: "p1") { id } }`, operationName: "B" },
    ],
    ["a syntax error", { query: `{ service(id: ` }],
    ["a validation error", { query: `{ nope }` }],
    ["a missing query", { variables: {} }],
    ["a body that is not JSON", "{nope"],
    ["a batch", [{ query: "{ __typename }" }]],
  ];
  const accepts = [
    "application/json",
    "application/graphql-response+json, application/json;q=0.9",
    null,
  ];

  for (const [name, body] of cases) {
    for (const accept of accepts) {
      it(`answers ${name} as yoga does (accept: ${accept ?? "none"})`, async () => {
        const { fast, yoga } = await both(body, accept);
        expect(fast).toEqual(yoga);
      });
    }
  }
});

describe("JSON fast path selection", () => {
  it("serves plain JSON queries itself and leaves browsers, SSE and bad bodies to yoga", async () => {
    const graphql = createGraphQL({
      services: createServices({
        store: createMemoryRegistryStore(),
        database: await migratedPglite(),
        events: createInProcessEvents(),
        log: pino({ level: "silent" }),
        maxPageSize: 100,
        leases: createMemoryLeaseStore(),
      }),
      log: pino({ level: "silent" }),
      metrics: createMetrics("fast-path-test"),
      graphiql: false,
      introspection: true,
      stopping: new AbortController().signal,
    });
    // Answers 599 whenever the fast path declines, so each case shows who answered.
    const server = createServer(async (req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const served = await serveJsonFast(graphql, req, res, Buffer.concat(chunks), {
        requestId: "t",
        caller: anonymousCaller(),
      });
      if (!served) res.writeHead(599).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const post = async (headers: Record<string, string>, body = `{"query":"{ __typename }"}`) =>
      (
        await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body,
        })
      ).status;
    try {
      expect(await post({ accept: "application/json" })).toBe(200);
      expect(await post({ accept: "application/graphql-response+json" })).toBe(200);
      expect(await post({ accept: "text/event-stream" })).toBe(599);
      expect(await post({ accept: "application/json", origin: "http://dashboard.test" })).toBe(599);
      expect(await post({}, `{"query":"{ nope }"}`)).toBe(599);
      expect(await post({}, `{"query":"subscription { x }"}`)).toBe(599);
      expect(await post({ "content-type": "text/plain" })).toBe(599);
    } finally {
      server.close();
    }
  });
});

import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createMemoryRegistryStore } from "../../src/stores/memory-registry.js";
import type { RegistryStore } from "../../src/stores/registry.js";
import {
  authHeaders,
  dataOf,
  startGateway,
  type TestGateway,
  tokensMode,
} from "../helpers/gateway.js";

const REGISTER = `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id status } }`;

describe("one port: GraphQL over HTTP, SSE and WebSocket, probes and metrics", () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startGateway({ maxRequestBodyBytes: 4096 });
  });
  afterAll(() => gateway.stop());

  // An unknown bearer owns what it registers: open mode only (in tokens mode it is refused
  // at connection_init, test/graphql/hostile-requests.test.ts).
  it.skipIf(tokensMode)(
    "serves a mutation and a query over graphql-ws, with the same context as HTTP",
    async () => {
      const client = createClient({
        url: `${gateway.url.replace("http", "ws")}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: "Bearer ws-owner" },
        retryAttempts: 0,
      });
      try {
        const run = async (query: string, variables: Record<string, unknown> = {}) => {
          for await (const result of client.iterate({ query, variables })) return result;
          throw new Error("no result");
        };
        const registered = await run(REGISTER, {
          input: {
            id: "ws-1",
            name: "over ws",
            type: "x_service",
            version: "1",
            baseUrl: "http://x.test",
          },
        });
        expect(registered.data).toEqual({ registerService: { id: "ws-1", status: "ONLINE" } });

        // The token from connectionParams owns the service: HTTP without it is refused.
        const fromHttp = await gateway.graphql(`mutation { unregisterService(id: "ws-1") }`);
        expect(fromHttp.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");

        const listed = await run(
          `{ services(filter: { type: "X_SERVICE" }) { totalCount nodes { id } } }`,
        );
        expect(listed.data).toEqual({ services: { totalCount: 1, nodes: [{ id: "ws-1" }] } });

        const failed = await run(`mutation { heartbeat(id: "missing") { id } }`);
        expect(failed.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
      } finally {
        await client.dispose();
      }
    },
  );

  it("answers over server-sent events when the client asks for them", async () => {
    const response = await fetch(`${gateway.url}/graphql`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "text/event-stream",
        ...authHeaders(),
      },
      body: JSON.stringify({ query: `{ services { totalCount } }` }),
    });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const text = await response.text();
    const data = text.split("\n").find((line) => line.startsWith("data: {"));
    expect(JSON.parse(data?.slice(6) ?? "null")).toMatchObject({ data: { services: {} } });
  });

  it("serves GraphiQL that needs no network beyond the gateway", async () => {
    const response = await fetch(`${gateway.url}/graphql`, { headers: { accept: "text/html" } });
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain("<html");
    const external = [...html.matchAll(/<(?:script|link)[^>]+(?:src|href)="(https?:[^"]+)"/g)];
    expect(external.map((match) => match[1])).toEqual([]);
  });

  it("answers liveness, readiness and metrics", async () => {
    const alive = await fetch(`${gateway.url}/health/alive`);
    expect(await alive.json()).toEqual({ status: "alive" });
    const ready = await fetch(`${gateway.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ready" });
    const metrics = await (
      await fetch(`${gateway.url}/metrics`, { headers: authHeaders() })
    ).text();
    expect(metrics).toMatch(/sig_http_requests_total\{[^}]*route="health"[^}]*status="200"/);
    expect(metrics).toContain("process_resident_memory_bytes");
  });

  it("refuses an oversized body with 413, declared or streamed", async () => {
    const big = JSON.stringify({ query: `{ services { totalCount } }`, pad: "x".repeat(8000) });
    const declared = await fetch(`${gateway.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", ...authHeaders() },
      body: big,
    });
    expect(declared.status).toBe(413);

    const streamed = await fetch(`${gateway.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", ...authHeaders() },
      body: new Blob([big]).stream(),
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(await streamed.json()).toMatchObject({ code: "BAD_USER_INPUT" });
  });

  it("answers 400 to a request target no URL parser accepts, and keeps serving", async () => {
    const { request } = await import("node:http");
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(`${gateway.url}/`, { path: "//[" }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(400);
    expect((await fetch(`${gateway.url}/health/alive`)).status).toBe(200);
  });

  it("echoes a caller's x-request-id, and makes one up otherwise", async () => {
    const given = await fetch(`${gateway.url}/health/alive`, {
      headers: { "x-request-id": "trace-123" },
    });
    expect(given.headers.get("x-request-id")).toBe("trace-123");
    const made = await fetch(`${gateway.url}/health/alive`);
    expect(made.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("when the store fails", () => {
  /** A memory store whose reads fail as a lost backend would, or with a plain bug. */
  function failingStore(failure: () => Error): RegistryStore {
    const store = createMemoryRegistryStore();
    return {
      ...store,
      find: async () => Promise.reject(failure()),
      ping: async () => Promise.reject(failure()),
    };
  }

  it("masks an unexpected error, giving the request id to quote", async () => {
    const gateway = await startGateway({ store: failingStore(() => new Error("secret detail")) });
    try {
      const response = await gateway.graphql(`{ services { totalCount } }`);
      expect(response.errors?.[0]?.message).toBe("Unexpected error.");
      expect(JSON.stringify(response)).not.toContain("secret detail");
      expect(response.errors?.[0]?.extensions).toMatchObject({ code: "INTERNAL_SERVER_ERROR" });
      expect(response.errors?.[0]?.extensions?.requestId).toEqual(expect.any(String));
    } finally {
      await gateway.stop();
    }
  });

  it("reports not ready with 503 naming the store", async () => {
    const gateway = await startGateway({
      store: failingStore(() => new Error("connection refused")),
    });
    try {
      const ready = await fetch(`${gateway.url}/health/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({
        status: "not ready",
        failing: ["registry store (memory): connection refused"],
      });
      expect(dataOf(await gateway.graphql(`{ __typename }`))).toEqual({ __typename: "Query" });
    } finally {
      await gateway.stop();
    }
  });
});

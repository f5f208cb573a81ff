import { Validator } from "@seriousme/openapi-schema-validator";
import { createClient } from "graphql-ws";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  authHeaders,
  dataOf,
  startGateway,
  type TestGateway,
  wsConnectionParams,
} from "../helpers/gateway.js";

/**
 * The original service's REST API as a client of it (or of its shared client) uses it:
 * the requests as they wrote them, the answers as they read them.
 */
describe("the REST API as a drop-in for the original", () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway.stop());
  beforeEach(async () => {
    await gateway.removeAllServices();
  });

  const call = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = authHeaders(),
  ) => {
    const response = await fetch(`${gateway.url}${path}`, {
      method,
      headers: {
        accept: "application/json",
        ...headers,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    // biome-ignore lint/suspicious/noExplicitAny: answers are read field by field below
    return { status: response.status, body: parsed as any, headers: response.headers };
  };

  const register = (id: string, extra: Record<string, unknown> = {}) =>
    call("POST", "/registry/services", {
      service_id: id,
      name: id,
      type: "PLANNING_SYSTEM",
      version: "1.0.0",
      base_url: `http://${id}.test:8000`,
      health_check_url: `http://${id}.test:8000/health`,
      ...extra,
    });

  it("sets a status from a JSON body, as from the query string", async () => {
    expect((await register("planner-1")).status).toBe(201);
    const byBody = await call("PUT", "/registry/services/planner-1/status", {
      status: "maintenance",
    });
    expect(byBody).toMatchObject({
      status: 200,
      body: { service_id: "planner-1", status: "MAINTENANCE" },
    });
    const byQuery = await call("PUT", "/registry/services/planner-1/status?status=ONLINE");
    expect(byQuery.body.status).toBe("ONLINE");
    const neither = await call("PUT", "/registry/services/planner-1/status", {});
    expect(neither).toMatchObject({
      status: 422,
      body: { field: "status", code: "BAD_USER_INPUT" },
    });
  });

  it("lists ONLINE services only unless asked, as the original did; GraphQL keeps its defaults", async () => {
    await register("planner-1");
    await register("planner-2");
    await call("PUT", "/registry/services/planner-2/status?status=DEGRADED");
    const ids = (answer: { body: { items: { service_id: string }[] } }) =>
      answer.body.items.map((item) => item.service_id);
    expect(ids(await call("GET", "/discovery/services"))).toEqual(["planner-1"]);
    expect(ids(await call("GET", "/discovery/services?include_offline=true"))).toEqual([
      "planner-1",
      "planner-2",
    ]);
    expect(ids(await call("GET", "/discovery/services?status=DEGRADED"))).toEqual(["planner-2"]);
    const graphql = dataOf(
      await gateway.graphql<{ services: { nodes: { id: string }[] } }>(
        "{ services { nodes { id } } }",
      ),
    );
    expect(graphql.services.nodes.map((node) => node.id)).toEqual(["planner-1", "planner-2"]);
  });

  it("searches by the criteria it is given, under where or at the top level", async () => {
    await register("planner-1", { version: "1.4.0", tags: ["eu"] });
    await register("planner-2", { version: "2.1.0", tags: ["eu"] });
    await register("planner-3", { version: "2.3.0", tags: ["us"] });
    const ids = (answer: { body: { items: { service_id: string }[] } }) =>
      answer.body.items.map((item) => item.service_id);
    const search = (body: unknown) => call("POST", "/discovery/services/search", body);
    expect(ids(await search({ where: { version: "^2.0.0" } }))).toEqual(["planner-2", "planner-3"]);
    expect(ids(await search({ version: "^2.0.0", tags: ["eu"] }))).toEqual(["planner-2"]);
    expect(ids(await search({ where: { tags: { none: ["eu"] } } }))).toEqual(["planner-3"]);
    expect(ids(await search({ service_type: "planning_system", limit: 1 }))).toEqual(["planner-1"]);
    expect(await search({ colour: "blue" })).toMatchObject({
      status: 422,
      body: { field: "colour", code: "BAD_USER_INPUT" },
    });
    expect(await search({ where: { version: "not a range" } })).toMatchObject({ status: 422 });
  });

  it("answers /health as every service of the system does, with no token", async () => {
    const health = await call("GET", "/health", undefined, {});
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: "healthy", service: "gateway-under-test" });
    expect(Object.values(health.body.components).every((c) => (c as { ok: boolean }).ok)).toBe(
      true,
    );
  });

  it("serves the shared client's /services family, its errors read from message", async () => {
    const created = await call("POST", "/services", {
      name: "Project Coordinator",
      service_type: "project_coordinator",
      base_url: "http://pc.test:8000",
      description: "Coordinates projects",
      capabilities: ["projects"],
      metadata: { team: "pc" },
    });
    expect(created).toMatchObject({
      status: 201,
      body: {
        type: "PROJECT_COORDINATOR",
        version: "0.0.0",
        capabilities: ["projects"],
        metadata: { team: "pc", description: "Coordinates projects" },
        status: "ONLINE",
      },
    });
    const id = created.body.service_id as string;
    expect((await call("GET", `/services/${id}`)).body.service_id).toBe(id);
    const updated = await call("PUT", `/services/${id}`, {
      capabilities: ["projects", "planning"],
      status: "MAINTENANCE",
    });
    expect(updated).toMatchObject({
      status: 200,
      body: {
        name: "Project Coordinator",
        base_url: "http://pc.test:8000",
        capabilities: ["projects", "planning"],
        status: "MAINTENANCE",
      },
    });
    const health = await call("GET", `/services/${id}/health`);
    expect(health.body).toMatchObject({ service_id: id, status: "MAINTENANCE" });
    const listed = await call(
      "GET",
      "/services?service_type=PROJECT_COORDINATOR&status=MAINTENANCE&page=1&per_page=10",
    );
    expect(listed.body).toMatchObject({
      success: true,
      items: [{ service_id: id }],
      metadata: { page: 1, per_page: 10, total_count: 1 },
    });
    expect(
      (await call("GET", "/services?page=2&per_page=10&status=MAINTENANCE")).body.items,
    ).toEqual([]);
    expect((await call("DELETE", `/services/${id}`)).status).toBe(204);
    const gone = await call("GET", `/services/${id}`);
    expect(gone).toMatchObject({ status: 404, body: { message: `Service ${id} not found` } });
    const bad = await call("PUT", "/services/nobody", { name: "x" });
    expect(bad.status).toBe(404);
    expect(bad.body.message).toBe(bad.body.detail);
  });

  it("answers a workflow started without waiting 202, and not as a failure", async () => {
    const started = await call("POST", "/workflows/execute", {
      workflow_type: "PROJECT_PLANNING",
      data: { project_id: "p-1" },
      options: { wait: false },
    });
    expect(started.status).toBe(202);
    expect(started.body.success).toBe(true);
    expect(started.body.data.status).toMatch(/PENDING|RUNNING|FAILED/);
  });

  it("sees REST registrations in GraphQL and GraphQL's in REST", async () => {
    await register("planner-1");
    const read = dataOf(
      await gateway.graphql<{ service: { id: string; baseUrl: string } }>(
        '{ service(id: "planner-1") { id baseUrl } }',
      ),
    );
    expect(read.service).toEqual({ id: "planner-1", baseUrl: "http://planner-1.test:8000" });
    dataOf(
      await gateway.graphql(
        `mutation { registerService(input: { id: "planner-9", name: "p", type: "planning_system", version: "1.0.0", baseUrl: "http://p9.test:8000" }) { id } }`,
      ),
    );
    expect((await call("GET", "/registry/services/planner-9")).body.base_url).toBe(
      "http://p9.test:8000",
    );
  });

  it("publishes REST changes to GraphQL subscribers", async () => {
    const client = createClient({
      url: `${gateway.url.replace("http", "ws")}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: wsConnectionParams(),
      retryAttempts: 0,
    });
    try {
      const events = client.iterate<{
        registryChanged: { change: string; service: { id: string; status: string } };
      }>({ query: "subscription { registryChanged { change service { id status } } }" });
      const first = events.next();
      // graphql-ws does not say when the server has the subscription: registering again
      // (an upsert) until an event arrives needs no guess at how long that takes.
      let arrived = false;
      void first.then(() => {
        arrived = true;
      });
      while (!arrived) {
        await register("planner-7");
        await Promise.race([first, new Promise((resolve) => setTimeout(resolve, 100))]);
      }
      expect((await first).value?.data?.registryChanged).toMatchObject({
        change: expect.stringMatching(/^(REGISTERED|UPDATED)$/),
        service: { id: "planner-7", status: "ONLINE" },
      });
      await call("DELETE", "/registry/services/planner-7");
      // Past any UPDATED events of the registrations above.
      let change: string | undefined;
      do change = (await events.next()).value?.data?.registryChanged.change;
      while (change === "UPDATED" || change === "REGISTERED");
      expect(change).toBe("UNREGISTERED");
      await events.return?.();
    } finally {
      await client.dispose();
    }
  });

  it("documents every route it serves in an OpenAPI 3.1 document that validates, and shows it at /docs", async () => {
    const document = await call("GET", "/openapi.json", undefined, {});
    expect(document.status).toBe(200);
    expect(document.body.openapi).toBe("3.1.0");
    const verdict = await new Validator().validate(document.body);
    expect(verdict.errors ?? []).toEqual([]);
    expect(verdict.valid).toBe(true);
    const documented = Object.entries(
      document.body.paths as Record<string, Record<string, unknown>>,
    ).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );
    // Every route of the original's README and of its shared client.
    for (const expected of [
      "POST /registry/services",
      "GET /registry/services/{id}",
      "DELETE /registry/services/{id}",
      "POST /registry/services/{id}/heartbeat",
      "PUT /registry/services/{id}/status",
      "GET /discovery/services",
      "POST /discovery/services/search",
      "GET /discovery/services/type/{type}",
      "GET /discovery/health/{id}",
      "POST /workflows/execute",
      "POST /workflows/agent-task-execution",
      "POST /workflows/project-planning",
      "GET /workflows/executions/{id}",
      "POST /services",
      "GET /services",
      "GET /services/{id}",
      "PUT /services/{id}",
      "DELETE /services/{id}",
      "GET /services/{id}/health",
      "GET /health",
    ]) {
      expect(documented).toContain(expected);
    }
    // And every documented route is one the router serves: none answers 404 "No route".
    for (const entry of documented) {
      const [method, path] = entry.split(" ") as [string, string];
      const concrete = path.replace(/\{[^}]+\}/g, "nobody");
      const answer = await call(
        method,
        concrete,
        method === "GET" || method === "DELETE" ? undefined : {},
      );
      expect(String(answer.body?.detail ?? "")).not.toMatch(/^No route/);
    }
    const page = await fetch(`${gateway.url}/docs`);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    const html = await page.text();
    expect(html).toContain('url: "/openapi.json"');
    expect(html).not.toMatch(/https?:\/\/(?!localhost)/);
    const bundle = await fetch(`${gateway.url}/docs/swagger-ui-bundle.js`);
    expect(bundle.status).toBe(200);
    expect((await bundle.text()).length).toBeGreaterThan(100_000);
    expect((await fetch(`${gateway.url}/docs/../package.json`)).status).not.toBe(200);
    const redoc = await fetch(`${gateway.url}/redoc`, { redirect: "manual" });
    expect(redoc.headers.get("location")).toBe("/docs");
  });
});

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { authHeaders, startGateway, type TestGateway } from "../helpers/gateway.js";

describe("the seed's REST API", () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway.stop());
  beforeEach(async () => {
    await gateway.removeAllServices();
  });

  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${gateway.url}${path}`, {
      method,
      headers: {
        ...authHeaders(),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };

  const seedRegistration = {
    service_id: "planner-1",
    name: "Planning System",
    type: "PLANNING_SYSTEM",
    version: "1.0.0",
    base_url: "http://planning-system:8000",
    health_check_url: "http://planning-system:8000/health",
    endpoints: [{ path: "/plans", method: "POST", description: "create a plan" }],
    metadata: { team: "planning" },
  };

  it("registers with 201 and the seed's snake_case ServiceInfo", async () => {
    const { status, body } = await call("POST", "/registry/services", seedRegistration);
    expect(status).toBe(201);
    expect(body).toMatchObject({
      service_id: "planner-1",
      type: "PLANNING_SYSTEM",
      base_url: "http://planning-system:8000",
      health_check_url: "http://planning-system:8000/health",
      endpoints: [
        { path: "/plans", method: "POST", description: "create a plan", required_permissions: [] },
      ],
      metadata: { team: "planning" },
      status: "ONLINE",
    });
    expect(body.last_heartbeat).toBe(body.registered_at);
  });

  it("takes a declared GraphQL API and returns it, read back the same", async () => {
    const { status, body } = await call("POST", "/registry/services", {
      ...seedRegistration,
      graphql: { kind: "plain" },
    });
    expect(status).toBe(201);
    expect(body.graphql).toEqual({ path: "/graphql", kind: "PLAIN" });
    const read = await call("GET", "/registry/services/planner-1");
    expect(read.body.graphql).toEqual({ path: "/graphql", kind: "PLAIN" });
    const listed = await call("GET", "/discovery/services");
    expect(listed.body.items[0].graphql).toEqual({ path: "/graphql", kind: "PLAIN" });

    const without = await call("POST", "/registry/services", seedRegistration);
    expect(without.body.graphql).toBeNull();
  });

  it("answers 422 naming graphql.path, as the body spells it, for a GraphQL path that is not a path", async () => {
    for (const path of ["graphql", "/graph ql"]) {
      const invalid = await call("POST", "/registry/services", {
        ...seedRegistration,
        graphql: { path },
      });
      expect(invalid).toMatchObject({
        status: 422,
        body: { code: "BAD_USER_INPUT", field: "graphql.path" },
      });
    }
    expect((await call("GET", "/discovery/services")).body.items).toEqual([]);
  });

  it("accepts the shared client's field names (service_type, url, no version)", async () => {
    const { status, body } = await call("POST", "/registry/services", {
      name: "coordinator",
      service_type: "project_coordinator",
      url: "http://pc:8000",
      capabilities: ["projects"],
    });
    expect(status).toBe(201);
    expect(body).toMatchObject({
      type: "PROJECT_COORDINATOR",
      base_url: "http://pc:8000",
      health_check_url: "http://pc:8000/health",
      capabilities: ["projects"],
    });
  });

  it("answers 422 with the field for invalid input and for a body that is not JSON", async () => {
    const invalid = await call("POST", "/registry/services", {
      ...seedRegistration,
      base_url: "nope",
    });
    expect(invalid).toMatchObject({
      status: 422,
      body: { code: "BAD_USER_INPUT", field: "base_url" },
    });
    expect(invalid.body.detail).toMatch(/^base_url: /);
    expect(invalid.body.message).toBe(invalid.body.detail);
    // As the request spelled it: the shared client's `url` is named `url`.
    const aliased = await call("POST", "/registry/services", { name: "x", type: "x", url: "nope" });
    expect(aliased.body).toMatchObject({ code: "BAD_USER_INPUT", field: "url" });
    const garbage = await call("POST", "/registry/services", "{not json");
    expect(garbage).toMatchObject({ status: 422, body: { field: "body" } });
    expect((await call("GET", "/discovery/services")).body.items).toEqual([]);
  });

  it("reads, heartbeats, changes status and deletes with the seed's codes", async () => {
    await call("POST", "/registry/services", seedRegistration);
    expect((await call("GET", "/registry/services/planner-1")).status).toBe(200);
    expect((await call("GET", "/registry/services/nope")).status).toBe(404);

    const beat = await call("POST", "/registry/services/planner-1/heartbeat", {
      service_id: "planner-1",
    });
    expect(beat.status).toBe(200);
    const mismatch = await call("POST", "/registry/services/planner-1/heartbeat", {
      service_id: "other",
    });
    expect(mismatch).toMatchObject({ status: 422, body: { field: "service_id" } });
    expect((await call("POST", "/registry/services/nope/heartbeat")).status).toBe(404);

    const maintenance = await call("PUT", "/registry/services/planner-1/status?status=MAINTENANCE");
    expect(maintenance).toMatchObject({ status: 200, body: { status: "MAINTENANCE" } });
    expect((await call("PUT", "/registry/services/planner-1/status?status=ASLEEP")).status).toBe(
      422,
    );
    expect((await call("PUT", "/registry/services/nope/status?status=ONLINE")).status).toBe(404);
    expect(await call("GET", "/discovery/health/planner-1")).toEqual({
      status: 200,
      body: "MAINTENANCE",
    });
    expect((await call("GET", "/discovery/health/nope")).status).toBe(404);

    expect((await call("DELETE", "/registry/services/planner-1")).status).toBe(204);
    expect((await call("DELETE", "/registry/services/planner-1")).status).toBe(404);
  });

  it("lists and searches in the seed's ListResponse shape, and selects by type", async () => {
    await call("POST", "/registry/services", seedRegistration);
    await call("POST", "/registry/services", { ...seedRegistration, service_id: "planner-2" });
    await call("PUT", "/registry/services/planner-2/status?status=OFFLINE");

    const listed = await call("GET", "/discovery/services?service_type=planning_system");
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({
      success: true,
      message: null,
      metadata: { total_count: 1 },
    });
    expect(listed.body.items.map((item: { service_id: string }) => item.service_id)).toEqual([
      "planner-1",
    ]);

    const withOffline = await call("POST", "/discovery/services/search", {
      service_type: "PLANNING_SYSTEM",
      include_offline: true,
    });
    expect(withOffline.body.metadata.total_count).toBe(2);

    const selected = await call("GET", "/discovery/services/type/PLANNING_SYSTEM");
    expect(selected).toMatchObject({ status: 200, body: { service_id: "planner-1" } });
    const none = await call("GET", "/discovery/services/type/TOOL_INTEGRATION");
    expect(none).toMatchObject({
      status: 404,
      body: { detail: "No service of type TOOL_INTEGRATION found" },
    });
  });

  it("answers 405 for a known path with another method, 404 for an unknown path", async () => {
    expect((await call("PATCH", "/registry/services/x")).status).toBe(405);
    expect((await call("GET", "/registry/nothing/here/at/all")).status).toBe(404);
  });

  it("answers 422 for a path segment that is not valid percent-encoding", async () => {
    expect(await call("GET", "/registry/services/%zz")).toMatchObject({
      status: 422,
      body: { code: "BAD_USER_INPUT", field: "path" },
    });
  });
});

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ServiceRecord } from "../../src/domain/service.js";
import { createMemoryRegistryStore } from "../../src/stores/memory-registry.js";
import { manualClock } from "../helpers/clock.js";
import { dataOf, errorCodeOf, startGateway, type TestGateway } from "../helpers/gateway.js";

const REGISTER = /* GraphQL */ `
  mutation Register($input: RegisterServiceInput!) {
    registerService(input: $input) {
      id name type version baseUrl healthCheckUrl status
      endpoints { path method description requiredPermissions }
      capabilities tags metadata lastHeartbeat registeredAt
      heartbeatIntervalSeconds ttlSeconds health { status } graphql { path kind }
      circuitBreaker { serviceId state failureCount failureThreshold resetTimeoutMs halfOpenMaxCalls }
    }
  }
`;

type Registered = {
  registerService: {
    id: string;
    type: string;
    status: string;
    lastHeartbeat: string;
    registeredAt: string;
    [field: string]: unknown;
  };
};

const planner = {
  name: "planner",
  type: "planning_system",
  version: "1.4.2",
  baseUrl: "http://planner.internal:8000/",
};

describe("registry over GraphQL", () => {
  // Time moves between two writes only when a test moves it.
  const clock = manualClock();
  let gateway: TestGateway;
  const adminToken = "admin-token-0123456789";

  beforeAll(async () => {
    gateway = await startGateway({
      adminToken,
      clock,
      tokens: [
        { secret: "owner-token-0123456789", role: "service", name: "owner", serviceTypes: null },
        { secret: "intruder-token-0123456", role: "service", name: "intruder", serviceTypes: null },
      ],
    });
  });
  afterAll(() => gateway.stop());
  beforeEach(async () => {
    // A fresh store per test, behind the same running server.
    await gateway.removeAllServices();
  });

  const register = (input: Record<string, unknown>, headers: Record<string, string> = {}) =>
    gateway.graphql<Registered>(REGISTER, { input }, headers);

  const serviceCount = async () => (await gateway.store.find({})).length;

  it("registers with defaults: generated id, UPPER_SNAKE type, /health URL, ONLINE", async () => {
    const { registerService: service } = dataOf(await register(planner));
    expect(service.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(service).toMatchObject({
      name: "planner",
      type: "PLANNING_SYSTEM",
      baseUrl: "http://planner.internal:8000",
      healthCheckUrl: "http://planner.internal:8000/health",
      status: "ONLINE",
      endpoints: [],
      capabilities: [],
      tags: [],
      metadata: {},
      heartbeatIntervalSeconds: 30,
      ttlSeconds: 90,
      health: null,
      graphql: null,
      circuitBreaker: {
        serviceId: service.id,
        state: "CLOSED",
        failureCount: 0,
        failureThreshold: 5,
        resetTimeoutMs: 30000,
        halfOpenMaxCalls: 3,
      },
    });
    expect(service.lastHeartbeat).toBe(service.registeredAt);
  });

  it("upserts by id: re-registering updates fields and keeps registeredAt", async () => {
    const first = dataOf(await register({ ...planner, id: "planner-1", tags: ["eu"] }));
    const second = dataOf(
      await register({
        ...planner,
        id: "planner-1",
        version: "1.5.0",
        tags: ["us"],
        healthCheckUrl: "/status",
        endpoints: [{ path: "/plans", method: "post" }],
      }),
    );
    expect(second.registerService).toMatchObject({
      id: "planner-1",
      version: "1.5.0",
      tags: ["us"],
      healthCheckUrl: "http://planner.internal:8000/status",
      endpoints: [{ path: "/plans", method: "POST", description: "", requiredPermissions: [] }],
      registeredAt: first.registerService.registeredAt,
    });
    expect(await serviceCount()).toBe(1);
  });

  it.each([
    ["name", { name: "  " }, "input.name"],
    ["a non-http URL", { baseUrl: "ftp://planner" }, "input.baseUrl"],
    ["a malformed URL", { baseUrl: "http//planner" }, "input.baseUrl"],
    ["credentials in the URL", { baseUrl: "http://user:pw@planner" }, "input.baseUrl"],
    ["a bad health URL", { healthCheckUrl: "planner/health" }, "input.healthCheckUrl"],
    ["a negative TTL", { ttlSeconds: -5 }, "input.ttlSeconds"],
    ["an absurd TTL", { ttlSeconds: 10_000_000 }, "input.ttlSeconds"],
    [
      "a TTL below the heartbeat interval",
      { heartbeatIntervalSeconds: 60, ttlSeconds: 30 },
      "input.ttlSeconds",
    ],
    ["oversized metadata", { metadata: { blob: "x".repeat(17 * 1024) } }, "input.metadata"],
    ["metadata that is not an object", { metadata: [1, 2] }, "input.metadata"],
    ["a type with no letters", { type: "__" }, "input.type"],
    ["an id with spaces", { id: "my service" }, "input.id"],
    [
      "an unknown endpoint method",
      { endpoints: [{ path: "/x", method: "FETCH" }] },
      "input.endpoints.0.method",
    ],
    ["a GraphQL path without a leading /", { graphql: { path: "graphql" } }, "input.graphql.path"],
    ["a GraphQL path with whitespace", { graphql: { path: "/graph ql" } }, "input.graphql.path"],
    ["a GraphQL path with a query", { graphql: { path: "/graphql?x=1" } }, "input.graphql.path"],
    ["a GraphQL path with a fragment", { graphql: { path: "/graphql#x" } }, "input.graphql.path"],
    [
      "an over-long GraphQL path",
      { graphql: { path: `/${"a".repeat(512)}` } },
      "input.graphql.path",
    ],
  ])(
    "rejects %s with BAD_USER_INPUT naming the field, storing nothing",
    async (_case, change, field) => {
      const response = await register({ ...planner, ...change });
      expect(errorCodeOf(response)).toBe("BAD_USER_INPUT");
      expect(response.errors?.[0]?.extensions?.field).toBe(field);
      expect(await serviceCount()).toBe(0);
    },
  );

  it("takes a declared GraphQL API, its path defaulting to /graphql, its kind to FEDERATION", async () => {
    const plain = dataOf(await register({ ...planner, id: "plain", graphql: { kind: "PLAIN" } }));
    expect(plain.registerService.graphql).toEqual({ path: "/graphql", kind: "PLAIN" });
    expect((await gateway.store.get("plain"))?.record.graphql).toEqual({
      path: "/graphql",
      kind: "PLAIN",
    });
    const federated = dataOf(
      await register({ ...planner, id: "federated", graphql: { path: " /api/graphql " } }),
    );
    expect(federated.registerService.graphql).toEqual({
      path: "/api/graphql",
      kind: "FEDERATION",
    });
    // GraphQL lets a client send null for an input field: it means the default too.
    const nulls = dataOf(
      await register({ ...planner, id: "nulls", graphql: { path: null, kind: null } }),
    );
    expect(nulls.registerService.graphql).toEqual({ path: "/graphql", kind: "FEDERATION" });
  });

  it("withdraws a declared GraphQL API when a re-registration leaves it out", async () => {
    dataOf(await register({ ...planner, id: "planner-1", graphql: {} }));
    const again = dataOf(await register({ ...planner, id: "planner-1" }));
    expect(again.registerService.graphql).toBeNull();
    expect((await gateway.store.get("planner-1"))?.record.graphql).toBeNull();
  });

  it("leaves the stored service untouched when an update is invalid", async () => {
    dataOf(await register({ ...planner, id: "planner-1" }));
    const before = await gateway.store.get("planner-1");
    expect(errorCodeOf(await register({ ...planner, id: "planner-1", baseUrl: "nope" }))).toBe(
      "BAD_USER_INPUT",
    );
    expect(await gateway.store.get("planner-1")).toEqual(before);
  });

  it("heartbeat refreshes lastHeartbeat and revives an OFFLINE service", async () => {
    const { registerService: service } = dataOf(await register(planner));
    const stored = await gateway.store.get(service.id);
    await gateway.store.put({ ...(stored?.record as ServiceRecord), status: "OFFLINE" }, 1);
    clock.advance(5);
    const { heartbeat } = dataOf(
      await gateway.graphql<{ heartbeat: { status: string; lastHeartbeat: string } }>(
        `mutation($id: ID!) { heartbeat(id: $id) { status lastHeartbeat } }`,
        { id: service.id },
      ),
    );
    expect(heartbeat.status).toBe("ONLINE");
    expect(Date.parse(heartbeat.lastHeartbeat)).toBeGreaterThan(Date.parse(service.lastHeartbeat));
  });

  it("heartbeat may report a status; unknown ids are NOT_FOUND, unknown statuses BAD_USER_INPUT", async () => {
    const { registerService: service } = dataOf(await register(planner));
    const reported = await gateway.graphql<{ heartbeat: { status: string } }>(
      `mutation($id: ID!) { heartbeat(id: $id, status: DEGRADED) { status } }`,
      { id: service.id },
    );
    expect(dataOf(reported).heartbeat.status).toBe("DEGRADED");

    const unknown = await gateway.graphql(`mutation { heartbeat(id: "nope") { id } }`);
    expect(errorCodeOf(unknown)).toBe("NOT_FOUND");
    const empty = await gateway.graphql(`mutation { heartbeat(id: "") { id } }`);
    expect(errorCodeOf(empty)).toBe("BAD_USER_INPUT");
    expect(empty.errors?.[0]?.extensions?.field).toBe("id");

    const badStatus = await gateway.graphql(
      `mutation($id: ID!, $status: ServiceStatus) { heartbeat(id: $id, status: $status) { id } }`,
      { id: service.id, status: "SLEEPING" },
    );
    expect(errorCodeOf(badStatus)).toBe("BAD_USER_INPUT");
    expect(badStatus.errors?.[0]?.extensions?.field).toBe("$status");
  });

  it("updateServiceStatus sets MAINTENANCE, which a heartbeat and a re-registration keep", async () => {
    const { registerService: service } = dataOf(await register({ ...planner, id: "planner-1" }));
    const updated = await gateway.graphql<{ updateServiceStatus: { status: string } }>(
      `mutation { updateServiceStatus(id: "planner-1", status: MAINTENANCE) { status } }`,
    );
    expect(dataOf(updated).updateServiceStatus.status).toBe("MAINTENANCE");
    await gateway.graphql(`mutation { heartbeat(id: "planner-1") { id } }`);
    dataOf(await register({ ...planner, id: service.id }));
    expect((await gateway.store.get("planner-1"))?.record.status).toBe("MAINTENANCE");

    const missing = await gateway.graphql(
      `mutation { updateServiceStatus(id: "nope", status: ONLINE) { id } }`,
    );
    expect(errorCodeOf(missing)).toBe("NOT_FOUND");
  });

  it("unregister is idempotent: true once, then false", async () => {
    const { registerService: service } = dataOf(await register(planner));
    const unregister = `mutation($id: ID!) { unregisterService(id: $id) }`;
    expect(dataOf(await gateway.graphql(unregister, { id: service.id }))).toEqual({
      unregisterService: true,
    });
    expect(dataOf(await gateway.graphql(unregister, { id: service.id }))).toEqual({
      unregisterService: false,
    });
    expect(dataOf(await gateway.graphql(`{ service(id: "${service.id}") { id } }`))).toEqual({
      service: null,
    });
  });

  it("lets only the registering token, or an admin, change an owned service", async () => {
    const owner = { authorization: "Bearer owner-token-0123456789" };
    const intruder = { authorization: "Bearer intruder-token-0123456" };
    dataOf(await register({ ...planner, id: "owned" }, owner));

    const hijack = await register(
      { ...planner, id: "owned", baseUrl: "http://evil.example" },
      intruder,
    );
    expect(errorCodeOf(hijack)).toBe("FORBIDDEN");
    const anonymous = await register({ ...planner, id: "owned" }, { authorization: "" });
    expect(errorCodeOf(anonymous)).toBe("UNAUTHENTICATED");
    for (const mutation of [
      `mutation { heartbeat(id: "owned") { id } }`,
      `mutation { updateServiceStatus(id: "owned", status: OFFLINE) { id } }`,
      `mutation { unregisterService(id: "owned") }`,
    ]) {
      expect(errorCodeOf(await gateway.graphql(mutation, {}, intruder))).toBe("FORBIDDEN");
    }
    expect((await gateway.store.get("owned"))?.record).toMatchObject({
      baseUrl: "http://planner.internal:8000",
      status: "ONLINE",
    });

    dataOf(await gateway.graphql(`mutation { heartbeat(id: "owned") { id } }`, {}, owner));
    const admin = { authorization: `Bearer ${adminToken}` };
    expect(
      dataOf(await gateway.graphql(`mutation { unregisterService(id: "owned") }`, {}, admin)),
    ).toEqual({ unregisterService: true });
  });

  it("answers the same on a gateway with its own store, proving no state is global", async () => {
    const other = await startGateway({ store: createMemoryRegistryStore() });
    try {
      dataOf(await register({ ...planner, id: "only-here" }));
      const there = await other.graphql(`{ service(id: "only-here") { id } }`);
      expect(dataOf(there)).toEqual({ service: null });
    } finally {
      await other.stop();
    }
  });
});

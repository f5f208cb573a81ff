import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ServiceRecord } from "../../src/domain/service.js";
import { createMemoryRegistryStore } from "../../src/stores/memory-registry.js";
import { manualClock } from "../helpers/clock.js";
import { authHeaders, dataOf, startGateway, type TestGateway } from "../helpers/gateway.js";
import { serviceRecord } from "../stores/registry-contract.js";

const SYSTEM_HEALTH = /* GraphQL */ `
  { systemHealth {
      status reasons checkedAt executionTimeMs
      counts { online degraded maintenance offline }
      dependencies { name ok latencyMs error }
      services { id } circuitBreakers { serviceId state }
      selfPreservation { active held }
  } }
`;

type Health = {
  systemHealth: {
    status: string;
    reasons: string[];
    counts: Record<string, number>;
    dependencies: { name: string; ok: boolean }[];
    services: { id: string }[];
    circuitBreakers: { serviceId: string; state: string }[];
    selfPreservation: { active: boolean; held: number };
  };
};

describe("system health", () => {
  // Heartbeats fall overdue when a test moves this clock.
  const clock = manualClock();
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway({ clock });
  });
  afterAll(() => gateway.stop());
  beforeEach(async () => {
    await gateway.removeAllServices();
  });

  const seed = async (...records: ServiceRecord[]) => {
    for (const record of records) await gateway.store.put(record, null);
  };
  const health = async () => dataOf(await gateway.graphql<Health>(SYSTEM_HEALTH)).systemHealth;

  it("is HEALTHY with every dependency up and every instance ONLINE or in maintenance", async () => {
    await seed(
      serviceRecord({ id: "p1", type: "PLANNER" }),
      serviceRecord({ id: "m1", type: "PLANNER", status: "MAINTENANCE" }),
      serviceRecord({ id: "m2", type: "TOOLS", status: "MAINTENANCE" }),
    );
    const result = await health();
    expect(result).toMatchObject({
      status: "HEALTHY",
      reasons: [],
      counts: { online: 1, degraded: 0, maintenance: 2, offline: 0 },
      selfPreservation: { active: false },
    });
    expect(result.dependencies.every((dependency) => dependency.ok)).toBe(true);
    expect(result.circuitBreakers.map((breaker) => breaker.state)).toEqual([
      "CLOSED",
      "CLOSED",
      "CLOSED",
    ]);
  });

  it("rates an OFFLINE instance at least as badly as a DEGRADED one", async () => {
    await seed(
      serviceRecord({ id: "p1", type: "PLANNER" }),
      serviceRecord({ id: "p2", type: "PLANNER", status: "OFFLINE" }),
    );
    expect(await health()).toMatchObject({
      status: "DEGRADED",
      reasons: ["1 instance(s) OFFLINE"],
    });

    await seed(serviceRecord({ id: "a1", type: "AGENTS", status: "DEGRADED" }));
    expect((await health()).status).toBe("DEGRADED");
  });

  it("is UNHEALTHY when a registered type has no instance to call", async () => {
    await seed(
      serviceRecord({ id: "p1", type: "PLANNER" }),
      serviceRecord({ id: "t1", type: "TOOLS", status: "OFFLINE" }),
      serviceRecord({ id: "t2", type: "TOOLS", status: "MAINTENANCE" }),
    );
    const result = await health();
    expect(result.status).toBe("UNHEALTHY");
    expect(result.reasons).toContain("no TOOLS instance is ONLINE or DEGRADED");
  });

  it("says so when self-preservation holds expiry", async () => {
    for (const id of ["s1", "s2", "s3"]) {
      dataOf(
        await gateway.graphql(
          `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`,
          {
            input: {
              id,
              name: id,
              type: "silent",
              version: "1",
              baseUrl: `http://${id}.test`,
              heartbeatIntervalSeconds: 1,
              ttlSeconds: 1,
            },
          },
        ),
      );
    }
    clock.advance(1001);
    expect(await gateway.app.services.expiry.sweep()).toMatchObject({ held: 3 });
    const result = await health();
    expect(result).toMatchObject({
      status: "DEGRADED",
      selfPreservation: { active: true, held: 3 },
    });
    expect(result.reasons).toContain("heartbeat expiry held by self-preservation");
  });

  it("answers GET /health/system in the seed's shape", async () => {
    await seed(serviceRecord({ id: "p1", type: "PLANNER", status: "DEGRADED" }));
    const response = await fetch(`${gateway.url}/health/system`, { headers: authHeaders() });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      status: "DEGRADED",
      service_statuses: { p1: "DEGRADED" },
      circuit_breaker_statuses: { p1: { state: "CLOSED", failure_count: 0 } },
      execution_time_ms: expect.any(Number),
    });
  });
});

describe("system health with a dependency down", () => {
  it("is UNHEALTHY and names it", async () => {
    const store = createMemoryRegistryStore();
    const gateway = await startGateway({
      store: { ...store, ping: () => Promise.reject(new Error("connection refused")) },
    });
    try {
      const result = dataOf(await gateway.graphql<Health>(SYSTEM_HEALTH)).systemHealth;
      expect(result.status).toBe("UNHEALTHY");
      expect(result.reasons).toContain("registry store (memory) is down: connection refused");
    } finally {
      await gateway.stop();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAddressPolicy } from "../../src/clients/address-guard.js";
import { InstanceBreaker } from "../../src/clients/circuit-breaker.js";
import { createServiceClient } from "../../src/clients/service-client.js";
import { anonymousCaller } from "../../src/domain/access.js";
import { defaultBreakerSettings } from "../../src/domain/breaker.js";
import { defaultCallPolicy } from "../../src/domain/call-policy.js";
import { createCalls } from "../../src/services/calls.js";
import { createDiscovery } from "../../src/services/discovery.js";
import { createMemoryRegistryStore } from "../../src/stores/memory-registry.js";
import { startUpstreamService, type UpstreamService } from "../fixtures/upstream-service.js";
import { serviceRecord } from "../stores/registry-contract.js";

describe("calls by type", () => {
  let upstream: UpstreamService;
  beforeAll(async () => {
    upstream = await startUpstreamService();
  });
  afterAll(() => upstream.stop());

  it("moves on to another instance when a breaker refuses the call before it is sent", async () => {
    const store = createMemoryRegistryStore();
    const endpoints = [{ path: "/plans", method: "GET", description: "", requiredPermissions: [] }];
    for (const id of ["a", "b"]) {
      await store.put(serviceRecord({ id, baseUrl: upstream.url, endpoints }), null);
    }
    const breakers = new Map(
      ["a", "b"].map((id) => [
        id,
        new InstanceBreaker(id, defaultBreakerSettings, {
          now: Date.now,
          acquireTrial: async () => true,
          trialLeaseMs: 10_000,
          changed: () => {},
        }),
      ]),
    );
    // Discovery's view is a moment old: it still offers "a", whose breaker has just
    // been isolated (on another replica, say).
    breakers.get("a")?.isolate("isolated by an operator");
    const client = createServiceClient({
      settings: defaultCallPolicy,
      breakerOf: (id) => breakers.get(id) as InstanceBreaker,
      addressPolicy: createAddressPolicy(),
    });
    const calls = createCalls({
      discovery: createDiscovery({ store, maxPageSize: 100, isCallable: () => true }),
      client,
      breakerStateOf: (id) => breakers.get(id)?.state ?? "CLOSED",
    });
    const trace = { requestId: "r1", traceparent: null };
    for (let i = 0; i < 4; i++) {
      const result = await calls.call(
        { serviceType: "PLANNING_SYSTEM", strategy: "ROUND_ROBIN", path: "/plans" },
        anonymousCaller(),
        trace,
      );
      expect(result).toMatchObject({ serviceId: "b", status: 200 });
    }
    expect(upstream.received).toHaveLength(4);
    await client.close();
  });
});

import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAddressPolicy } from "../../src/clients/address-guard.js";
import { failureOf } from "../../src/clients/call-failure.js";
import { InstanceBreaker } from "../../src/clients/circuit-breaker.js";
import { createServiceClient, type OutgoingCall } from "../../src/clients/service-client.js";
import { defaultBreakerSettings } from "../../src/domain/breaker.js";
import { defaultCallPolicy } from "../../src/domain/call-policy.js";
import { GatewayError } from "../../src/domain/errors.js";
import { startUpstreamService, type UpstreamService } from "../fixtures/upstream-service.js";

/** Where the client's call failed, on real sockets. */
describe("failureOf", () => {
  let upstream: UpstreamService;
  let stopped: UpstreamService;
  // Reads the request, then closes the connection without a word.
  let hangUp: Server;
  const breakers = new Map<string, InstanceBreaker>();
  const breakerOf = (serviceId: string) => {
    let breaker = breakers.get(serviceId);
    if (!breaker) {
      breaker = new InstanceBreaker(serviceId, defaultBreakerSettings, {
        now: Date.now,
        acquireTrial: async () => true,
        trialLeaseMs: 10_000,
        changed: () => {},
      });
      breakers.set(serviceId, breaker);
    }
    return breaker;
  };
  const client = createServiceClient({
    settings: { ...defaultCallPolicy, timeoutMs: 300, maxAttempts: 1, maxResponseBytes: 64 },
    breakerOf,
    addressPolicy: createAddressPolicy(),
  });

  beforeAll(async () => {
    upstream = await startUpstreamService();
    stopped = await startUpstreamService();
    await stopped.stop();
    hangUp = createServer((socket) => socket.once("data", () => socket.destroy()));
    await new Promise<void>((resolve) => hangUp.listen(0, "127.0.0.1", resolve));
  });
  afterAll(async () => {
    await client.close();
    await upstream.stop();
    await new Promise((resolve) => hangUp.close(resolve));
  });

  let calls = 0;
  const failed = async (overrides: Partial<OutgoingCall>) => {
    calls += 1;
    try {
      await client.call({
        serviceId: `svc-${calls}`,
        baseUrl: upstream.url,
        method: "POST",
        path: "/x",
        headers: {},
        body: "{}",
        idempotent: false,
        ...overrides,
      });
    } catch (error) {
      if (error instanceof GatewayError) return failureOf(error);
      throw error;
    }
    throw new Error("the call succeeded");
  };

  it("tells a connection never made from one lost after sending", async () => {
    expect(await failed({ baseUrl: stopped.url })).toBe("unconnected");
    expect(
      await failed({ baseUrl: `http://127.0.0.1:${(hangUp.address() as AddressInfo).port}` }),
    ).toBe("dropped");
  });

  it("tells refusals, answers and silence apart", async () => {
    breakerOf("isolated").isolate("by an operator");
    expect(await failed({ serviceId: "isolated" })).toBe("refused");
    expect(await failed({ baseUrl: "http://169.254.169.254" })).toBe("forbidden");
    upstream.queue({ status: 503 });
    expect(await failed({})).toBe("status");
    upstream.queue({ status: 200, delayMs: 1000 });
    expect(await failed({})).toBe("timeout");
    upstream.queue({ status: 200, body: "x".repeat(100) });
    expect(await failed({})).toBe("other");
  });
});

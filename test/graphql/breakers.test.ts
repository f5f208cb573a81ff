import { asc } from "drizzle-orm";
import { createClient } from "graphql-ws";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { Database } from "../../src/db/client.js";
import { circuitBreakerEvents } from "../../src/db/schema.js";
import { startUpstreamService, type UpstreamService } from "../fixtures/upstream-service.js";
import { type ManualClock, manualClock } from "../helpers/clock.js";
import { migratedPglite } from "../helpers/database.js";
import { observedEvents } from "../helpers/events.js";
import { dataOf, errorCodeOf, startGateway, type TestGateway } from "../helpers/gateway.js";
import { eventually } from "../helpers/wait.js";

const ADMIN_TOKEN = "admin-token-for-breaker-tests";
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const SERVICE_TOKEN = "service-token-for-breaker-tests";
const service = { authorization: `Bearer ${SERVICE_TOKEN}` };
// The gateway runs on a clock the tests move: the timeout passes when a test says so,
// never while a busy machine is slow between two calls.
const RESET_TIMEOUT_MS = 1500;

const REGISTER = `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`;
const CALL = `mutation($input: CallServiceInput!) { callService(input: $input) { status serviceId breakerState } }`;
const BREAKERS = /* GraphQL */ `
  query($state: [CircuitState!]) {
    circuitBreakers(state: $state) {
      serviceId state failureCount consecutiveFailures lastFailureAt lastStateChangeAt
      failureThreshold resetTimeoutMs halfOpenMaxCalls
    }
  }
`;

type Breaker = {
  serviceId: string;
  state: string;
  failureCount: number;
  consecutiveFailures: number;
  lastFailureAt: string | null;
  lastStateChangeAt: string | null;
};

describe("circuit breakers through the gateway", () => {
  let database: Database;
  let gateway: TestGateway;
  let upstream: UpstreamService;
  let clock: ManualClock;
  let observed: ReturnType<typeof observedEvents>;

  const start = () =>
    startGateway({
      adminToken: ADMIN_TOKEN,
      tokens: [{ secret: SERVICE_TOKEN, role: "service", name: "service", serviceTypes: null }],
      database,
      clock,
      events: observed.events,
      breakers: { failureThreshold: 3, resetTimeoutMs: RESET_TIMEOUT_MS, halfOpenMaxCalls: 2 },
      calls: { maxAttempts: 1 },
    });
  const register = (id: string) =>
    gateway.graphql(REGISTER, {
      input: {
        id,
        name: id,
        type: "planner",
        version: "1.0.0",
        baseUrl: upstream.url,
        endpoints: [{ path: "/plans", method: "GET" }],
      },
    });
  const call = (serviceId: string) =>
    gateway.graphql<{ callService: { status: number; breakerState: string } }>(CALL, {
      input: { serviceId, path: "/plans" },
    });
  const breakerOf = async (serviceId: string) =>
    dataOf(await gateway.graphql<{ circuitBreakers: Breaker[] }>(BREAKERS)).circuitBreakers.find(
      (breaker) => breaker.serviceId === serviceId,
    );
  const trip = async (serviceId: string) => {
    upstream.answer({ status: 500 });
    for (let i = 0; i < 3; i++) expect(errorCodeOf(await call(serviceId))).toBe("UPSTREAM_ERROR");
    upstream.answer({ status: 200, body: { ok: true } });
  };

  beforeAll(async () => {
    database = await migratedPglite();
    clock = manualClock();
    observed = observedEvents();
    upstream = await startUpstreamService();
    gateway = await start();
  });
  afterAll(async () => {
    await gateway.stop();
    await upstream.stop();
    await database.close();
  });
  beforeEach(async () => {
    upstream.reset();
    await gateway.removeAllServices();
    dataOf(await register("planner-1"));
    dataOf(await register("planner-2"));
    dataOf(
      await gateway.graphql(
        `mutation { resetCircuitBreaker(serviceId: "planner-1") { state } }`,
        {},
        admin,
      ),
    );
  });

  it("lists a CLOSED breaker with its settings for every registered instance", async () => {
    const { circuitBreakers } = dataOf(
      await gateway.graphql<{ circuitBreakers: Breaker[] }>(BREAKERS),
    );
    expect(circuitBreakers).toEqual([
      expect.objectContaining({
        serviceId: "planner-1",
        state: "CLOSED",
        failureThreshold: 3,
        resetTimeoutMs: RESET_TIMEOUT_MS,
        halfOpenMaxCalls: 2,
      }),
      expect.objectContaining({ serviceId: "planner-2", state: "CLOSED" }),
    ]);
  });

  it("opens after the threshold: calls fail fast, discovery skips it, health counts it DEGRADED", async () => {
    await trip("planner-1");
    expect(await breakerOf("planner-1")).toMatchObject({
      state: "OPEN",
      failureCount: 3,
      consecutiveFailures: 3,
      lastFailureAt: expect.any(String),
    });
    const service = dataOf(
      await gateway.graphql<{ service: { circuitBreaker: Breaker } }>(
        `{ service(id: "planner-1") { circuitBreaker { state } } }`,
      ),
    );
    expect(service.service.circuitBreaker.state).toBe("OPEN");

    const refused = await call("planner-1");
    expect(errorCodeOf(refused)).toBe("SERVICE_UNAVAILABLE");
    expect(refused.errors?.[0]?.extensions).toMatchObject({
      serviceId: "planner-1",
      breakerState: "OPEN",
    });
    expect(upstream.received).toHaveLength(3);

    for (let i = 0; i < 4; i++) {
      const picked = dataOf(
        await gateway.graphql<{ serviceByType: { id: string } }>(
          `{ serviceByType(type: "PLANNER", strategy: ROUND_ROBIN) { id } }`,
        ),
      );
      expect(picked.serviceByType.id).toBe("planner-2");
    }

    const health = dataOf(
      await gateway.graphql<{
        systemHealth: {
          status: string;
          reasons: string[];
          counts: { online: number; degraded: number };
        };
      }>(`{ systemHealth { status reasons counts { online degraded } } }`),
    ).systemHealth;
    expect(health).toMatchObject({ status: "DEGRADED", counts: { online: 1, degraded: 1 } });
    expect(health.reasons).toContain("circuit breaker of planner-1 is OPEN");
  });

  it("recovers by itself through half-open trial calls", async () => {
    await trip("planner-1");
    clock.advance(RESET_TIMEOUT_MS - 1);
    expect(errorCodeOf(await call("planner-1"))).toBe("SERVICE_UNAVAILABLE");
    clock.advance(1);
    expect(dataOf(await call("planner-1")).callService.breakerState).toBe("HALF_OPEN");
    expect(dataOf(await call("planner-1")).callService.breakerState).toBe("CLOSED");
    expect(await breakerOf("planner-1")).toMatchObject({ state: "CLOSED", failureCount: 0 });
  });

  it("isolates and resets only with an admin or operator token, and records each transition", async () => {
    const isolate = `mutation { isolateCircuitBreaker(serviceId: "planner-2") { serviceId state } }`;
    const reset = `mutation { resetCircuitBreaker(serviceId: "planner-2") { serviceId state } }`;
    expect(errorCodeOf(await gateway.graphql(isolate, {}, service))).toBe("FORBIDDEN");
    expect(errorCodeOf(await gateway.graphql(reset, {}, service))).toBe("FORBIDDEN");
    expect(
      errorCodeOf(
        await gateway.graphql(
          `mutation { isolateCircuitBreaker(serviceId: "nobody") { state } }`,
          {},
          admin,
        ),
      ),
    ).toBe("NOT_FOUND");

    expect(dataOf(await gateway.graphql(isolate, {}, admin))).toEqual({
      isolateCircuitBreaker: { serviceId: "planner-2", state: "ISOLATED" },
    });
    const refused = await call("planner-2");
    expect(errorCodeOf(refused)).toBe("SERVICE_UNAVAILABLE");
    expect(refused.errors?.[0]?.message).toMatch(/isolated/);
    expect(upstream.received).toHaveLength(0);
    // Isolated stays isolated, however long it has been.
    clock.advance(100 * RESET_TIMEOUT_MS);
    expect(errorCodeOf(await call("planner-2"))).toBe("SERVICE_UNAVAILABLE");

    expect(dataOf(await gateway.graphql(reset, {}, admin))).toEqual({
      resetCircuitBreaker: { serviceId: "planner-2", state: "CLOSED" },
    });
    expect(dataOf(await call("planner-2")).callService.status).toBe(200);

    // Transitions are written behind the call path: read until both are there.
    await eventually(async () => {
      const rows = await database.db
        .select()
        .from(circuitBreakerEvents)
        .orderBy(asc(circuitBreakerEvents.id));
      const planner2 = rows.filter((row) => row.serviceId === "planner-2").slice(-2);
      expect(planner2).toEqual([
        expect.objectContaining({
          fromState: "CLOSED",
          toState: "ISOLATED",
          reason: "isolated by an operator",
        }),
        expect.objectContaining({
          fromState: "ISOLATED",
          toState: "CLOSED",
          reason: "reset by an operator",
        }),
      ]);
    });
  });

  it("streams every transition over graphql-ws, narrowed to one instance", async () => {
    const client = createClient({
      url: `${gateway.url.replace("http", "ws")}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: admin,
    });
    type Event = {
      circuitBreakerChanged: {
        serviceId: string;
        previousState: string;
        state: string;
        reason: string;
        breaker: { state: string; failureCount: number };
      };
    };
    const events = client.iterate<Event>({
      query: `subscription { circuitBreakerChanged(serviceId: "planner-1") {
        serviceId previousState state reason at breaker { state failureCount } } }`,
    });
    const listening = observed.nextSubscriber("breaker.changed");
    const next = events.next();
    await listening;
    // planner-2 is not watched: only planner-1's transition arrives.
    for (const id of ["planner-2", "planner-1"]) {
      dataOf(
        await gateway.graphql(
          `mutation { isolateCircuitBreaker(serviceId: "${id}") { state } }`,
          {},
          admin,
        ),
      );
    }
    const event = (await next).value?.data?.circuitBreakerChanged;
    expect(event).toMatchObject({ serviceId: "planner-1", breaker: {} });
    expect([event?.previousState, event?.state]).toEqual(["CLOSED", "ISOLATED"]);
    await events.return?.();
    await client.dispose();
  });

  it("answers GET /health/circuit-breakers in the seed's shape, with the configuration", async () => {
    await trip("planner-1");
    const response = await fetch(`${gateway.url}/health/circuit-breakers`, { headers: admin });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { circuit_breakers: Record<string, unknown> };
    expect(body.circuit_breakers["planner-1"]).toEqual({
      service_id: "planner-1",
      state: "OPEN",
      failure_count: 3,
      consecutive_failures: 3,
      last_failure_time: expect.any(String),
      last_state_change_time: expect.any(String),
      failure_threshold: 3,
      reset_timeout_ms: RESET_TIMEOUT_MS,
      half_open_max_calls: 2,
    });
    expect(body.circuit_breakers["planner-2"]).toMatchObject({ state: "CLOSED", failure_count: 0 });

    const metrics = await (await fetch(`${gateway.url}/metrics`, { headers: admin })).text();
    expect(metrics).toMatch(
      /^sig_circuit_breakers\{state="OPEN",service="gateway-under-test"\} 1$/m,
    );
    expect(metrics).toMatch(
      /^sig_circuit_breakers\{state="CLOSED",service="gateway-under-test"\} 1$/m,
    );
  });

  it("starts a restarted gateway from the last recorded state", async () => {
    dataOf(
      await gateway.graphql(
        `mutation { isolateCircuitBreaker(serviceId: "planner-2") { state } }`,
        {},
        admin,
      ),
    );
    await trip("planner-1");
    await gateway.stop();
    gateway = await start();
    expect(await breakerOf("planner-2")).toMatchObject({ state: "ISOLATED" });
    expect(await breakerOf("planner-1")).toMatchObject({ state: "OPEN", failureCount: 3 });
    expect(errorCodeOf(await call("planner-2"))).toBe("SERVICE_UNAVAILABLE");
    dataOf(
      await gateway.graphql(
        `mutation { resetCircuitBreaker(serviceId: "planner-2") { state } }`,
        {},
        admin,
      ),
    );
  });
});

import type { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../src/db/client.js";
import { createRedisEvents } from "../../src/events.js";
import { createRedisLeaseStore } from "../../src/stores/lease.js";
import { createRedisRegistryStore } from "../../src/stores/redis-registry.js";
import { startUpstreamService, type UpstreamService } from "../fixtures/upstream-service.js";
import { manualClock } from "../helpers/clock.js";
import { migratedPglite } from "../helpers/database.js";
import { dataOf, errorCodeOf, startGateway, type TestGateway } from "../helpers/gateway.js";
import { deleteKeys, isolatedPrefix, newRedis, redisIsAvailable } from "../helpers/redis.js";
import { eventually } from "../helpers/wait.js";

const available = await redisIsAvailable();
// Passed by moving the replicas' shared clock, never by waiting.
const RESET_TIMEOUT_MS = 1500;
const ADMIN_TOKEN = "admin-token-for-replica-tests";
const CALL = `mutation($input: CallServiceInput!) { callService(input: $input) { status breakerState } }`;

describe.runIf(available)("circuit breakers shared by two replicas", () => {
  const keyPrefix = isolatedPrefix();
  const connections: Redis[] = [];
  let database: Database;
  let upstream: UpstreamService;
  let first: TestGateway;
  let second: TestGateway;
  // One clock for both, as replicas on one network share the time of day.
  const clock = manualClock();

  const connection = () => {
    const redis = newRedis();
    connections.push(redis);
    return redis;
  };
  /** A replica as main.ts builds one on Redis: its own connections, the shared prefix. */
  const replica = () =>
    startGateway({
      database,
      store: createRedisRegistryStore({ redis: connection(), keyPrefix }),
      events: createRedisEvents({
        publisher: connection(),
        subscriber: connection(),
        channelPrefix: keyPrefix,
        log: pino({ level: "silent" }),
      }),
      leases: createRedisLeaseStore({ redis: connection(), keyPrefix }),
      adminToken: ADMIN_TOKEN,
      clock,
      breakers: { failureThreshold: 3, resetTimeoutMs: RESET_TIMEOUT_MS, halfOpenMaxCalls: 2 },
      calls: { maxAttempts: 1 },
    });
  const call = (gateway: TestGateway, name: string) =>
    gateway.graphql<{ callService: { status: number } }>(CALL, {
      input: { serviceId: "shared-1", path: "/work", headers: { "x-replica": name } },
    });
  const stateOn = async (gateway: TestGateway) =>
    dataOf(
      await gateway.graphql<{ service: { circuitBreaker: { state: string } } }>(
        `{ service(id: "shared-1") { circuitBreaker { state } } }`,
      ),
    ).service.circuitBreaker.state;
  /** Transitions reach the other replica over Redis pub/sub, a moment later. */
  const stateBecomes = (gateway: TestGateway, state: string) =>
    eventually(async () => expect(await stateOn(gateway)).toBe(state));

  beforeAll(async () => {
    database = await migratedPglite();
    upstream = await startUpstreamService();
    first = await replica();
    second = await replica();
    dataOf(
      await first.graphql(
        `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`,
        {
          input: {
            id: "shared-1",
            name: "shared",
            type: "tool_integration",
            version: "1.0.0",
            baseUrl: upstream.url,
            endpoints: [{ path: "/work", method: "GET" }],
          },
        },
      ),
    );
  });
  afterAll(async () => {
    await first?.stop();
    await second?.stop();
    await upstream?.stop();
    await database?.close();
    if (connections[0]) await deleteKeys(connections[0], keyPrefix);
    for (const redis of connections) redis.disconnect();
  });

  it("opens on every replica when it opens on one, and the others fail fast too", async () => {
    upstream.answer({ status: 503 });
    for (let i = 0; i < 3; i++)
      expect(errorCodeOf(await call(first, "first"))).toBe("UPSTREAM_ERROR");
    expect(await stateOn(first)).toBe("OPEN");
    await stateBecomes(second, "OPEN");

    const refused = await call(second, "second");
    expect(errorCodeOf(refused)).toBe("SERVICE_UNAVAILABLE");
    expect(upstream.received).toHaveLength(3);
  });

  it("lets only one replica send the half-open trial calls, then closes on all", async () => {
    upstream.reset();
    // Slow trial calls: every call below arrives while the breaker is still half-open.
    upstream.answer({ status: 200, body: { ok: true }, delayMs: 300 });
    clock.advance(RESET_TIMEOUT_MS);
    const results = await Promise.all(
      ["first", "second", "first", "second", "first", "second"].map((name) =>
        call(name === "first" ? first : second, name),
      ),
    );
    const senders = new Set(upstream.received.map((request) => request.headers["x-replica"]));
    expect(senders.size).toBe(1);
    expect(upstream.received.length).toBeLessThanOrEqual(2);
    expect(results.filter((result) => result.data?.callService.status === 200)).toHaveLength(
      upstream.received.length,
    );

    // Trials still short of the threshold get there with the holder's next call.
    const holder = senders.has("first") ? first : second;
    for (let i = 0; i < 5 && (await stateOn(holder)) !== "CLOSED"; i++) {
      dataOf(await call(holder, "holder"));
    }
    await stateBecomes(first, "CLOSED");
    await stateBecomes(second, "CLOSED");
    expect(dataOf(await call(first, "first")).callService.status).toBe(200);
    expect(dataOf(await call(second, "second")).callService.status).toBe(200);
  });

  it("isolates and resets on every replica, whichever one the operator asked", async () => {
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    dataOf(
      await first.graphql(
        `mutation { isolateCircuitBreaker(serviceId: "shared-1") { state } }`,
        {},
        admin,
      ),
    );
    await stateBecomes(second, "ISOLATED");
    expect(errorCodeOf(await call(second, "second"))).toBe("SERVICE_UNAVAILABLE");
    // A moment later, as an operator's next click is: replicas order operators' changes
    // by their time, and keep the first of two made in the same millisecond.
    clock.advance(1);
    dataOf(
      await second.graphql(
        `mutation { resetCircuitBreaker(serviceId: "shared-1") { state } }`,
        {},
        admin,
      ),
    );
    await stateBecomes(first, "CLOSED");
  });
});

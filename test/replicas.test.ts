import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createScratchDatabase, postgresIsAvailable } from "./helpers/database.js";
import { authHeaders, wsConnectionParams } from "./helpers/gateway.js";
import { type GatewayProcess, startGatewayProcess } from "./helpers/process.js";
import {
  deleteKeys,
  isolatedPrefix,
  newRedis,
  redisIsAvailable,
  redisUrl,
} from "./helpers/redis.js";
import { eventually } from "./helpers/wait.js";

const postgres = await postgresIsAvailable();
const redis = await redisIsAvailable();

type Replica = GatewayProcess;

/**
 * Two real gateway processes, as replicas run: one Redis, one PostgreSQL. A subscriber
 * on one sees changes made on the other, and when the replica holding the sweeper's
 * lease is killed outright, the other takes the lease over and expires services itself.
 */
describe.runIf(postgres && redis)("replicas as separate processes", () => {
  const keyPrefix = isolatedPrefix();
  const connection = newRedis();
  const replicas: Replica[] = [];
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;

  async function startReplica(): Promise<Replica> {
    const replica = await startGatewayProcess({
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: keyPrefix,
      DATABASE_URL: scratch.url,
      HEARTBEAT_SWEEP_INTERVAL_SECONDS: "0.3",
    });
    replicas.push(replica);
    return replica;
  }

  const graphql = async (replica: Replica, query: string, variables = {}) => {
    const response = await fetch(`${replica.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", ...authHeaders() },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
  };

  const sweeperLease = () => connection.get(`${keyPrefix}lease:heartbeat-sweeper`);

  beforeAll(async () => {
    scratch = await createScratchDatabase();
  }, 60_000);
  afterAll(async () => {
    for (const replica of replicas) replica.process.kill("SIGKILL");
    await deleteKeys(connection, keyPrefix);
    connection.disconnect();
    await scratch.drop();
  });

  it("shows changes across processes, and hands the sweeper over when its holder dies", async () => {
    const a = await startReplica();
    // Let A take the sweeper's lease before B exists.
    const heldByA = await eventually(async () => {
      const holder = await sweeperLease();
      expect(holder).toBeTruthy();
      return holder;
    });
    const b = await startReplica();

    const client = createClient({
      url: `${b.url.replace("http", "ws")}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: wsConnectionParams(),
      retryAttempts: 0,
    });
    const seen: { status: string; reason: string }[] = [];
    const events = client.iterate<{ serviceStatusChanged: { status: string; reason: string } }>({
      query: `subscription { serviceStatusChanged(serviceId: "short-lived") { status reason } }`,
    });
    const reading = (async () => {
      for await (const event of events) {
        if (event.data) seen.push(event.data.serviceStatusChanged);
      }
    })();
    try {
      // Registered on A with a 1 s TTL and never heartbeated: whoever sweeps expires it.
      const registered = await graphql(
        a,
        `mutation { registerService(input: { id: "short-lived", name: "s", type: "worker", version: "1",
           baseUrl: "http://127.0.0.1:9", heartbeatIntervalSeconds: 1, ttlSeconds: 1 }) { id } }`,
      );
      expect(registered.errors).toBeUndefined();
      // Keep it alive from A until the subscription on B (another process: no hook to
      // wait on) shows it is listening, by hearing one of these changes.
      let round = 0;
      await eventually(async () => {
        const status = round++ % 2 === 0 ? "MAINTENANCE" : "ONLINE";
        await graphql(
          a,
          `mutation { updateServiceStatus(id: "short-lived", status: ${status}) { id } }`,
        );
        expect(seen.length).toBeGreaterThan(0);
      });
      await graphql(
        a,
        `mutation { updateServiceStatus(id: "short-lived", status: ONLINE) { id } }`,
      );
      await graphql(a, `mutation { heartbeat(id: "short-lived") { id } }`);
      // From here on, only an expiry by B counts.
      seen.length = 0;
      a.process.kill("SIGKILL");
      // B takes the lease once A's runs out in Redis, then sweeps.
      await eventually(() =>
        expect(seen.map((event) => event.reason)).toContain("heartbeat expired"),
      );
      expect(await sweeperLease()).not.toBe(heldByA);
    } finally {
      await events.return?.();
      await client.dispose();
      await reading.catch(() => {});
    }
  }, 60_000);
});

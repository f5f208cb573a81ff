import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createScratchDatabase, postgresIsAvailable } from "./helpers/database.js";
import {
  deleteEtcdPrefix,
  etcdEndpoints,
  etcdIsAvailable,
  isolatedEtcdPrefix,
  newEtcd,
} from "./helpers/etcd.js";
import { authHeaders, wsConnectionParams } from "./helpers/gateway.js";
import { type GatewayProcess, startGatewayProcess } from "./helpers/process.js";
import { eventually } from "./helpers/wait.js";

const postgres = await postgresIsAvailable();
const etcd = await etcdIsAvailable();

/**
 * Two real gateway processes on etcd + PostgreSQL, no Redis at all: a subscriber on one
 * sees changes made on the other, the live registry comes back from PostgreSQL when etcd
 * loses it, and when the replica holding the sweeper's lease is killed outright, the
 * other takes the lease over and expires services itself.
 */
describe.runIf(postgres && etcd)("replicas on etcd and PostgreSQL", () => {
  const keyPrefix = isolatedEtcdPrefix();
  const connection = newEtcd();
  const replicas: GatewayProcess[] = [];
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;

  async function startReplica(endpoints = etcdEndpoints): Promise<GatewayProcess> {
    const replica = await startGatewayProcess({
      DISCOVERY_BACKEND: "etcd",
      ETCD_ENDPOINTS: endpoints.join(","),
      ETCD_KEY_PREFIX: keyPrefix,
      DATABASE_URL: scratch.url,
      HEARTBEAT_SWEEP_INTERVAL_SECONDS: "0.3",
    });
    replicas.push(replica);
    return replica;
  }

  const graphql = async (replica: GatewayProcess, query: string, variables = {}) => {
    const response = await fetch(`${replica.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", ...authHeaders() },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
  };

  const sweeperLease = () => connection.get(`${keyPrefix}lease/heartbeat-sweeper`).string();

  beforeAll(async () => {
    scratch = await createScratchDatabase();
  }, 60_000);
  afterAll(async () => {
    for (const replica of replicas) replica.process.kill("SIGKILL");
    await deleteEtcdPrefix(connection, keyPrefix);
    connection.close();
    await scratch.drop();
  });

  it("answers readiness 503 naming etcd while etcd is unreachable", async () => {
    const replica = await startReplica(["http://127.0.0.1:1"]);
    const response = await fetch(`${replica.url}/health/ready`);
    expect(response.status).toBe(503);
    expect(await response.text()).toContain("registry store (etcd)");
    replica.process.kill("SIGKILL");
  }, 30_000);

  it("shows changes across processes, restores etcd from PostgreSQL, and hands the sweeper over", async () => {
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
      const registered = await graphql(
        a,
        `mutation { registerService(input: { id: "short-lived", name: "s", type: "worker", version: "1",
           baseUrl: "http://127.0.0.1:9", heartbeatIntervalSeconds: 1, ttlSeconds: 1 }) { id } }`,
      );
      expect(registered.errors).toBeUndefined();
      // What A registered, B lists.
      const listed = await graphql(b, `{ services(filter: { type: "WORKER" }) { totalCount } }`);
      expect(listed.data?.services).toEqual({ totalCount: 1 });
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
        `mutation { updateServiceStatus(id: "short-lived", status: MAINTENANCE) { id } }`,
      );

      // etcd loses the registry (its keys deleted): both replicas rebuild it from
      // PostgreSQL, and B lists the service again.
      await connection.delete().prefix(`${keyPrefix}service/`);
      await connection.delete().key(`${keyPrefix}restored`);
      await eventually(async () => {
        const again = await graphql(b, `{ service(id: "short-lived") { id status } }`);
        expect(again.data?.service).toEqual({ id: "short-lived", status: "MAINTENANCE" });
      });

      await graphql(
        a,
        `mutation { updateServiceStatus(id: "short-lived", status: ONLINE) { id } }`,
      );
      await graphql(a, `mutation { heartbeat(id: "short-lived") { id } }`);
      // From here on, only an expiry by B counts.
      seen.length = 0;
      a.process.kill("SIGKILL");
      // B takes the lease once A's etcd lease runs out, then sweeps.
      await eventually(
        () => expect(seen.map((event) => event.reason)).toContain("heartbeat expired"),
        30_000,
      );
      expect(await sweeperLease()).not.toBe(heldByA);
    } finally {
      await events.return?.();
      await client.dispose();
      await reading.catch(() => {});
    }
  }, 90_000);
});

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../src/db/client.js";
import { createRegistryRepository } from "../src/db/registry.js";
import { createRedisRegistryStore } from "../src/stores/redis-registry.js";
import { createScratchDatabase, postgresIsAvailable } from "./helpers/database.js";
import { dataOf, errorCodeOf, startGateway, type TestGateway } from "./helpers/gateway.js";
import { deleteKeys, isolatedPrefix, newRedis, redisIsAvailable } from "./helpers/redis.js";
import { eventually } from "./helpers/wait.js";

const REGISTER = `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id registeredAt } }`;
const planner = (id: string) => ({
  id,
  name: "planner",
  type: "planning_system",
  version: "1.0.0",
  baseUrl: `http://${id}.test`,
  tags: ["eu"],
  metadata: { region: "eu-west-1" },
});

type History = {
  serviceHistory: {
    previousStatus: string | null;
    status: string;
    reason: string;
    service: { id: string };
  }[];
};
const HISTORY = `query($id: ID!) { serviceHistory(id: $id) { previousStatus status reason service { id } } }`;

const postgres = await postgresIsAvailable();
const redis = await redisIsAvailable();

describe("history", () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway.stop());

  it("records every transition, newest first, and keeps it after unregistering", async () => {
    dataOf(await gateway.graphql(REGISTER, { input: planner("h1") }));
    dataOf(
      await gateway.graphql(
        `mutation { updateServiceStatus(id: "h1", status: MAINTENANCE) { id } }`,
      ),
    );
    dataOf(
      await gateway.graphql(
        `mutation { updateServiceStatus(id: "h1", status: MAINTENANCE) { id } }`,
      ),
    );
    dataOf(await gateway.graphql(`mutation { heartbeat(id: "h1", status: ONLINE) { id } }`));
    await gateway.app.services.stop(); // flushes what heartbeats left pending
    const fromService = dataOf(
      await gateway.graphql<{ service: { statusHistory: { status: string }[] } }>(
        `{ service(id: "h1") { statusHistory(first: 2) { status } } }`,
      ),
    );
    expect(fromService.service.statusHistory.map((event) => event.status)).toEqual([
      "ONLINE",
      "MAINTENANCE",
    ]);

    dataOf(await gateway.graphql(`mutation { unregisterService(id: "h1") }`));
    const { serviceHistory } = dataOf(await gateway.graphql<History>(HISTORY, { id: "h1" }));
    expect(serviceHistory.map((e) => [e.previousStatus, e.status, e.reason])).toEqual([
      ["ONLINE", "OFFLINE", "unregistered"],
      ["MAINTENANCE", "ONLINE", "reported by heartbeat"],
      ["ONLINE", "MAINTENANCE", "set manually"],
      [null, "ONLINE", "registered"],
    ]);
    expect(serviceHistory.every((event) => event.service.id === "h1")).toBe(true);
  });

  it("refuses a NUL character, which the database could not store", async () => {
    const response = await gateway.graphql(REGISTER, {
      input: { ...planner("nul"), metadata: { note: "a\u0000b" } },
    });
    expect(errorCodeOf(response)).toBe("BAD_USER_INPUT");
    expect(response.errors?.[0]?.extensions?.field).toBe("input.metadata");
  });

  it("stores nothing in the database for rejected input", async () => {
    const repository = createRegistryRepository(gateway.database.db);
    const before = await repository.loadAll();
    for (const bad of [{ baseUrl: "nope" }, { graphql: { path: "no-slash" } }]) {
      const response = await gateway.graphql(REGISTER, { input: { ...planner("bad"), ...bad } });
      expect(errorCodeOf(response)).toBe("BAD_USER_INPUT");
    }
    expect(await repository.loadAll()).toEqual(before);
    expect(await repository.history("bad", { first: 10 })).toEqual([]);
  });
});

describe("restarts", () => {
  it("keeps registrations and heartbeat times in embedded PGlite across a restart", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "sig-data-"));
    try {
      const opened = await openDatabase({ dataDir });
      await opened.migrate();
      const first = await startGateway({ database: opened });
      dataOf(
        await first.graphql(REGISTER, {
          input: { ...planner("kept"), graphql: { path: "/api", kind: "PLAIN" } },
        }),
      );
      const beat = dataOf(
        await first.graphql<{ heartbeat: { lastHeartbeat: string } }>(
          `mutation { heartbeat(id: "kept") { lastHeartbeat } }`,
        ),
      );
      await first.stop();
      await first.database.close();

      const database = await openDatabase({ dataDir });
      await database.migrate();
      const second = await startGateway({ database });
      try {
        const found = dataOf(
          await second.graphql<{
            service: {
              id: string;
              tags: string[];
              lastHeartbeat: string;
              graphql: { path: string; kind: string } | null;
            } | null;
          }>(`{ service(id: "kept") { id tags lastHeartbeat graphql { path kind } } }`),
        );
        expect(found.service).toEqual({
          id: "kept",
          tags: ["eu"],
          lastHeartbeat: beat.heartbeat.lastHeartbeat,
          graphql: { path: "/api", kind: "PLAIN" },
        });
      } finally {
        await second.stop();
        await database.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  describe.runIf(postgres && redis)("production-shaped: PostgreSQL and Redis", () => {
    let connection: Redis;
    let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
    const keyPrefix = isolatedPrefix();

    beforeAll(async () => {
      connection = newRedis();
      scratch = await createScratchDatabase();
    });
    afterAll(async () => {
      await deleteKeys(connection, keyPrefix);
      connection.disconnect();
      await scratch.drop();
    });

    async function gatewayOnBackends() {
      const database = await openDatabase({ url: scratch.url });
      await database.migrate();
      const gateway = await startGateway({
        database,
        store: createRedisRegistryStore({ redis: connection, keyPrefix }),
      });
      return {
        gateway,
        async stop() {
          await gateway.stop();
          await database.close();
        },
      };
    }

    it("rebuilds a flushed Redis from PostgreSQL before reporting ready", async () => {
      const first = await gatewayOnBackends();
      dataOf(
        await first.gateway.graphql(REGISTER, {
          input: { ...planner("durable"), graphql: { kind: "FEDERATION" } },
        }),
      );
      await first.stop();

      await deleteKeys(connection, keyPrefix);

      const second = await gatewayOnBackends();
      try {
        expect((await fetch(`${second.gateway.url}/health/ready`)).status).toBe(200);
        const listed = dataOf(
          await second.gateway.graphql<{
            services: { nodes: { id: string; type: string; graphql: unknown }[] };
          }>(`{ services(filter: { tags: ["eu"] }) { nodes { id type graphql { path kind } } } }`),
        );
        expect(listed.services.nodes).toEqual([
          {
            id: "durable",
            type: "PLANNING_SYSTEM",
            graphql: { path: "/graphql", kind: "FEDERATION" },
          },
        ]);
      } finally {
        await second.stop();
      }
    });

    it("restores a Redis that loses its data while the gateway runs", async () => {
      const running = await gatewayOnBackends();
      try {
        dataOf(await running.gateway.graphql(REGISTER, { input: planner("survivor") }));
        await deleteKeys(connection, keyPrefix);
        // The live-store guard notices on its next check, and restores from the database.
        await eventually(async () => {
          const found = dataOf(
            await running.gateway.graphql<{ service: { id: string } | null }>(
              `{ service(id: "survivor") { id } }`,
            ),
          ).service;
          expect(found).toEqual({ id: "survivor" });
        });
      } finally {
        await running.stop();
      }
    });

    it("lets two replicas migrate the same database at once", async () => {
      const [a, b] = await Promise.all([
        openDatabase({ url: scratch.url }),
        openDatabase({ url: scratch.url }),
      ]);
      try {
        await Promise.all([a.migrate(), b.migrate()]);
        expect(await a.isMigrated()).toBe(true);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
});

describe("a database outage", () => {
  it("answers SERVICE_UNAVAILABLE and changes nothing, while heartbeats go on", async () => {
    const database = await openDatabase({ dataDir: "memory://" });
    await database.migrate();
    const gateway = await startGateway({ database });
    try {
      dataOf(await gateway.graphql(REGISTER, { input: planner("steady") }));
      await database.close();

      const register = await gateway.graphql(REGISTER, { input: planner("new") });
      expect(errorCodeOf(register)).toBe("SERVICE_UNAVAILABLE");
      const status = await gateway.graphql(
        `mutation { updateServiceStatus(id: "steady", status: MAINTENANCE) { id } }`,
      );
      expect(errorCodeOf(status)).toBe("SERVICE_UNAVAILABLE");
      expect(await gateway.store.get("new")).toBeNull();
      expect((await gateway.store.get("steady"))?.record.status).toBe("ONLINE");

      const beat = await gateway.graphql<{ heartbeat: { status: string } }>(
        `mutation { heartbeat(id: "steady") { status } }`,
      );
      expect(dataOf(beat).heartbeat.status).toBe("ONLINE");
    } finally {
      await gateway.app.stop().catch(() => {});
    }
  });
});

describe("readiness", () => {
  it("is 503 naming the database when the database does not answer", async () => {
    const database = await openDatabase({ dataDir: "memory://" });
    await database.migrate();
    const gateway = await startGateway({ database });
    try {
      await database.close();
      const ready = await fetch(`${gateway.url}/health/ready`);
      expect(ready.status).toBe(503);
      const body = (await ready.json()) as { failing: string[] };
      expect(body.failing.some((line) => line.startsWith("database (pglite)"))).toBe(true);
    } finally {
      await gateway.app.stop().catch(() => {});
    }
  });

  it("is 503 while the database's migrations have not run", async () => {
    const database = await openDatabase({ dataDir: "memory://" });
    const gateway = await startGateway({ database });
    try {
      const ready = await fetch(`${gateway.url}/health/ready`);
      expect(ready.status).toBe(503);
      expect(JSON.stringify(await ready.json())).toContain("migrations not applied");
      await database.migrate();
      // The live registry is restored on the next check, then the gateway is ready.
      await eventually(async () =>
        expect((await fetch(`${gateway.url}/health/ready`)).status).toBe(200),
      );
    } finally {
      await gateway.stop();
      await database.close();
    }
  });
});

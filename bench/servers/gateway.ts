/**
 * The gateway on the store named by argv[2], seeded with 1,000 services (50 types of 20
 * instances each):
 * - `memory`: the embedded default, as `npm start` runs it: the memory store and PGlite
 *   in a data directory, on PGlite's own thread;
 * - `memory-inprocess`: the same with PGlite on the gateway's thread (in memory), as the
 *   embedded default ran before it had a thread, for comparison;
 * - `redis` or `etcd` (at ETCD_ENDPOINTS or 127.0.0.1:2379): with PostgreSQL, as
 *   replicas run.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { pino } from "pino";
import { createApp } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { openDatabase } from "../../src/db/client.js";
import { anonymousCaller } from "../../src/domain/access.js";
import { createEtcdClient } from "../../src/etcd.js";
import { createInProcessEvents } from "../../src/events.js";
import { createRedisConnection } from "../../src/redis.js";
import { createEtcdRegistryStore } from "../../src/stores/etcd-registry.js";
import { createMemoryRegistryStore } from "../../src/stores/memory-registry.js";
import { createRedisRegistryStore } from "../../src/stores/redis-registry.js";
import { BENCH_TOKEN } from "../token.js";
import { announce } from "./ready.js";

export const SEEDED_TYPES = 50;
export const INSTANCES_PER_TYPE = 20;

const backend = process.argv[2] ?? "memory";
const config = loadConfig({
  ...process.env,
  SERVICE_PORT: "0",
  SERVICE_HOST: "127.0.0.1",
  LOG_LEVEL: "warn",
  // Off whatever the shell says: the figures measure the gateway, not a limit.
  RATE_LIMIT_PER_MINUTE: "0",
  ADMIN_TOKEN: BENCH_TOKEN,
  // The seeded services live at addresses nothing answers on: no probes.
  PROBES: "false",
});
const log = pino({ level: "warn" });
const keyPrefix = `sig:bench:${process.pid}:`;

const redis =
  backend === "redis"
    ? createRedisConnection(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", log, "bench")
    : null;
if (redis) await redis.connect();
const etcd =
  backend === "etcd"
    ? createEtcdClient({
        endpoints: (process.env.ETCD_ENDPOINTS ?? "http://127.0.0.1:2379").split(","),
        username: null,
        password: null,
        caFile: null,
        certFile: null,
        keyFile: null,
      })
    : null;
const etcdPrefix = `/sig/bench/${process.pid}/`;
const store = redis
  ? createRedisRegistryStore({ redis, keyPrefix })
  : etcd
    ? createEtcdRegistryStore({ client: etcd, keyPrefix: etcdPrefix })
    : createMemoryRegistryStore();

// The durable record: a scratch PostgreSQL database beside Redis or etcd; embedded PGlite
// beside the memory store, in a temporary data directory (removed at exit) or in memory.
const scratchDatabase = redis || etcd ? `sig_bench_${process.pid}` : null;
const postgresUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
if (scratchDatabase) await adminQuery(`CREATE DATABASE ${scratchDatabase}`);
const dataDir = backend === "memory" ? mkdtempSync(join(tmpdir(), "sig-bench-data-")) : null;
if (dataDir) process.once("exit", () => rmSync(dataDir, { recursive: true, force: true }));
const database = await openDatabase(
  scratchDatabase
    ? { url: withDatabase(postgresUrl, scratchDatabase) }
    : { dataDir: dataDir ? join(dataDir, "pglite") : "memory://" },
);
await database.migrate();
const app = createApp({ config, store, database, events: createInProcessEvents(), log });
// The registry answers only once the live store holds what the database holds.
await app.services.liveStore.restore();
for (let type = 0; type < SEEDED_TYPES; type++) {
  for (let instance = 0; instance < INSTANCES_PER_TYPE; instance++) {
    await app.services.registry.register(
      {
        id: `svc-${type}-${instance}`,
        name: `service ${type}/${instance}`,
        type: `TYPE_${type}`,
        version: "1.0.0",
        baseUrl: `http://svc-${type}-${instance}.internal:8000`,
        tags: ["eu", "primary"],
        capabilities: ["work"],
        metadata: { region: "eu-west-1" },
        // Longer than any bench run, so nothing expires under the scenarios' feet.
        ttlSeconds: 86_400,
      },
      anonymousCaller(),
    );
  }
}
announce((await app.start()).port);

async function adminQuery(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  await client.query(statement);
  await client.end();
}

function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

async function cleanUp() {
  await app.stop();
  await database.close();
  if (scratchDatabase) await adminQuery(`DROP DATABASE IF EXISTS ${scratchDatabase} WITH (FORCE)`);
  if (redis) {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${keyPrefix}*`, "COUNT", 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== "0");
    redis.disconnect();
  }
  if (etcd) {
    await etcd.delete().prefix(etcdPrefix);
    etcd.close();
  }
  process.exit(0);
}
process.on("SIGTERM", () => void cleanUp());

/**
 * The gateway as `npm start` runs it, on the store named by argv[2] (memory | redis),
 * seeded with 1,000 services: 50 types of 20 instances each.
 */
import { pino } from "pino";
import { createApp } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { openDatabase } from "../../src/db/client.js";
import { createInProcessEvents } from "../../src/events.js";
import { createRedisConnection } from "../../src/redis.js";
import { anonymousCaller } from "../../src/services/caller.js";
import { createMemoryRegistryStore } from "../../src/stores/memory-registry.js";
import { createRedisRegistryStore } from "../../src/stores/redis-registry.js";
import { announce } from "./ready.js";

export const SEEDED_TYPES = 50;
export const INSTANCES_PER_TYPE = 20;

const backend = process.argv[2] ?? "memory";
const config = loadConfig({
  ...process.env,
  SERVICE_PORT: "0",
  SERVICE_HOST: "127.0.0.1",
  LOG_LEVEL: "warn",
});
const log = pino({ level: "warn" });
const keyPrefix = `sig:bench:${process.pid}:`;

const redis =
  backend === "redis"
    ? createRedisConnection(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", log, "bench")
    : null;
if (redis) await redis.connect();
const store = redis ? createRedisRegistryStore({ redis, keyPrefix }) : createMemoryRegistryStore();

// The durable record as `npm start` keeps it by default: embedded PGlite, in memory here.
const database = await openDatabase({ dataDir: "memory://" });
await database.migrate();
const app = createApp({ config, store, database, events: createInProcessEvents(), log });
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
      },
      anonymousCaller,
    );
  }
}
announce((await app.start()).port);

async function cleanUp() {
  if (redis) {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${keyPrefix}*`, "COUNT", 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== "0");
    redis.disconnect();
  }
  process.exit(0);
}
process.on("SIGTERM", () => void cleanUp());

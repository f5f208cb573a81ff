import { createApp } from "./app.js";
import { type Config, ConfigError, loadConfig } from "./config.js";
import { openDatabase } from "./db/client.js";
import { createInProcessEvents, createRedisEvents } from "./events.js";
import { createLogger } from "./logger.js";
import { connectRedis, createRedisConnection } from "./redis.js";
import { createMemoryLeaseStore, createRedisLeaseStore } from "./stores/lease.js";
import { createMemoryRegistryStore } from "./stores/memory-registry.js";
import { createRedisRegistryStore } from "./stores/redis-registry.js";

/**
 * Composition root: config → database (migrated) → live store → app → listen; on
 * SIGTERM/SIGINT the app stops first, then the backends close in reverse order.
 */
async function main() {
  const config = loadConfigOrExit();
  const log = createLogger(config);
  const closers: (() => Promise<unknown>)[] = [];

  const started = performance.now();
  const database = await openDatabase(config.database, log);
  closers.push(() => database.close());
  await database.migrate();
  log.info(
    { database: database.kind, ms: Math.round(performance.now() - started) },
    "database ready",
  );

  let store = createMemoryRegistryStore();
  let events = createInProcessEvents();
  let leases = createMemoryLeaseStore();
  if (config.discoveryBackend === "redis" && config.redis) {
    const { url, keyPrefix } = config.redis;
    const redis = createRedisConnection(url, log, `${config.serviceName}:store`);
    const subscriber = createRedisConnection(url, log, `${config.serviceName}:events`, {
      queueWhileOffline: true,
    });
    await Promise.all([connectRedis(redis), connectRedis(subscriber)]);
    closers.push(() => redis.quit().catch(() => redis.disconnect()));
    store = createRedisRegistryStore({ redis, keyPrefix });
    leases = createRedisLeaseStore({ redis, keyPrefix });
    events = createRedisEvents({ publisher: redis, subscriber, channelPrefix: keyPrefix, log });
  }
  closers.push(() => events.close());

  const app = createApp({ config, store, database, events, leases, log });
  const { url } = await app.start();
  log.info(
    {
      url: `${url}/graphql`,
      store: store.kind,
      database: database.kind,
      startupMs: Math.round(performance.now() - started),
      rssMb: Math.round(process.memoryUsage().rss / 2 ** 20),
    },
    "service integration gateway listening",
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    // The drain cuts connections at the shutdown timeout; the 5 s beyond it are for the
    // final writes and closing the backends, and this for one that never answers.
    const forcedAfterMs = config.shutdownTimeoutSeconds * 1000 + 5000;
    const forced = setTimeout(() => {
      log.error({ forcedAfterMs }, "shutdown did not finish in time; exiting");
      process.exit(1);
    }, forcedAfterMs);
    forced.unref();
    await app.stop();
    for (const close of closers.reverse()) await close();
    log.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

await main();

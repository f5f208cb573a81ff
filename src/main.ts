import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { App } from "./app.js";
import { type Config, ConfigError, loadConfig } from "./config.js";
import { type Database, openDatabase } from "./db/client.js";
import { DataDirLockedError, lockDataDir } from "./db/data-dir-lock.js";
import { migrateWhenReachable } from "./db/migrate-when-reachable.js";
import { createEtcdEvents, createInProcessEvents, createRedisEvents } from "./events.js";
import { trackConnections } from "./http/drain.js";
import { listen } from "./http/listen.js";
import { answerWhileStarting, type StartingState } from "./http/starting.js";
import { type Clock, systemClock } from "./lib/clock.js";
import { createLogger } from "./logger.js";
import { connectRedis, createRedisConnection } from "./redis.js";
import { createMemoryLeaseStore, createRedisLeaseStore } from "./stores/lease.js";
import { createMemoryRegistryStore } from "./stores/memory-registry.js";
import { createRedisRateLimitStore, type RateLimitStore } from "./stores/rate-limit.js";
import { createRedisRegistryStore } from "./stores/redis-registry.js";

/**
 * Composition root: config → the data directory's lock → the port (answering health
 * checks while the rest starts) → database, waited for and migrated → live store → app.
 * On SIGTERM/SIGINT the app stops first, then the backends close in reverse order.
 */
async function main() {
  const config = loadConfigOrExit();
  const log = createLogger(config);
  // The gateway's modules (yoga, Pothos, the federation runtime: most of a start's time
  // on a fast database) load while the database opens, on PGlite's own thread or over the
  // network, instead of before the port is even bound.
  const gateway = loadGateway();
  // The one clock of the process, handed to everything that reads the time of day.
  const clock = systemClock;
  const closers: (() => Promise<unknown>)[] = [];
  const started = performance.now();

  // Before anything inside the embedded data directory is touched: one process owns it.
  // (A throwaway in-memory database, `memory://`, has no directory to share.)
  if ("dataDir" in config.database && !config.database.dataDir.startsWith("memory://")) {
    const lock = lockOrExit(config.database.dataDir, clock);
    closers.push(async () => lock.release());
  }

  // Before the database is opened: a port in use is one line, with nothing opened yet.
  const databaseName = `database (${"url" in config.database ? "postgres" : "pglite"})`;
  const starting: StartingState = { waitingFor: databaseName, error: null };
  // One request listener for the process, which hands over from the starting answers
  // to the gateway's; the connections are tracked from the first, for the drain.
  let answer: RequestListener = answerWhileStarting(() => starting);
  const server = createServer((req, res) => answer(req, res));
  const connections = trackConnections(server);
  await listenOrExit(server, config);
  const { port } = server.address() as AddressInfo;
  log.info({ port }, "port bound; starting");
  // Stopped while still starting: the gateway's own stop drains it otherwise (once).
  closers.push(() => connections.drain({ timeoutMs: config.shutdownTimeoutSeconds * 1000 }));

  let app: App | null = null;
  let stopping = false;
  const aborted = new AbortController();
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    aborted.abort();
    // The drain cuts connections at the shutdown timeout; the 5 s beyond it are for the
    // final writes and closing the backends, and this for one that never answers.
    const forcedAfterMs = config.shutdownTimeoutSeconds * 1000 + 5000;
    const forced = setTimeout(() => {
      log.error({ forcedAfterMs }, "shutdown did not finish in time; exiting");
      process.exit(1);
    }, forcedAfterMs);
    forced.unref();
    await app?.stop();
    for (const close of closers.reverse()) await close().catch(() => {});
    log.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));

  let database: Database;
  try {
    database = await openDatabase(config.database, log);
    closers.push(() => database.close());
    await migrateWhenReachable(database, {
      log,
      signal: aborted.signal,
      onWaiting: (error) => {
        starting.error = error;
      },
    });
  } catch (error) {
    // A signal while waiting: shutdown() exits.
    if (stopping) return;
    throw error;
  }
  log.info(
    { database: database.kind, ms: Math.round(performance.now() - started) },
    "database ready",
  );

  let store = createMemoryRegistryStore();
  let events = createInProcessEvents();
  let leases = createMemoryLeaseStore({ clock });
  // In memory unless Redis is there (createApp's default).
  let rateLimitStore: RateLimitStore | undefined;
  if (config.discoveryBackend === "redis" && config.redis) {
    const { url, keyPrefix } = config.redis;
    const redis = createRedisConnection(url, log, `${config.serviceName}:store`);
    const subscriber = createRedisConnection(url, log, `${config.serviceName}:events`, {
      queueWhileOffline: true,
    });
    await Promise.all([connectRedis(redis), connectRedis(subscriber)]);
    closers.push(() => redis.quit().catch(() => redis.disconnect()));
    store = createRedisRegistryStore({ redis, keyPrefix, clock });
    leases = createRedisLeaseStore({ redis, keyPrefix });
    rateLimitStore = createRedisRateLimitStore({ redis, keyPrefix });
    events = createRedisEvents({ publisher: redis, subscriber, channelPrefix: keyPrefix, log });
  } else if (config.discoveryBackend === "etcd" && config.etcd) {
    // The client connects on first use and reconnects by itself: an etcd that is down at
    // start shows in readiness, and the live store is restored once it answers. Rate
    // limits stay per replica on etcd (a counter a request would be a write to the Raft
    // log each): README, Rate limits.
    const { keyPrefix } = config.etcd;
    // Loaded only here: etcd's client brings gRPC and protobufjs, a fifth of a start's
    // module loading, which nobody else needs.
    const [{ createEtcdClient }, { createEtcdRegistryStore }, { createEtcdLeaseStore }] =
      await Promise.all([
        import("./etcd.js"),
        import("./stores/etcd-registry.js"),
        import("./stores/etcd-lease.js"),
      ]);
    const etcd = createEtcdClient(config.etcd);
    closers.push(async () => etcd.close());
    const etcdStore = createEtcdRegistryStore({ client: etcd, keyPrefix, clock });
    store = etcdStore;
    leases = createEtcdLeaseStore({ client: etcd, keyPrefix });
    events = createEtcdEvents({
      client: etcd,
      keyPrefix,
      changesSince: (since, limit) => etcdStore.changesSince(since, limit),
      log,
    });
  }
  closers.push(() => events.close());

  if (stopping) return;
  const { createApp, OPEN_MODE_WARNING } = await gateway;
  app = createApp({
    config,
    store,
    database,
    events,
    leases,
    rateLimitStore,
    log,
    clock,
    listening: {
      server,
      connections,
      handOver: (listener) => {
        answer = listener;
      },
    },
  });
  const { url } = await app.start();
  log.info(
    {
      url: `${url}/graphql`,
      store: store.kind,
      database: database.kind,
      // From the process's start (performance's time origin): module loading included.
      startupMs: Math.round(performance.now()),
      rssMb: Math.round(process.memoryUsage().rss / 2 ** 20),
    },
    "service integration gateway listening",
  );
  if (app.services.access.mode === "open") log.warn(OPEN_MODE_WARNING);
}

/** The app and what main says of it, loading; a failure is raised where it is awaited. */
function loadGateway() {
  const loading = Promise.all([import("./app.js"), import("./services/index.js")]).then(
    ([{ createApp }, { OPEN_MODE_WARNING }]) => ({ createApp, OPEN_MODE_WARNING }),
  );
  loading.catch(() => {});
  return loading;
}

function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) exitWith(error.message);
    throw error;
  }
}

function lockOrExit(dataDir: string, clock: Clock) {
  try {
    return lockDataDir(dataDir, clock);
  } catch (error) {
    if (error instanceof DataDirLockedError) exitWith(error.message);
    throw error;
  }
}

async function listenOrExit(server: Server, config: Config): Promise<void> {
  try {
    await listen(server, config.port, config.host);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const where = `port ${config.port} on ${config.host}`;
    if (code === "EADDRINUSE") exitWith(`${where} is in use by another process; set SERVICE_PORT`);
    if (code === "EACCES") exitWith(`${where} may not be used by this user; set SERVICE_PORT`);
    if (code === "EADDRNOTAVAIL") exitWith(`${config.host} is no address of this machine`);
    throw error;
  }
}

/** A start-up the operator must fix: one line, no stack trace, exit code 1. */
function exitWith(message: string): never {
  process.stderr.write(`${message}\n`);
  // The lock file, if taken, goes with the exit handler.
  process.exit(1);
}

await main();

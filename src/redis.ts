import { Redis } from "ioredis";
import type { Logger } from "pino";

/**
 * A Redis connection that fails fast while Redis is away (no offline queue), so callers
 * get SERVICE_UNAVAILABLE at once instead of hanging, and that keeps reconnecting.
 * Auto-pipelining batches concurrent commands into one round trip.
 */
export function createRedisConnection(
  url: string,
  log: Logger,
  name: string,
  /** A subscriber queues its SUBSCRIBE until connected instead of failing it. */
  options: { queueWhileOffline?: boolean } = {},
): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: options.queueWhileOffline ?? false,
    enableAutoPipelining: true,
    maxRetriesPerRequest: 1,
    connectionName: name,
    // At most a second between attempts, so the gateway is back within about a second
    // of Redis; a reconnect attempt costs a refused connection, nothing more.
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
  });
  let reported = false;
  redis.on("error", (error: Error) => {
    // ioredis repeats the same error on every reconnect attempt; say it once per outage.
    if (!reported) log.warn({ err: error, connection: name }, "redis unavailable; reconnecting");
    reported = true;
  });
  redis.on("ready", () => {
    if (reported) log.info({ connection: name }, "redis connection restored");
    reported = false;
  });
  return redis;
}

/** Connects, but does not fail start-up: readiness reports Redis until it answers. */
export async function connectRedis(redis: Redis): Promise<void> {
  try {
    await redis.connect();
  } catch {
    // The retry strategy keeps trying in the background; the error was logged.
  }
}

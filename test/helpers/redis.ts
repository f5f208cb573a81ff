import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";

/**
 * The Redis the backend suites use: REDIS_URL when set (CI sets it, and then a Redis
 * that does not answer fails the suite), else a local default that may be absent,
 * in which case the Redis suites skip and say so.
 */
export const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const required = process.env.REDIS_URL !== undefined;

export async function redisIsAvailable(): Promise<boolean> {
  const probe = new Redis(redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on("error", () => {});
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch (error) {
    if (required)
      throw new Error(`REDIS_URL=${redisUrl} is set but Redis does not answer: ${error}`);
    console.warn(`Redis suites skipped: no Redis at ${redisUrl} (set REDIS_URL to require one).`);
    return false;
  } finally {
    probe.disconnect();
  }
}

/** A key prefix no other test uses, and a way to delete everything under it. */
export function isolatedPrefix(): string {
  return `sig:test:${randomUUID()}:`;
}

export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== "0");
}

export function newRedis(): Redis {
  return new Redis(redisUrl, { enableAutoPipelining: true });
}

import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

export type RedisScript = (args: (string | number)[]) => Promise<unknown>;

/**
 * A Lua script called by its SHA, so each call sends only the arguments; the body is
 * loaded once, and again after a Redis restart or SCRIPT FLUSH (NOSCRIPT).
 */
export function defineScript(redis: Redis, lua: string): RedisScript {
  const sha = createHash("sha1").update(lua).digest("hex");
  return async (args) => {
    try {
      return await redis.evalsha(sha, 0, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return redis.eval(lua, 0, ...args);
    }
  };
}

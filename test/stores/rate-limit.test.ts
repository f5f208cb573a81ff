import type { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { anonymousCaller } from "../../src/domain/access.js";
import { createRateLimiter } from "../../src/services/rate-limit.js";
import {
  createMemoryRateLimitStore,
  createRedisRateLimitStore,
  type RateLimitStore,
} from "../../src/stores/rate-limit.js";
import { manualClock } from "../helpers/clock.js";
import { deleteKeys, isolatedPrefix, newRedis, redisIsAvailable } from "../helpers/redis.js";

function rateLimitContract(name: string, create: () => RateLimitStore) {
  describe(`RateLimitStore contract: ${name}`, () => {
    it("lets a burst through, then one per interval, and says how long to wait", async () => {
      const store = create();
      const t = 1_700_000_000_000;
      // 1,000 ms per request, 3 at once.
      expect(await store.take("k", t, 1000, 3)).toBe(0);
      expect(await store.take("k", t, 1000, 3)).toBe(0);
      expect(await store.take("k", t, 1000, 3)).toBe(0);
      expect(await store.take("k", t, 1000, 3)).toBe(1000);
      expect(await store.take("k", t + 400, 1000, 3)).toBe(600);
      // A refusal counts nothing: the wait is the same.
      expect(await store.take("k", t + 400, 1000, 3)).toBe(600);
      expect(await store.take("k", t + 1000, 1000, 3)).toBe(0);
      expect(await store.take("k", t + 1000, 1000, 3)).toBe(1000);
      // Another key has its own allowance; an idle key is whole again.
      expect(await store.take("other", t + 1000, 1000, 3)).toBe(0);
      expect(await store.take("k", t + 10_000, 1000, 3)).toBe(0);
      expect(await store.take("k", t + 10_000, 1000, 3)).toBe(0);
      expect(await store.take("k", t + 10_000, 1000, 3)).toBe(0);
      expect(await store.take("k", t + 10_000, 1000, 3)).toBe(1000);
    });

    it("handles intervals that are not whole milliseconds (7 a minute)", async () => {
      const store = create();
      const t = 1_700_000_000_000;
      expect(await store.take("k", t, 60_000 / 7, 1)).toBe(0);
      expect(await store.take("k", t, 60_000 / 7, 1)).toBe(8572);
      expect(await store.take("k", t + 8572, 60_000 / 7, 1)).toBe(0);
    });
  });
}

rateLimitContract("memory", () => createMemoryRateLimitStore());

describe("memory rate limits", () => {
  it("keeps at most maxKeys, dropping idle keys and then the least recently counted", async () => {
    const store = createMemoryRateLimitStore({ maxKeys: 3 });
    const t = 1_700_000_000_000;
    for (const key of ["a", "b", "c"]) await store.take(key, t, 1000, 1);
    // "d" evicts "a", the oldest; "a" is then whole again.
    await store.take("d", t, 1000, 1);
    expect(await store.take("a", t, 1000, 1)).toBe(0);
    // "b" went to make room for "a"; "d" is still counted.
    expect(await store.take("d", t, 1000, 1)).toBe(1000);
  });
});

const redisUp = await redisIsAvailable();
describe.skipIf(!redisUp)("redis rate limits", () => {
  const redis: Redis | null = redisUp ? newRedis() : null;
  const prefixes: string[] = [];
  afterAll(async () => {
    if (!redis) return;
    for (const prefix of prefixes) await deleteKeys(redis, prefix);
    redis.disconnect();
  });
  rateLimitContract("redis", () => {
    const keyPrefix = isolatedPrefix();
    prefixes.push(keyPrefix);
    return createRedisRateLimitStore({ redis: redis as Redis, keyPrefix });
  });
});

describe("rate limiter", () => {
  it("lets requests through while the store fails, and warns once per outage", async () => {
    const lines: { level: number; msg: string }[] = [];
    const log = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
    let down = true;
    const store: RateLimitStore = {
      kind: "redis",
      async take() {
        if (down) throw new Error("Stream isn't writeable");
        return 5000;
      },
    };
    const limiter = createRateLimiter({
      store,
      settings: { perMinute: 60, burst: 1 },
      clock: manualClock(),
      log,
    });
    const caller = anonymousCaller(null, "192.0.2.7");
    for (let i = 0; i < 3; i++) expect(await limiter.check(caller)).toBeNull();
    down = false;
    expect(await limiter.check(caller)).toEqual({ retryAfterSeconds: 5 });
    down = true;
    expect(await limiter.check(caller)).toBeNull();
    expect(lines.map((line) => [line.level, line.msg])).toEqual([
      [40, "rate limit store unavailable; letting requests through until it answers"],
      [30, "rate limit store answers again"],
      [40, "rate limit store unavailable; letting requests through until it answers"],
    ]);
  });
});

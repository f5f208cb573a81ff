import type { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createRedisConnection } from "../../src/redis.js";
import { createRedisRateLimitStore } from "../../src/stores/rate-limit.js";
import { type ManualClock, manualClock } from "../helpers/clock.js";
import { startGateway, type TestGateway, tokensMode } from "../helpers/gateway.js";
import { deleteKeys, isolatedPrefix, newRedis, redisIsAvailable } from "../helpers/redis.js";

const READER_A = "reader-a-secret-0123456789";
const READER_B = "reader-b-secret-0123456789";
const tokens = [
  { secret: READER_A, role: "reader" as const, name: "a", serviceTypes: null },
  { secret: READER_B, role: "reader" as const, name: "b", serviceTypes: null },
];

const query = (gateway: TestGateway, token: string, headers: Record<string, string> = {}) =>
  fetch(`${gateway.url}/graphql`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${token}`,
      ...headers,
    },
    body: `{"query":"{ __typename }"}`,
  });

/**
 * 60 a minute, 2 at once: a request every second once the burst is spent. The clock
 * stands still unless the test moves it, so no allowance refills while a test runs.
 */
describe("rate limits", () => {
  let gateway: TestGateway;
  let clock: ManualClock;

  beforeAll(async () => {
    clock = manualClock();
    gateway = await startGateway({ clock, tokens, rateLimits: { perMinute: 60, burst: 2 } });
  });
  afterAll(() => gateway.stop());

  it("refuses a token's request past its burst with 429, Retry-After and RATE_LIMITED", async () => {
    clock.advance(60_000);
    expect((await query(gateway, READER_A)).status).toBe(200);
    // Through yoga (Origin) as through the fast path: the limit comes before either.
    expect((await query(gateway, READER_A, { origin: "http://dashboard.test" })).status).toBe(200);
    const refused = await query(gateway, READER_A);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(await refused.json()).toEqual({
      errors: [
        {
          message: "Too many requests: try again in 1 s.",
          extensions: { code: "RATE_LIMITED", retryAfter: 1 },
        },
      ],
    });
    // Another token has its own allowance.
    expect((await query(gateway, READER_B)).status).toBe(200);
    clock.advance(1000);
    expect((await query(gateway, READER_A)).status).toBe(200);
    expect((await query(gateway, READER_A)).status).toBe(429);
  });

  it("counts REST and /metrics too, but never liveness and readiness", async () => {
    clock.advance(60_000);
    const rest = () =>
      fetch(`${gateway.url}/discovery/services`, {
        headers: { authorization: `Bearer ${READER_B}` },
      });
    expect((await rest()).status).toBe(200);
    expect((await rest()).status).toBe(200);
    const refused = await rest();
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(await refused.json()).toEqual({
      detail: "Too many requests: try again in 1 s.",
      message: "Too many requests: try again in 1 s.",
      code: "RATE_LIMITED",
      retryAfter: 1,
    });
    const metrics = await fetch(`${gateway.url}/metrics`, {
      headers: { authorization: `Bearer ${READER_B}` },
    });
    expect(metrics.status).toBe(429);
    for (let i = 0; i < 5; i++) {
      expect((await fetch(`${gateway.url}/health/alive`)).status).toBe(200);
      expect((await fetch(`${gateway.url}/health/ready`)).status).toBe(200);
    }
    clock.advance(60_000);
    const text = await (
      await fetch(`${gateway.url}/metrics`, { headers: { authorization: `Bearer ${READER_B}` } })
    ).text();
    expect(text).toMatch(/sig_rate_limited_total\{surface="rest",service="[^"]+"\} 1/);
    expect(text).toMatch(/sig_rate_limited_total\{surface="metrics",service="[^"]+"\} 1/);
  });

  it("refuses a graphql-ws subscribe past the limit with an error message, socket open", async () => {
    clock.advance(60_000);
    const socket = new WebSocket(
      `${gateway.url.replace("http", "ws")}/graphql`,
      "graphql-transport-ws",
    );
    const messages: { type: string; id?: string; payload?: unknown }[] = [];
    const arrived = (predicate: (m: (typeof messages)[number]) => boolean) =>
      new Promise<void>((resolve) => {
        const look = () => {
          if (messages.some(predicate)) resolve();
          else socket.once("message", () => setImmediate(look));
        };
        look();
      });
    socket.on("message", (data) => messages.push(JSON.parse(String(data))));
    await new Promise((resolve) => socket.once("open", resolve));
    socket.send(
      JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${READER_A}` } }),
    );
    await arrived((m) => m.type === "connection_ack");
    const subscription = { query: "subscription { serviceStatusChanged { status } }" };
    for (const id of ["1", "2", "3"]) {
      socket.send(JSON.stringify({ id, type: "subscribe", payload: subscription }));
    }
    await arrived((m) => m.type === "error");
    expect(messages.filter((m) => m.type === "error")).toEqual([
      {
        id: "3",
        type: "error",
        payload: [
          {
            message: "Too many requests: try again in 1 s.",
            extensions: { code: "RATE_LIMITED", retryAfter: 1 },
          },
        ],
      },
    ]);
    expect(socket.readyState).toBe(WebSocket.OPEN);
    socket.close();
  });
});

// About open mode itself: the tokens-mode run has no anonymous callers.
describe.skipIf(tokensMode)("anonymous callers", () => {
  it("are counted by address in open mode", async () => {
    const clock = manualClock();
    const gateway = await startGateway({ clock, rateLimits: { perMinute: 60, burst: 1 } });
    try {
      expect((await query(gateway, "any-bearer-in-open-mode")).status).toBe(200);
      // Another bearer from the same address is the same anonymous caller.
      expect((await query(gateway, "another-bearer-in-open-mode")).status).toBe(429);
    } finally {
      await gateway.stop();
    }
  });
});

const redisUp = await redisIsAvailable();
describe.skipIf(!redisUp)("rate limits shared through Redis", () => {
  const redis: Redis | null = redisUp ? newRedis() : null;
  const keyPrefix = isolatedPrefix();
  afterAll(async () => {
    if (!redis) return;
    await deleteKeys(redis, keyPrefix);
    redis.disconnect();
  });

  it("counts one token's requests across replicas", async () => {
    const clock = manualClock();
    const replicas = await Promise.all(
      [0, 1].map(() =>
        startGateway({
          clock,
          tokens,
          rateLimits: { perMinute: 60, burst: 2 },
          rateLimitStore: createRedisRateLimitStore({ redis: redis as Redis, keyPrefix }),
        }),
      ),
    );
    const [one, two] = replicas as [TestGateway, TestGateway];
    try {
      expect((await query(one, READER_A)).status).toBe(200);
      expect((await query(two, READER_A)).status).toBe(200);
      expect((await query(one, READER_A)).status).toBe(429);
      expect((await query(two, READER_A)).status).toBe(429);
      clock.advance(1000);
      expect((await query(two, READER_A)).status).toBe(200);
    } finally {
      await Promise.all(replicas.map((replica) => replica.stop()));
    }
  });

  it("fails open: with Redis unreachable, requests go through", async () => {
    // Nothing listens on port 1; the connection fails every command at once.
    const unreachable = createRedisConnection(
      "redis://127.0.0.1:1",
      pino({ level: "silent" }),
      "t",
    );
    unreachable.connect().catch(() => {});
    const gateway = await startGateway({
      tokens,
      rateLimits: { perMinute: 60, burst: 1 },
      rateLimitStore: createRedisRateLimitStore({ redis: unreachable, keyPrefix }),
    });
    try {
      for (let i = 0; i < 3; i++) expect((await query(gateway, READER_A)).status).toBe(200);
    } finally {
      await gateway.stop();
      unreachable.disconnect();
    }
  });
});

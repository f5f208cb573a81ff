import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createAddressPolicy } from "../../src/clients/address-guard.js";
import { InstanceBreaker } from "../../src/clients/circuit-breaker.js";
import { createServiceClient, type OutgoingCall } from "../../src/clients/service-client.js";
import { type CallPolicySettings, defaultCallPolicy } from "../../src/domain/call-policy.js";
import { GatewayError } from "../../src/domain/errors.js";
import { startUpstreamService, type UpstreamService } from "../fixtures/upstream-service.js";

/** A client on real sockets, with breakers on a clock the test can move. */
function clientFor(settings: Partial<CallPolicySettings> = {}) {
  const clock = { now: Date.now() };
  const breakers = new Map<string, InstanceBreaker>();
  const breakerOf = (serviceId: string) => {
    let breaker = breakers.get(serviceId);
    if (!breaker) {
      breaker = new InstanceBreaker(
        serviceId,
        { failureThreshold: 5, resetTimeoutMs: 30_000, halfOpenMaxCalls: 3 },
        {
          now: () => clock.now,
          acquireTrial: async () => true,
          trialLeaseMs: 10_000,
          changed: () => {},
        },
      );
      breakers.set(serviceId, breaker);
    }
    return breaker;
  };
  const client = createServiceClient({
    settings: { ...defaultCallPolicy, timeoutMs: 300, retryBaseDelayMs: 5, ...settings },
    breakerOf,
    addressPolicy: createAddressPolicy(),
  });
  return { client, clock, breakerOf };
}

async function failureOf(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
  throw new Error("the call succeeded");
}

describe("service client", () => {
  let upstream: UpstreamService;
  const clients: ReturnType<typeof clientFor>[] = [];
  const setup = (settings?: Partial<CallPolicySettings>) => {
    const made = clientFor(settings);
    clients.push(made);
    return made;
  };
  const request = (overrides: Partial<OutgoingCall> = {}): OutgoingCall => ({
    serviceId: "svc-1",
    baseUrl: upstream.url,
    method: "GET",
    path: "/items/1",
    headers: {},
    body: null,
    idempotent: true,
    ...overrides,
  });

  beforeAll(async () => {
    upstream = await startUpstreamService();
  });
  afterEach(async () => {
    upstream.reset();
    await Promise.all(clients.splice(0).map(({ client }) => client.close()));
  });
  afterAll(() => upstream.stop());

  it("returns a 2xx answer with its body, status and headers", async () => {
    const { client } = setup();
    upstream.queue({ status: 201, body: { id: 1 }, headers: { "x-answer": "yes" } });
    const outcome = await client.call(request({ method: "POST", idempotent: false, body: "{}" }));
    expect(outcome).toMatchObject({ status: 201, attempts: 1, headers: { "x-answer": "yes" } });
    expect(JSON.parse(outcome.body.toString())).toEqual({ id: 1 });
    expect(outcome.headers.connection).toBeUndefined();
  });

  it("hides a service that fails twice then recovers from a GET, not from a POST", async () => {
    const { client, breakerOf } = setup();
    upstream.queue({ status: 503 }, { status: 502 });
    const outcome = await client.call(request());
    expect(outcome).toMatchObject({ status: 200, attempts: 3 });
    expect(upstream.received).toHaveLength(3);
    expect(breakerOf("svc-1").consecutiveFailures).toBe(0);

    upstream.queue({ status: 503 }, { status: 503 });
    const error = await failureOf(
      client.call(request({ method: "POST", idempotent: false, body: "{}" })),
    );
    expect(error).toMatchObject({
      code: "UPSTREAM_ERROR",
      details: { serviceId: "svc-1", attempts: 1, status: 503 },
    });
    expect(upstream.received).toHaveLength(4);
  });

  it("gives up after maxAttempts with UPSTREAM_ERROR naming the service", async () => {
    const { client } = setup();
    upstream.answer({ status: 500, body: { detail: "boom" } });
    const error = await failureOf(client.call(request()));
    expect(error.code).toBe("UPSTREAM_ERROR");
    expect(error.message).toBe("svc-1 answered HTTP 500 after 3 attempts.");
    expect(upstream.received).toHaveLength(3);
  });

  it("times out a slow service with TIMEOUT, retrying an idempotent call", async () => {
    const { client } = setup({ timeoutMs: 100, maxAttempts: 2 });
    upstream.answer({ status: 200, delayMs: 3000 });
    const started = performance.now();
    const error = await failureOf(client.call(request()));
    expect(error).toMatchObject({ code: "TIMEOUT", details: { serviceId: "svc-1", attempts: 2 } });
    // Two 100 ms attempts, not a 3 s answer.
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it("never counts a 4xx storm as failures: the breaker stays closed", async () => {
    const { client, breakerOf } = setup();
    upstream.answer({ status: 404, body: { detail: "no such item" } });
    for (let i = 0; i < 20; i++) {
      const outcome = await client.call(request());
      expect(outcome).toMatchObject({ status: 404, attempts: 1 });
    }
    expect(breakerOf("svc-1").snapshot()).toMatchObject({
      state: "CLOSED",
      failureCount: 0,
      consecutiveFailures: 0,
    });
  });

  it("opens after 5 failures, then fails fast without reaching the service", async () => {
    const { client, breakerOf } = setup({ maxAttempts: 1 });
    upstream.answer({ status: 503 });
    for (let i = 0; i < 5; i++) await failureOf(client.call(request()));
    expect(breakerOf("svc-1").state).toBe("OPEN");
    expect(upstream.received).toHaveLength(5);

    const started = performance.now();
    const error = await failureOf(client.call(request()));
    expect(performance.now() - started).toBeLessThan(50);
    expect(error).toMatchObject({
      code: "SERVICE_UNAVAILABLE",
      details: { serviceId: "svc-1", breakerState: "OPEN" },
    });
    expect(upstream.received).toHaveLength(5);
  });

  it("never waits on a backoff once the breaker opens mid-retry", async () => {
    const { client, breakerOf } = setup({ maxAttempts: 3, retryBaseDelayMs: 1000 });
    const breaker = breakerOf("svc-1");
    upstream.answer({ status: 503 });
    for (let i = 0; i < 4; i++) breaker.failed(await breaker.admit(), "HTTP 503");
    const started = performance.now();
    // The first attempt fails and opens the breaker; the retry would wait ~1 s, but a
    // refusal is not retried and the second attempt is refused.
    const error = await failureOf(client.call(request()));
    expect(error.code).toBe("UPSTREAM_ERROR");
    expect(breaker.state).toBe("OPEN");
    expect(performance.now() - started).toBeLessThan(500);
  });

  it("recovers through half-open trial calls once the reset timeout has passed", async () => {
    const { client, clock, breakerOf } = setup({ maxAttempts: 1 });
    upstream.answer({ status: 503 });
    for (let i = 0; i < 5; i++) await failureOf(client.call(request()));
    upstream.answer({ status: 200, body: { ok: true } });
    clock.now += 30_000;
    for (let i = 0; i < 3; i++) {
      expect((await client.call(request())).status).toBe(200);
    }
    expect(breakerOf("svc-1").state).toBe("CLOSED");
    expect(upstream.received).toHaveLength(8);
  });

  it("honours Retry-After, and does not retry when it asks for longer than a call may take", async () => {
    const { client } = setup({ timeoutMs: 2000 });
    upstream.queue({ status: 503, headers: { "retry-after": "1" } });
    const started = performance.now();
    const outcome = await client.call(request());
    expect(outcome).toMatchObject({ status: 200, attempts: 2 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);

    upstream.queue({ status: 503, headers: { "retry-after": "120" } });
    const error = await failureOf(client.call(request()));
    expect(error).toMatchObject({
      code: "UPSTREAM_ERROR",
      details: { attempts: 1, retryAfterMs: 120_000 },
    });
  });

  it("retries an unreachable service and names it", async () => {
    const { client } = setup();
    const closed = await startUpstreamService();
    const url = closed.url;
    await closed.stop();
    const error = await failureOf(client.call(request({ baseUrl: url })));
    expect(error.code).toBe("UPSTREAM_ERROR");
    expect(error.message).toMatch(/^svc-1 could not be reached: ECONNREFUSED/);
    expect(error.details.attempts).toBe(3);
  });

  it("bounds the calls in flight to one instance with a bulkhead", async () => {
    const { client } = setup({ maxConcurrent: 2, maxQueued: 1, timeoutMs: 2000 });
    upstream.answer({ status: 200, delayMs: 150 });
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => client.call(request())),
    );
    const refused = results.filter((result) => result.status === "rejected");
    expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(3);
    expect(refused).toHaveLength(2);
    expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({
      code: "SERVICE_UNAVAILABLE",
      message: "Too many calls to svc-1 are in flight; try again shortly.",
    });
  });

  it("refuses a response body beyond the limit without counting it as a failure", async () => {
    const { client, breakerOf } = setup({ maxResponseBytes: 1000 });
    upstream.answer({ status: 200, body: "x".repeat(5000) });
    const error = await failureOf(client.call(request()));
    expect(error).toMatchObject({ code: "UPSTREAM_ERROR", details: { attempts: 1 } });
    expect(breakerOf("svc-1").consecutiveFailures).toBe(0);
  });

  it("refuses a declared Content-Length beyond the limit without reading or crashing", async () => {
    const { client, breakerOf } = setup({ maxResponseBytes: 1000 });
    upstream.answer({
      status: 200,
      body: "y".repeat(5000),
      headers: { "content-length": "5000" },
    });
    for (let i = 0; i < 3; i++) {
      const error = await failureOf(client.call(request()));
      expect(error.message).toBe("svc-1 answered with more than 1000 bytes.");
    }
    expect(breakerOf("svc-1").consecutiveFailures).toBe(0);
  });

  it("counts a 5xx as a failure however large its body", async () => {
    const { client, breakerOf } = setup({ maxResponseBytes: 1000, maxAttempts: 1 });
    upstream.answer({ status: 503, body: "z".repeat(5000) });
    for (let i = 0; i < 5; i++) {
      expect(await failureOf(client.call(request()))).toMatchObject({
        code: "UPSTREAM_ERROR",
        details: { status: 503 },
      });
    }
    expect(breakerOf("svc-1").state).toBe("OPEN");
  });

  it("answers HEAD, 204 and 304 whatever Content-Length they declare", async () => {
    const { client } = setup({ maxResponseBytes: 1000 });
    upstream.queue(
      { status: 200, headers: { "content-length": "5000000" } },
      { status: 204 },
      { status: 304, headers: { "content-length": "5000000" } },
    );
    expect(await client.call(request({ method: "HEAD" }))).toMatchObject({ status: 200 });
    expect((await client.call(request())).status).toBe(204);
    const notModified = await client.call(request());
    expect(notModified).toMatchObject({ status: 304 });
    expect(notModified.body.length).toBe(0);
  });

  it("counts a request it could not send as the caller's error, not the service's", async () => {
    const { client, breakerOf } = setup();
    for (let i = 0; i < 6; i++) {
      const error = await failureOf(client.call(request({ headers: { "x-note": "€" } })));
      expect(error).toMatchObject({ code: "BAD_USER_INPUT", details: { attempts: 0 } });
    }
    expect(breakerOf("svc-1").snapshot()).toMatchObject({ state: "CLOSED", failureCount: 0 });
    expect(upstream.received).toHaveLength(0);
  });

  it("never calls a link-local address such as the cloud metadata service", async () => {
    const { client, breakerOf } = setup();
    for (const baseUrl of [
      "http://169.254.169.254",
      "http://[fe80::1]:8080",
      "http://[64:ff9b::a9fe:a9fe]",
      "http://[::ffff:169.254.169.254]",
    ]) {
      const error = await failureOf(client.call(request({ baseUrl })));
      expect(error).toMatchObject({ code: "FORBIDDEN", details: { attempts: 0 } });
      expect(error.message).toMatch(/link-local/);
    }
    expect(breakerOf("svc-1").consecutiveFailures).toBe(0);
  });

  it("sends the base URL's path prefix, method, headers and body", async () => {
    const { client } = setup();
    await client.call(
      request({
        baseUrl: `${upstream.url}/api/`,
        method: "PUT",
        path: "/items/7?full=true",
        headers: { "content-type": "application/json", "x-custom": "1" },
        body: '{"name":"seven"}',
      }),
    );
    expect(upstream.received[0]).toMatchObject({
      method: "PUT",
      url: "/api/items/7?full=true",
      body: '{"name":"seven"}',
      headers: expect.objectContaining({ "x-custom": "1" }),
    });
  });
});

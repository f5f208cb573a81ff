import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHealthService } from "../fixtures/health-service.js";
import { manualClock } from "../helpers/clock.js";
import { dataOf, errorCodeOf, startGateway, type TestGateway } from "../helpers/gateway.js";

const REGISTER = `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`;
const CHECK = /* GraphQL */ `
  query($id: ID!) {
    checkServiceHealth(id: $id) { serviceId status reachable httpStatus latencyMs checkedAt error body }
  }
`;

type Check = {
  checkServiceHealth: {
    status: string;
    reachable: boolean;
    httpStatus: number | null;
    latencyMs: number | null;
    checkedAt: string;
    error: string | null;
    body: unknown;
  };
};

describe("active health probes", () => {
  // TTLs and probe periods pass when a test moves this clock.
  const clock = manualClock();
  let gateway: TestGateway;
  let fixture: Awaited<ReturnType<typeof startHealthService>>;
  let counter = 0;

  beforeAll(async () => {
    gateway = await startGateway({ clock });
    fixture = await startHealthService();
  });
  afterAll(async () => {
    await gateway.stop();
    await fixture.stop().catch(() => {});
  });

  /** A fresh service on the fixture, so each test starts from ONLINE with no probe. */
  async function registerOnFixture(extra: Record<string, unknown> = {}): Promise<string> {
    const id = `probed-${++counter}`;
    dataOf(
      await gateway.graphql(REGISTER, {
        input: { id, name: id, type: "probed", version: "1", baseUrl: fixture.url, ...extra },
      }),
    );
    return id;
  }
  const check = async (id: string) => {
    // Each probe a moment after the last, as on a real clock: history lists by time.
    clock.advance(1);
    return dataOf(await gateway.graphql<Check>(CHECK, { id })).checkServiceHealth;
  };
  const statusOf = async (id: string) => (await gateway.store.get(id))?.record.status;

  it("probes now, and shows the result on Service.health", async () => {
    fixture.setMode("healthy");
    const id = await registerOnFixture();
    const result = await check(id);
    expect(result).toMatchObject({
      status: "ONLINE",
      reachable: true,
      httpStatus: 200,
      error: null,
      body: { status: "healthy", service: "fixture" },
    });
    expect(result.latencyMs).toBeGreaterThan(0);
    const shown = dataOf(
      await gateway.graphql<{ service: { health: { httpStatus: number } } }>(
        `query($id: ID!) { service(id: $id) { health { httpStatus } } }`,
        { id },
      ),
    );
    expect(shown.service.health.httpStatus).toBe(200);
  });

  it("reads the body: HTTP 200 saying unhealthy degrades at once, then OFFLINE after three", async () => {
    fixture.setMode("unhealthy-200");
    const id = await registerOnFixture();
    expect((await check(id)).error).toBe('reported "unhealthy"');
    expect(await statusOf(id)).toBe("DEGRADED");
    await check(id);
    expect(await statusOf(id)).toBe("DEGRADED");
    await check(id);
    expect(await statusOf(id)).toBe("OFFLINE");

    fixture.setMode("healthy");
    await check(id);
    expect(await statusOf(id)).toBe("OFFLINE");
    await check(id);
    expect(await statusOf(id)).toBe("ONLINE");

    const history = dataOf(
      await gateway.graphql<{ serviceHistory: { status: string; reason: string }[] }>(
        `query($id: ID!) { serviceHistory(id: $id) { status reason } }`,
        { id },
      ),
    ).serviceHistory;
    expect(history.map((event) => event.status)).toEqual([
      "ONLINE",
      "OFFLINE",
      "DEGRADED",
      "ONLINE",
    ]);
    expect(history[1]?.reason).toBe('probe failed 3 time(s) in a row: reported "unhealthy"');
  });

  it.each([
    ["a 500", "error-500", "HTTP 500", true],
    ["no answer in time", "slow", "no answer within 500 ms", false],
  ] as const)("fails on %s", async (_case, mode, error, reachable) => {
    fixture.setMode(mode);
    const id = await registerOnFixture();
    expect(await check(id)).toMatchObject({ status: "OFFLINE", reachable, error });
    expect(await statusOf(id)).toBe("DEGRADED");
  });

  it("takes a service that reports degraded to DEGRADED, and a plain 200 as healthy", async () => {
    fixture.setMode("degraded");
    const id = await registerOnFixture();
    expect((await check(id)).status).toBe("DEGRADED");
    expect(await statusOf(id)).toBe("DEGRADED");
    fixture.setMode("plain-200");
    // Only small JSON answers are kept; a text page is not shown.
    expect(await check(id)).toMatchObject({ status: "ONLINE", body: null });
  });

  it("fails on a refused connection, and never changes MAINTENANCE", async () => {
    fixture.setMode("healthy");
    const id = await registerOnFixture();
    dataOf(
      await gateway.graphql(
        `mutation($id: ID!) { updateServiceStatus(id: $id, status: MAINTENANCE) { id } }`,
        { id },
      ),
    );
    await fixture.stop();
    try {
      for (let i = 0; i < 4; i++) {
        expect(await check(id)).toMatchObject({ reachable: false, status: "OFFLINE" });
      }
      expect(await statusOf(id)).toBe("MAINTENANCE");
    } finally {
      await fixture.start();
    }
  });

  it("does not revive a service whose heartbeat expired on probes alone", async () => {
    fixture.setMode("healthy");
    const id = await registerOnFixture({ heartbeatIntervalSeconds: 1, ttlSeconds: 1 });
    clock.advance(1001);
    expect(
      await gateway.app.services.registry.expire(
        id,
        (await gateway.store.get(id))?.record.lastHeartbeat ?? "",
      ),
    ).toBe(true);
    await check(id);
    await check(id);
    expect(await statusOf(id)).toBe("OFFLINE");
    dataOf(await gateway.graphql(`mutation($id: ID!) { heartbeat(id: $id) { id } }`, { id }));
    expect(await statusOf(id)).toBe("ONLINE");
  });

  it("keeps the recent checks on Service.recentHealthChecks, newest first, without bodies", async () => {
    fixture.setMode("healthy");
    const id = await registerOnFixture();
    const recent = async (first?: number) =>
      gateway.graphql<{
        service: {
          recentHealthChecks: {
            status: string;
            httpStatus: number | null;
            latencyMs: number | null;
            checkedAt: string;
            body: unknown;
          }[];
        };
      }>(
        `query($id: ID!, $first: Int) {
          service(id: $id) { recentHealthChecks(first: $first) { status httpStatus latencyMs checkedAt body } }
        }`,
        { id, ...(first === undefined ? {} : { first }) },
      );
    expect(dataOf(await recent()).service.recentHealthChecks).toEqual([]);
    const first = await check(id);
    fixture.setMode("unhealthy-200");
    const second = await check(id);
    fixture.setMode("healthy");
    const third = await check(id);
    // The default (10) holds all three, newest first; the body stays on Service.health.
    const all = dataOf(await recent()).service.recentHealthChecks;
    expect(all.map((kept) => kept.checkedAt)).toEqual(
      [third, second, first].map((probe) => probe.checkedAt),
    );
    // Each as checkServiceHealth answered it: the failing one in the middle.
    expect(all.map((kept) => kept.status)).toEqual(["ONLINE", second.status, "ONLINE"]);
    expect(second.status).not.toBe("ONLINE");
    expect(all.every((kept) => kept.body === null && (kept.latencyMs ?? 0) > 0)).toBe(true);
    expect(dataOf(await recent(1)).service.recentHealthChecks).toHaveLength(1);
    expect(errorCodeOf(await recent(21))).toBe("BAD_USER_INPUT");
  });

  it("answers NOT_FOUND for an unknown id", async () => {
    const response = await gateway.graphql(CHECK, { id: "nobody" });
    expect(response.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
  });

  it("probes every due service with a bounded number in flight", async () => {
    // 25 services on 25 loopback addresses: nothing but the prober limits concurrency.
    const wide = await startHealthService("healthy", "0.0.0.0");
    try {
      await gateway.removeAllServices();
      for (let i = 2; i < 27; i++) {
        await registerOnFixture({ baseUrl: wide.urlOn(`127.0.0.${i}`) });
      }
      const probed = await gateway.app.services.prober.probeDue();
      expect(probed).toBe(25);
      expect(wide.stats().requests).toBe(25);
      // The helper's gateway allows 10 in flight; the fixture answers in 20 ms, so they overlap.
      expect(wide.stats().maxInFlight).toBeLessThanOrEqual(10);
      expect(wide.stats().maxInFlight).toBeGreaterThan(2);
      // Just probed: none is due again before its period.
      expect(await gateway.app.services.prober.probeDue()).toBe(0);
    } finally {
      await wide.stop();
    }
  });
});

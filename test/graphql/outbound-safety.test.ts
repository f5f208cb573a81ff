import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRegistryRepository } from "../../src/db/registry.js";
import { startHealthService } from "../fixtures/health-service.js";
import { startUpstreamService, type UpstreamService } from "../fixtures/upstream-service.js";
import { migratedPglite } from "../helpers/database.js";
import {
  authHeaders,
  dataOf,
  errorCodeOf,
  type GraphQLResponse,
  startGateway,
  type TestGateway,
} from "../helpers/gateway.js";

const REGISTER = `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`;
const CALL = /* GraphQL */ `
  mutation($input: CallServiceInput!) { callService(input: $input) { status body attempts } }
`;
const CHECK = /* GraphQL */ `
  query($id: ID!) { checkServiceHealth(id: $id) { status reachable httpStatus error } }
`;
const COUNT = `{ services(filter: { includeOffline: true }) { totalCount } }`;

type Call = { callService: { status: number; body: unknown; attempts: number } };
type Check = {
  checkServiceHealth: {
    status: string;
    reachable: boolean;
    httpStatus: number | null;
    error: string | null;
  };
};

const endpoints = [{ path: "/items/{id}", method: "GET" }];

// Every host here is 127.0.0.1 or `localhost`, which /etc/hosts resolves to 127.0.0.1 (and
// ::1 on some machines): a list with 127.0.0.0/8 lets the name in by its address, one with
// only 10.0.0.0/8 does not, and neither needs a DNS server.
describe("ALLOWED_SERVICE_HOSTS", () => {
  let upstream: UpstreamService;
  let health: Awaited<ReturnType<typeof startHealthService>>;
  const gateways: TestGateway[] = [];
  let counter = 0;

  beforeAll(async () => {
    upstream = await startUpstreamService();
    health = await startHealthService();
  });
  afterAll(async () => {
    for (const gateway of gateways) await gateway.stop();
    await upstream.stop();
    await health.stop();
  });

  async function gatewayAllowing(allowedServiceHosts: string[]): Promise<TestGateway> {
    const gateway = await startGateway({ allowedServiceHosts });
    gateways.push(gateway);
    return gateway;
  }
  const onHost = (url: string, host: string) => {
    const moved = new URL(url);
    moved.hostname = host;
    return moved.origin;
  };
  const register = (gateway: TestGateway, input: Record<string, unknown>) =>
    gateway.graphql<{ registerService: { id: string } }>(REGISTER, {
      input: { id: `svc-${++counter}`, name: "svc", type: "svc", version: "1", ...input },
    });
  const registered = async (gateway: TestGateway, input: Record<string, unknown>) =>
    dataOf(await register(gateway, { endpoints, ...input })).registerService.id;
  const call = (gateway: TestGateway, serviceId: string) =>
    gateway.graphql<Call>(CALL, { input: { serviceId, path: "/items/1" } });
  const check = async (gateway: TestGateway, id: string) =>
    dataOf(await gateway.graphql<Check>(CHECK, { id })).checkServiceHealth;
  const expectRefusedAt = (response: GraphQLResponse<unknown>, field: string, host: string) => {
    expect(errorCodeOf(response)).toBe("BAD_USER_INPUT");
    expect(response.errors?.[0]?.extensions?.field).toBe(field);
    expect(response.errors?.[0]?.message).toContain(
      `must be a host in ALLOWED_SERVICE_HOSTS (${host} is not)`,
    );
  };

  it("calls and probes a service on an allowed address, literal or by a name resolving inside", async () => {
    const gateway = await gatewayAllowing(["127.0.0.0/8"]);
    for (const host of ["127.0.0.1", "localhost"]) {
      upstream.reset();
      const called = await registered(gateway, { baseUrl: onHost(upstream.url, host) });
      expect(dataOf(await call(gateway, called)).callService).toMatchObject({
        status: 200,
        attempts: 1,
      });
      expect(upstream.received).toHaveLength(1);

      const probed = await registered(gateway, { baseUrl: onHost(health.url, host) });
      expect(await check(gateway, probed)).toMatchObject({
        status: "ONLINE",
        reachable: true,
        httpStatus: 200,
      });
    }
  });

  it("refuses at registration a literal outside the list, in baseUrl or healthCheckUrl", async () => {
    const gateway = await gatewayAllowing(["127.0.0.1", "*.internal"]);
    expectRefusedAt(
      await register(gateway, { baseUrl: "http://10.1.2.3:8000" }),
      "input.baseUrl",
      "10.1.2.3",
    );
    expectRefusedAt(
      await register(gateway, { baseUrl: "http://[::1]:8000" }),
      "input.baseUrl",
      "::1",
    );
    expectRefusedAt(
      await register(gateway, {
        baseUrl: upstream.url,
        healthCheckUrl: "http://192.0.2.1/health",
      }),
      "input.healthCheckUrl",
      "192.0.2.1",
    );
    // A name matching a glob is allowed, whatever it will resolve to.
    dataOf(await register(gateway, { baseUrl: "http://billing.internal:8000" }));
    expect(dataOf(await gateway.graphql<{ services: { totalCount: number } }>(COUNT))).toEqual({
      services: { totalCount: 1 },
    });
  });

  it("refuses at registration a name no entry could let in, when the list has no CIDR", async () => {
    const gateway = await gatewayAllowing(["*.svc.cluster.local", "billing"]);
    expectRefusedAt(
      await register(gateway, { baseUrl: onHost(upstream.url, "localhost") }),
      "input.baseUrl",
      "localhost",
    );
    // `*.` stands for at least one label: the bare suffix is not covered.
    expectRefusedAt(
      await register(gateway, { baseUrl: "http://svc.cluster.local" }),
      "input.baseUrl",
      "svc.cluster.local",
    );
    dataOf(await register(gateway, { baseUrl: "http://ledger.prod.svc.cluster.local" }));
    dataOf(await register(gateway, { baseUrl: "http://BILLING.:8000" }));
  });

  it("refuses at call and probe time a name that resolves outside every CIDR", async () => {
    const gateway = await gatewayAllowing(["10.0.0.0/8"]);
    upstream.reset();
    // A name matching no name entry might resolve into 10.0.0.0/8: only DNS can tell.
    const called = await registered(gateway, { baseUrl: onHost(upstream.url, "localhost") });
    const refused = await call(gateway, called);
    expect(errorCodeOf(refused)).toBe("FORBIDDEN");
    expect(refused.errors?.[0]?.extensions).toMatchObject({ serviceId: called, attempts: 0 });
    expect(refused.errors?.[0]?.message).toMatch(
      /is registered at an address the gateway does not call: localhost resolves to \S+, which is not in ALLOWED_SERVICE_HOSTS/,
    );
    expect(upstream.received).toHaveLength(0);
    // Refused, not failed: the breaker is not opened by calls that were never sent.
    for (let i = 0; i < 6; i++) expect(errorCodeOf(await call(gateway, called))).toBe("FORBIDDEN");
    const breaker = await gateway.graphql<{ service: { circuitBreaker: { state: string } } }>(
      `query($id: ID!) { service(id: $id) { circuitBreaker { state } } }`,
      { id: called },
    );
    expect(dataOf(breaker).service.circuitBreaker.state).toBe("CLOSED");

    const probed = await registered(gateway, { baseUrl: onHost(health.url, "localhost") });
    const requestsBefore = health.stats().requests;
    const result = await check(gateway, probed);
    expect(result).toMatchObject({ reachable: false, httpStatus: null });
    expect(result.error).toMatch(
      /localhost resolves to \S+, which is not in ALLOWED_SERVICE_HOSTS/,
    );
    expect(health.stats().requests).toBe(requestsBefore);

    // The literal form of the same address is visible at once.
    expectRefusedAt(
      await register(gateway, { baseUrl: upstream.url }),
      "input.baseUrl",
      "127.0.0.1",
    );
  });

  it("lets a name in by a name entry even when its address is outside every CIDR", async () => {
    const gateway = await gatewayAllowing(["localhost", "10.0.0.0/8"]);
    upstream.reset();
    const called = await registered(gateway, { baseUrl: onHost(upstream.url, "localhost") });
    expect(dataOf(await call(gateway, called)).callService.status).toBe(200);
    expectRefusedAt(
      await register(gateway, { baseUrl: upstream.url }),
      "input.baseUrl",
      "127.0.0.1",
    );
  });

  it("refuses at call time a service registered before the list excluded it", async () => {
    const database = await migratedPglite();
    try {
      const open = await startGateway({ database });
      const id = await registered(open, { baseUrl: upstream.url });
      await open.stop();

      const restricted = await startGateway({ database, allowedServiceHosts: ["10.0.0.0/8"] });
      try {
        upstream.reset();
        const refused = await call(restricted, id);
        expect(errorCodeOf(refused)).toBe("FORBIDDEN");
        expect(refused.errors?.[0]?.message).toContain("127.0.0.1 is not in ALLOWED_SERVICE_HOSTS");
        expect((await check(restricted, id)).error).toMatch(
          /127\.0\.0\.1 is not in ALLOWED_SERVICE_HOSTS; not probed/,
        );
        expect(upstream.received).toHaveLength(0);
      } finally {
        await restricted.stop();
      }
    } finally {
      await database.close();
    }
  });
});

describe("credentials in service URLs", () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway.stop());

  /** The live registry (GraphQL) and the durable one (the database), as counts. */
  async function registryCounts() {
    const live = dataOf(await gateway.graphql<{ services: { totalCount: number } }>(COUNT));
    const durable = await createRegistryRepository(gateway.database.db).loadAll();
    return { live: live.services.totalCount, durable: durable.length };
  }

  const withCredentials: [string, Record<string, string>, string][] = [
    ["user and password in baseUrl", { baseUrl: "http://user:secret@127.0.0.1:8000" }, "baseUrl"],
    ["a user alone in baseUrl", { baseUrl: "http://user@127.0.0.1:8000" }, "baseUrl"],
    ["a password alone in baseUrl", { baseUrl: "https://:secret@billing.internal" }, "baseUrl"],
    [
      "credentials in healthCheckUrl",
      { baseUrl: "http://127.0.0.1:8000", healthCheckUrl: "http://user:secret@127.0.0.1:8000/h" },
      "healthCheckUrl",
    ],
  ];

  it.each(withCredentials)(
    "refuses %s over GraphQL, storing nothing",
    async (_case, urls, field) => {
      const before = await registryCounts();
      const response = await gateway.graphql(REGISTER, {
        input: { id: "with-credentials", name: "x", type: "x", version: "1", ...urls },
      });
      expect(errorCodeOf(response)).toBe("BAD_USER_INPUT");
      expect(response.errors?.[0]?.extensions?.field).toBe(`input.${field}`);
      expect(response.errors?.[0]?.message).toMatch(/must not contain credentials/);
      expect(response.errors?.[0]?.message).not.toContain("secret");
      expect(await registryCounts()).toEqual(before);
    },
  );

  it.each(withCredentials)("refuses %s over REST, storing nothing", async (_case, urls, field) => {
    const before = await registryCounts();
    const response = await fetch(`${gateway.url}/registry/services`, {
      method: "POST",
      headers: { "content-type": "application/json", ...authHeaders() },
      body: JSON.stringify({
        service_id: "with-credentials",
        name: "x",
        type: "x",
        base_url: urls.baseUrl,
        health_check_url: urls.healthCheckUrl,
      }),
    });
    expect(response.status).toBe(422);
    const body = (await response.json()) as Record<string, unknown>;
    // REST names the field as its body spelled it.
    const restField = field === "baseUrl" ? "base_url" : "health_check_url";
    expect(body).toMatchObject({ code: "BAD_USER_INPUT", field: restField });
    expect(JSON.stringify(body)).toMatch(/must not contain credentials/);
    expect(await registryCounts()).toEqual(before);
  });
});

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startUpstreamService, type UpstreamService } from "../fixtures/upstream-service.js";
import { dataOf, errorCodeOf, startGateway, type TestGateway } from "../helpers/gateway.js";

const ADMIN_TOKEN = "admin-token-for-call-tests";
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const SERVICE_TOKEN = "service-token-for-call-tests";
const service = { authorization: `Bearer ${SERVICE_TOKEN}` };

const REGISTER = `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`;
const CALL = /* GraphQL */ `
  mutation($input: CallServiceInput!) {
    callService(input: $input) {
      status headers body serviceId attempts instancesTried breakerState durationMs
    }
  }
`;

type CallResult = {
  callService: {
    status: number;
    headers: Record<string, string>;
    body: unknown;
    serviceId: string;
    attempts: number;
    instancesTried: string[];
    breakerState: string;
    durationMs: number;
  };
};

const endpoints = [
  { path: "/executions/{id}", method: "GET", description: "one execution" },
  { path: "/executions", method: "POST", description: "start one" },
  { path: "/missing", method: "GET", description: "answers 404" },
];

describe("callService", () => {
  let gateway: TestGateway;
  let upstream: UpstreamService;

  const register = (id: string, type = "agent_orchestrator", baseUrl = upstream.url) =>
    gateway.graphql(REGISTER, {
      input: { id, name: id, type, version: "1.0.0", baseUrl, endpoints },
    });
  const call = (input: Record<string, unknown>, headers: Record<string, string> = {}) =>
    gateway.graphql<CallResult>(CALL, { input }, headers);

  beforeAll(async () => {
    upstream = await startUpstreamService();
    gateway = await startGateway({
      adminToken: ADMIN_TOKEN,
      tokens: [{ secret: SERVICE_TOKEN, role: "service", name: "service", serviceTypes: null }],
    });
  });
  afterAll(async () => {
    await gateway.stop();
    await upstream.stop();
  });
  beforeEach(async () => {
    upstream.reset();
    await gateway.removeAllServices();
    dataOf(await register("orchestrator-1"));
  });

  it("calls a declared endpoint by id and returns the service's answer", async () => {
    upstream.queue({ status: 200, body: { id: "42", state: "RUNNING" } });
    const result = dataOf(
      await call({ serviceId: "orchestrator-1", path: "/executions/42", query: { full: true } }),
    ).callService;
    expect(result).toMatchObject({
      status: 200,
      body: { id: "42", state: "RUNNING" },
      serviceId: "orchestrator-1",
      attempts: 1,
      instancesTried: ["orchestrator-1"],
      breakerState: "CLOSED",
    });
    expect(result.headers["content-type"]).toBe("application/json");
    expect(result.durationMs).toBeGreaterThan(0);
    expect(upstream.received[0]).toMatchObject({ method: "GET", url: "/executions/42?full=true" });
  });

  it("sends a JSON body and the caller's headers, with x-request-id and a child traceparent", async () => {
    const incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    dataOf(
      await call(
        {
          serviceId: "orchestrator-1",
          method: "post",
          path: "/executions",
          body: { taskId: "t1" },
          headers: { "x-tenant": "blue" },
        },
        { "x-request-id": "req-123", traceparent: incoming },
      ),
    );
    const sent = upstream.received[0];
    expect(sent?.body).toBe('{"taskId":"t1"}');
    expect(sent?.headers).toMatchObject({
      "content-type": "application/json",
      "x-tenant": "blue",
      "x-request-id": "req-123",
    });
    const traceparent = String(sent?.headers.traceparent);
    expect(traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(traceparent).not.toBe(incoming);
  });

  it("generates x-request-id and traceparent when the caller sent none", async () => {
    dataOf(await call({ serviceId: "orchestrator-1", path: "/executions/1" }));
    const headers = upstream.received[0]?.headers ?? {};
    expect(headers["x-request-id"]).toMatch(/\S+/);
    expect(headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  it("returns a 404 from the service as its answer, not as 'service not found'", async () => {
    upstream.queue({ status: 404, body: { detail: "no such thing" } });
    const result = dataOf(await call({ serviceId: "orchestrator-1", path: "/missing" }));
    expect(result.callService).toMatchObject({ status: 404, body: { detail: "no such thing" } });
  });

  it("refuses undeclared paths and methods unless an admin calls", async () => {
    for (const input of [
      { path: "/admin/shutdown" },
      { path: "/executions/42/steps" },
      { path: "/executions/42", method: "DELETE" },
    ]) {
      const refused = await call({ serviceId: "orchestrator-1", ...input }, service);
      expect(errorCodeOf(refused)).toBe("FORBIDDEN");
      expect(refused.errors?.[0]?.extensions).toMatchObject({ serviceId: "orchestrator-1" });
    }
    expect(upstream.received).toHaveLength(0);

    const asAdmin = await call({ serviceId: "orchestrator-1", path: "/admin/shutdown" }, admin);
    expect(dataOf(asAdmin).callService.status).toBe(200);
  });

  it("rejects bad input with BAD_USER_INPUT and sends nothing", async () => {
    for (const [input, field] of [
      [{ path: "/executions/1" }, "input.serviceId"],
      [{ serviceId: "orchestrator-1", serviceType: "x", path: "/executions/1" }, "input.serviceId"],
      [{ serviceId: "orchestrator-1", path: "executions/1" }, "input.path"],
      [{ serviceId: "orchestrator-1", path: "/executions/../admin" }, "input.path"],
      [{ serviceId: "orchestrator-1", path: "/executions/%2e%2e" }, "input.path"],
      [{ serviceId: "orchestrator-1", path: "/executions/..;/admin" }, "input.path"],
      [{ serviceId: "orchestrator-1", path: "/executions/%252e" }, "input.path"],
      [{ serviceId: "orchestrator-1", path: "/executions/a%00" }, "input.path"],
      [{ serviceId: "orchestrator-1", path: "/executions/a%zz" }, "input.path"],
      [{ serviceId: "orchestrator-1", path: "/executions//1" }, "input.path"],
      [
        { serviceId: "orchestrator-1", path: "/executions/1", headers: { expect: "100-continue" } },
        "input.headers.expect",
      ],
      [
        { serviceId: "orchestrator-1", path: "/executions/1", headers: { "x-note": "€" } },
        "input.headers.x-note",
      ],
      [{ serviceId: "orchestrator-1", path: "/executions/1?x=1" }, "input.path"],
      [{ serviceId: "orchestrator-1", path: "/executions/1", method: "BREW" }, "input.method"],
      [{ serviceId: "orchestrator-1", path: "/executions/1", body: { a: 1 } }, "input.body"],
      [
        { serviceId: "orchestrator-1", path: "/executions/1", headers: { host: "x" } },
        "input.headers.host",
      ],
      [
        { serviceId: "orchestrator-1", path: "/executions/1", query: { a: { b: 1 } } },
        "input.query.a",
      ],
    ] as const) {
      const response = await call(input);
      expect(errorCodeOf(response), JSON.stringify(input)).toBe("BAD_USER_INPUT");
      expect(response.errors?.[0]?.extensions?.field).toBe(field);
    }
    expect(upstream.received).toHaveLength(0);
  });

  it("answers NOT_FOUND for an unknown id and SERVICE_UNAVAILABLE for one in maintenance", async () => {
    expect(errorCodeOf(await call({ serviceId: "nobody", path: "/executions/1" }))).toBe(
      "NOT_FOUND",
    );
    dataOf(
      await gateway.graphql(
        `mutation { updateServiceStatus(id: "orchestrator-1", status: MAINTENANCE) { id } }`,
      ),
    );
    const response = await call({ serviceId: "orchestrator-1", path: "/executions/1" });
    expect(errorCodeOf(response)).toBe("SERVICE_UNAVAILABLE");
    expect(response.errors?.[0]?.message).toMatch(/orchestrator-1 is MAINTENANCE/);
  });

  it("refuses to register a service at a link-local address", async () => {
    const response = await register("metadata", "agent_orchestrator", "http://169.254.169.254/");
    expect(errorCodeOf(response)).toBe("BAD_USER_INPUT");
    expect(response.errors?.[0]?.extensions?.field).toBe("input.baseUrl");
  });

  it("picks an instance by type with a strategy", async () => {
    dataOf(await register("orchestrator-2"));
    const served = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const result = dataOf(
        await call({
          serviceType: "AGENT_ORCHESTRATOR",
          strategy: "ROUND_ROBIN",
          path: "/executions/1",
        }),
      );
      served.add(result.callService.serviceId);
    }
    expect([...served].sort()).toEqual(["orchestrator-1", "orchestrator-2"]);

    const none = await call({ serviceType: "NO_SUCH_TYPE", path: "/x" });
    expect(errorCodeOf(none)).toBe("SERVICE_UNAVAILABLE");
    expect(none.errors?.[0]?.extensions).toMatchObject({ serviceType: "NO_SUCH_TYPE" });
  });

  it("maps a 5xx after retries to UPSTREAM_ERROR naming the service", async () => {
    upstream.answer({ status: 503, body: { detail: "overloaded" } });
    const response = await call({ serviceId: "orchestrator-1", path: "/executions/1" });
    expect(errorCodeOf(response)).toBe("UPSTREAM_ERROR");
    expect(response.errors?.[0]?.extensions).toMatchObject({
      serviceId: "orchestrator-1",
      attempts: 3,
      status: 503,
    });
    expect(upstream.received).toHaveLength(3);
  });

  describe("by type, over two instances", () => {
    let first: UpstreamService;
    let second: UpstreamService;
    // A type and ids of their own per test: round robin counts per type, so each test's
    // first call goes to the first instance; breakers count failures per instance.
    let round = 0;
    let type: string;
    let ids: { first: string; second: string };

    beforeAll(async () => {
      first = await startUpstreamService();
      second = await startUpstreamService();
    });
    afterAll(async () => {
      await first.stop();
      await second.stop();
    });
    beforeEach(async () => {
      first.reset();
      second.reset();
      round += 1;
      type = `failover_${round}`;
      ids = { first: `a-${round}`, second: `b-${round}` };
      dataOf(await register(ids.first, type, first.url));
      dataOf(await register(ids.second, type, second.url));
    });

    const byType = (input: Record<string, unknown>) =>
      call({ serviceType: type, strategy: "ROUND_ROBIN", ...input });

    /** The first instance refuses connections while `run` runs. */
    const withFirstDown = async (run: () => Promise<void>) => {
      await first.stop();
      try {
        await run();
      } finally {
        await first.start();
      }
    };

    for (const method of ["GET", "POST"]) {
      it(`moves a ${method} on when the first instance refuses connections`, async () => {
        await withFirstDown(async () => {
          const input =
            method === "GET"
              ? { path: "/executions/1" }
              : { method, path: "/executions", body: { task: "t" } };
          const result = dataOf(await byType(input)).callService;
          // One attempt at the first (no backoff waited out there), one at the second.
          expect(result).toMatchObject({
            status: 200,
            serviceId: ids.second,
            attempts: 2,
            instancesTried: [ids.first, ids.second],
          });
          expect(second.received).toHaveLength(1);
          expect(second.received[0]?.method).toBe(method);
        });
      });
    }

    it("moves a GET on after a 503 at once: the second instance is its retry", async () => {
      first.answer({ status: 503, body: { detail: "overloaded" } });
      const result = dataOf(await byType({ path: "/executions/1" })).callService;
      expect(result).toMatchObject({
        status: 200,
        serviceId: ids.second,
        attempts: 2,
        instancesTried: [ids.first, ids.second],
      });
      expect(first.received).toHaveLength(1);
    });

    it("does not send a POST to another instance after a 503: it may have run", async () => {
      first.answer({ status: 503, body: { detail: "overloaded" } });
      const response = await byType({ method: "POST", path: "/executions", body: { n: 1 } });
      expect(errorCodeOf(response)).toBe("UPSTREAM_ERROR");
      expect(response.errors?.[0]?.extensions).toMatchObject({
        serviceId: ids.first,
        status: 503,
        attempts: 1,
        instancesTried: [ids.first],
      });
      expect(first.received).toHaveLength(1);
      expect(second.received).toHaveLength(0);
    });

    it("answers the last 5xx as before, naming every instance, its retries spent once", async () => {
      for (const upstream of [first, second]) upstream.answer({ status: 503 });
      const response = await byType({ path: "/executions/1" });
      expect(errorCodeOf(response)).toBe("UPSTREAM_ERROR");
      expect(response.errors?.[0]?.extensions).toMatchObject({
        serviceId: ids.second,
        status: 503,
        attempts: 2,
        instancesTried: [ids.first, ids.second],
      });
      expect(first.received).toHaveLength(1);
      expect(second.received).toHaveLength(1);
    });

    it("keeps the client's retries on the last instance when the first was never reached", async () => {
      second.answer({ status: 503 });
      await withFirstDown(async () => {
        const response = await byType({ path: "/executions/1" });
        expect(errorCodeOf(response)).toBe("UPSTREAM_ERROR");
        // One failed connection, then the second's own three attempts, as by id.
        expect(response.errors?.[0]?.extensions).toMatchObject({
          serviceId: ids.second,
          status: 503,
          attempts: 4,
          instancesTried: [ids.first, ids.second],
        });
        expect(second.received).toHaveLength(3);
      });
    });

    it("returns a 404 as it is, from the first instance, never retried", async () => {
      first.answer({ status: 404, body: { detail: "no such thing" } });
      const result = dataOf(await byType({ path: "/missing" })).callService;
      expect(result).toMatchObject({
        status: 404,
        body: { detail: "no such thing" },
        serviceId: ids.first,
        attempts: 1,
        instancesTried: [ids.first],
      });
      expect(first.received).toHaveLength(1);
      expect(second.received).toHaveLength(0);
    });

    it("never fails over a call by id", async () => {
      await withFirstDown(async () => {
        const response = await call({ serviceId: ids.first, path: "/executions/1" });
        expect(errorCodeOf(response)).toBe("UPSTREAM_ERROR");
        expect(response.errors?.[0]?.message).toMatch(/could not be reached: ECONNREFUSED/);
        expect(response.errors?.[0]?.extensions).toMatchObject({ serviceId: ids.first });
      });
      second.answer({ status: 503 });
      const answered = await call({ serviceId: ids.second, path: "/executions/1" });
      // Retried where it was sent, and nowhere else.
      expect(answered.errors?.[0]?.extensions).toMatchObject({
        serviceId: ids.second,
        status: 503,
        attempts: 3,
      });
      expect(first.received).toHaveLength(0);
    });
  });
});

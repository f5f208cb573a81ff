import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startUpstreamService, type UpstreamService } from "../fixtures/upstream-service.js";
import { authHeaders, startGateway, type TestGateway } from "../helpers/gateway.js";

/**
 * The shared client's /integrations family (ServiceIntegrationClient) over real HTTP:
 * stored integrations between registered services, executed as a call to the target.
 */
describe("the /integrations REST family", () => {
  let gateway: TestGateway;
  let upstream: UpstreamService;

  beforeAll(async () => {
    gateway = await startGateway();
    upstream = await startUpstreamService();
  });
  afterAll(async () => {
    await gateway?.stop();
    await upstream?.stop();
  });
  beforeEach(async () => {
    upstream.reset();
    await gateway.removeAllServices();
    for (const item of (await call("GET", "/integrations")).body.items) {
      await call("DELETE", `/integrations/${item.id}`);
    }
    await register("crm-1", "http://crm-1.test:8000");
    await register("billing-1", upstream.url, [{ path: "/invoices", method: "POST" }]);
  });

  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${gateway.url}${path}`, {
      method,
      headers: {
        accept: "application/json",
        ...authHeaders(),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      // biome-ignore lint/suspicious/noExplicitAny: answers are read field by field below
      body: (text ? JSON.parse(text) : undefined) as any,
      requestId: response.headers.get("x-request-id"),
    };
  };

  const register = async (id: string, baseUrl: string, endpoints: unknown[] = []) => {
    const answer = await call("POST", "/registry/services", {
      service_id: id,
      name: id,
      type: "TOOL_INTEGRATION",
      version: "1.0.0",
      base_url: baseUrl,
      endpoints,
    });
    expect(answer.status).toBe(201);
  };

  // As ServiceIntegrationClient.create_integration sends it.
  const sharedClientPayload = {
    name: "crm to billing",
    source_service_id: "crm-1",
    target_service_id: "billing-1",
    integration_type: "data_sync",
    config: { method: "post", path: "/invoices", batch_size: 50 },
    description: "Invoices for new deals",
    metadata: { owner: "revenue" },
  };

  it("creates, reads, lists, updates and deletes an integration", async () => {
    const created = await call("POST", "/integrations", sharedClientPayload);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: "crm to billing",
      source_service_id: "crm-1",
      target_service_id: "billing-1",
      integration_type: "data_sync",
      // The method as the call will send it; keys it does not know are kept.
      config: { method: "POST", path: "/invoices", batch_size: 50 },
      description: "Invoices for new deals",
      metadata: { owner: "revenue" },
    });
    const { id, created_at: createdAt } = created.body;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.body.updated_at).toBe(createdAt);

    expect(await call("GET", `/integrations/${id}`)).toMatchObject({
      status: 200,
      body: created.body,
    });

    const listed = await call("GET", "/integrations");
    expect(listed).toMatchObject({
      status: 200,
      body: { success: true, message: null, metadata: { total_count: 1, has_next_page: false } },
    });
    expect(listed.body.items).toEqual([created.body]);
    const ids = async (query: string) =>
      (await call("GET", `/integrations?${query}`)).body.items.map(
        (item: { id: string }) => item.id,
      );
    expect(await ids("source_service_id=crm-1&integration_type=data_sync")).toEqual([id]);
    expect(await ids("target_service_id=crm-1")).toEqual([]);
    expect(await ids("integration_type=webhook")).toEqual([]);

    const updated = await call("PUT", `/integrations/${id}`, {
      description: "Invoices for won deals",
    });
    expect(updated).toMatchObject({
      status: 200,
      body: { id, name: "crm to billing", description: "Invoices for won deals" },
    });
    expect(updated.body.config).toEqual(created.body.config);
    expect(Date.parse(updated.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(createdAt));

    expect(await call("DELETE", `/integrations/${id}`)).toMatchObject({
      status: 204,
      body: undefined,
    });
    expect((await call("GET", `/integrations/${id}`)).status).toBe(404);
  });

  it("answers 404 with detail, message and code for an unknown integration", async () => {
    for (const [method, path, body] of [
      ["GET", "/integrations/nobody", undefined],
      ["PUT", "/integrations/nobody", { name: "x" }],
      ["DELETE", "/integrations/nobody", undefined],
      ["POST", "/integrations/nobody/execute", { payload: {} }],
    ] as const) {
      const answer = await call(method, path, body);
      expect(answer.status, `${method} ${path}`).toBe(404);
      expect(answer.body).toMatchObject({
        detail: "Integration nobody not found",
        message: "Integration nobody not found",
        code: "NOT_FOUND",
      });
    }
  });

  it("refuses invalid bodies naming the field as the body spells it", async () => {
    const invalid = async (body: unknown, field: string) => {
      const answer = await call("POST", "/integrations", body);
      expect(answer, field).toMatchObject({ status: 422, body: { code: "BAD_USER_INPUT", field } });
    };
    const { integration_type: _, ...withoutType } = sharedClientPayload;
    await invalid(withoutType, "integration_type");
    await invalid({ ...sharedClientPayload, name: "  " }, "name");
    await invalid({ ...sharedClientPayload, config: { method: "FETCH" } }, "config.method");
    await invalid({ ...sharedClientPayload, config: { path: "invoices" } }, "config.path");
    await invalid({ ...sharedClientPayload, config: { headers: { a: 1 } } }, "config.headers.a");
    const { id } = (await call("POST", "/integrations", sharedClientPayload)).body;
    expect(
      await call("PUT", `/integrations/${id}`, { config: { idempotent: "yes" } }),
    ).toMatchObject({ status: 422, body: { field: "config.idempotent" } });
  });

  it("refuses a source or target that is not a registered service", async () => {
    const target = await call("POST", "/integrations", {
      ...sharedClientPayload,
      target_service_id: "nowhere-1",
    });
    expect(target).toMatchObject({
      status: 422,
      body: { code: "BAD_USER_INPUT", field: "target_service_id" },
    });
    expect(target.body.detail).toContain("nowhere-1");
    const source = await call("POST", "/integrations", {
      ...sharedClientPayload,
      source_service_id: "nowhere-1",
    });
    expect(source.body).toMatchObject({ field: "source_service_id" });
    const { id } = (await call("POST", "/integrations", sharedClientPayload)).body;
    expect(
      await call("PUT", `/integrations/${id}`, { target_service_id: "nowhere-1" }),
    ).toMatchObject({ status: 422, body: { field: "target_service_id" } });
    expect((await call("GET", "/integrations")).body.items).toHaveLength(1);
  });

  it("executes by calling the target with the payload, answering with what it said", async () => {
    const { id } = (
      await call("POST", "/integrations", {
        ...sharedClientPayload,
        config: { path: "/invoices", headers: { "x-tenant": "acme" } },
      })
    ).body;
    upstream.queue({ status: 201, body: { invoice: "inv-7" } });
    const executed = await call("POST", `/integrations/${id}/execute`, {
      payload: { deal: "d-42", amount: 1200 },
      context: { user: "u-1" },
    });
    expect(executed).toMatchObject({
      status: 200,
      body: {
        success: true,
        data: { status: 201, body: { invoice: "inv-7" }, service_id: "billing-1", attempts: 1 },
      },
    });
    expect(executed.body.data.duration_ms).toEqual(expect.any(Number));
    expect(upstream.received).toHaveLength(1);
    const [request] = upstream.received;
    expect(request).toMatchObject({ method: "POST", url: "/invoices" });
    expect(JSON.parse(request?.body ?? "")).toEqual({ deal: "d-42", amount: 1200 });
    expect(request?.headers["x-tenant"]).toBe("acme");
    // The id the gateway answered with is the one the target was called with.
    expect(request?.headers["x-request-id"]).toBe(executed.requestId);

    // A 4xx is the target's answer, not the gateway's failure.
    upstream.queue({ status: 409, body: { error: "duplicate" } });
    const refused = await call("POST", `/integrations/${id}/execute`, {
      payload: { deal: "d-42" },
    });
    expect(refused).toMatchObject({ status: 200, body: { data: { status: 409 } } });
  });

  it("surfaces the call's errors, naming the integration's fields", async () => {
    const { id } = (await call("POST", "/integrations", { ...sharedClientPayload, config: {} }))
      .body;
    const noPath = await call("POST", `/integrations/${id}/execute`, { payload: {} });
    expect(noPath).toMatchObject({ status: 422, body: { field: "config.path" } });
    expect((await call("POST", `/integrations/${id}/execute`, {})).body).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "payload",
    });
    // Through the call path: a path the call refuses is refused under the config's name.
    await call("PUT", `/integrations/${id}`, { config: { path: "/a/../admin" } });
    const dotted = await call("POST", `/integrations/${id}/execute`, { payload: {} });
    expect(dotted).toMatchObject({ status: 422, body: { field: "config.path" } });
    // The target gone: the call's own NOT_FOUND.
    await gateway.removeAllServices();
    await call("PUT", `/integrations/${id}`, { config: { path: "/invoices" } });
    const gone = await call("POST", `/integrations/${id}/execute`, { payload: {} });
    expect(gone).toMatchObject({ status: 404, body: { code: "NOT_FOUND" } });
    expect(upstream.received).toHaveLength(0);
  });

  it("documents its routes in /openapi.json", async () => {
    const document = await call("GET", "/openapi.json");
    const paths = document.body.paths as Record<string, Record<string, unknown>>;
    expect(Object.keys(paths["/integrations"] ?? {}).sort()).toEqual(["get", "post"]);
    expect(Object.keys(paths["/integrations/{id}"] ?? {}).sort()).toEqual(["delete", "get", "put"]);
    expect(Object.keys(paths["/integrations/{id}/execute"] ?? {})).toEqual(["post"]);
  });
});

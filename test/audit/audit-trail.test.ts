import { sql } from "drizzle-orm";
import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { manualClock } from "../helpers/clock.js";
import { dataOf, errorCodeOf, startGateway, type TestGateway } from "../helpers/gateway.js";

const ADMIN_TOKEN = "audit-admin-token-0123456789";
const OPERATOR_TOKEN = "audit-operator-token-0123456789";
const READER_TOKEN = "audit-reader-token-0123456789";
const SERVICE_TOKEN = "audit-service-token-0123456789";

const REGISTER = `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`;
const AUDIT_LOG = `query($first: Int, $after: String, $actor: String, $target: String) {
  auditLog(first: $first, after: $after, actor: $actor, target: $target) {
    nodes { id at actor { tokenId name role address } transport operation targets result requestId }
    pageInfo { hasNextPage endCursor }
  }
}`;

type Entry = {
  id: string;
  at: string;
  actor: {
    tokenId: string | null;
    name: string | null;
    role: string | null;
    address: string | null;
  };
  transport: string;
  operation: string;
  targets: string[];
  result: string;
  requestId: string | null;
};
type AuditLogAnswer = {
  auditLog: { nodes: Entry[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
};

const service = (id?: string) => ({
  ...(id ? { id } : {}),
  name: "audited",
  type: "audited_system",
  version: "1.0.0",
  baseUrl: "http://audited.internal:8000",
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function auditLog(gateway: TestGateway, variables: Record<string, unknown> = {}) {
  // Entries are written behind the requests: flush what is queued before reading.
  await gateway.app.services.audit.flush();
  return dataOf(await gateway.graphql<AuditLogAnswer>(AUDIT_LOG, { first: 100, ...variables }))
    .auditLog;
}

describe("the audit trail in tokens mode", () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway({
      adminToken: ADMIN_TOKEN,
      tokens: [
        { secret: OPERATOR_TOKEN, role: "operator", name: "ops", serviceTypes: null },
        { secret: READER_TOKEN, role: "reader", name: "dashboard", serviceTypes: null },
        { secret: SERVICE_TOKEN, role: "service", name: "billing", serviceTypes: null },
      ],
    });
  });
  afterAll(() => gateway.stop());

  it("records a GraphQL mutation over HTTP with its actor, targets and request id", async () => {
    const registered = dataOf(
      await gateway.graphql<{ registerService: { id: string } }>(
        REGISTER,
        { input: service() },
        { ...bearer(SERVICE_TOKEN), "x-request-id": "audit-request-1" },
      ),
    );
    const id = registered.registerService.id;
    const { nodes } = await auditLog(gateway, { target: id });
    expect(nodes).toHaveLength(1);
    expect(nodes[0]).toMatchObject({
      actor: { tokenId: "config:billing", name: "billing", role: "service" },
      transport: "graphql",
      operation: "registerService",
      // The generated id, known only from the result.
      targets: [id],
      result: "ok",
      requestId: "audit-request-1",
    });
  });

  it("records each root field by its name, aliases resolved, with its own result", async () => {
    dataOf(await gateway.graphql(REGISTER, { input: service("aliased-1") }));
    const response = await gateway.graphql(
      `mutation {
        beat: heartbeat(id: "aliased-1") { id }
        refused: updateServiceStatus(id: "aliased-1", status: MAINTENANCE) { id }
      }`,
      {},
      bearer(READER_TOKEN),
    );
    expect(errorCodeOf(response)).toBe("FORBIDDEN");
    const { nodes } = await auditLog(gateway, { target: "aliased-1", actor: "dashboard" });
    // The first field's error nulls the whole answer, and graphql-js runs no field after it.
    expect(nodes.map((entry) => [entry.operation, entry.result])).toEqual([
      ["heartbeat", "FORBIDDEN"],
    ]);
  });

  it("records a BAD_USER_INPUT mutation with the id it was given", async () => {
    const response = await gateway.graphql(REGISTER, {
      input: { ...service("bad-input-1"), baseUrl: "ftp://nowhere" },
    });
    expect(errorCodeOf(response)).toBe("BAD_USER_INPUT");
    const { nodes } = await auditLog(gateway, { target: "bad-input-1" });
    expect(nodes).toMatchObject([
      { operation: "registerService", result: "BAD_USER_INPUT", actor: { name: "admin" } },
    ]);
  });

  it("records mutations sent over graphql-ws", async () => {
    const client = createClient({
      url: `${gateway.url.replace("http", "ws")}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    });
    try {
      dataOf(await gateway.graphql(REGISTER, { input: service("over-ws-1") }));
      const result = await new Promise<unknown>((resolve, reject) => {
        client.subscribe(
          {
            query: `mutation { updateServiceStatus(id: "over-ws-1", status: MAINTENANCE) { id } }`,
          },
          { next: resolve, error: reject, complete: () => {} },
        );
      });
      expect(result).toMatchObject({ data: { updateServiceStatus: { id: "over-ws-1" } } });
    } finally {
      await client.dispose();
    }
    const { nodes } = await auditLog(gateway, { target: "over-ws-1", actor: "ops" });
    expect(nodes).toMatchObject([
      {
        operation: "updateServiceStatus",
        targets: ["over-ws-1"],
        result: "ok",
        actor: { tokenId: "config:ops", role: "operator" },
      },
    ]);
  });

  it("records REST changes by route, FORBIDDEN and unauthenticated attempts too", async () => {
    const rest = (method: string, path: string, token: string | null, body?: unknown) =>
      fetch(`${gateway.url}${path}`, {
        method,
        headers: {
          ...(token ? bearer(token) : {}),
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const created = await rest("POST", "/registry/services", SERVICE_TOKEN, {
      service_id: "rest-1",
      name: "rest",
      type: "rest_system",
      base_url: "http://rest.internal:8000",
    });
    expect(created.status).toBe(201);
    expect(
      (await rest("PUT", "/registry/services/rest-1/status?status=MAINTENANCE", READER_TOKEN))
        .status,
    ).toBe(403);
    expect((await rest("DELETE", "/registry/services/rest-1", null)).status).toBe(401);
    expect((await rest("GET", "/registry/services/rest-1", SERVICE_TOKEN)).status).toBe(200);
    expect((await rest("DELETE", "/registry/services/rest-1", SERVICE_TOKEN)).status).toBe(204);

    const { nodes } = await auditLog(gateway, { target: "rest-1" });
    expect(
      nodes.map((entry) => [entry.transport, entry.operation, entry.result, entry.actor.name]),
    ).toEqual([
      ["rest", "DELETE /registry/services/{id}", "ok", "billing"],
      ["rest", "DELETE /registry/services/{id}", "UNAUTHENTICATED", null],
      ["rest", "PUT /registry/services/{id}/status", "FORBIDDEN", "dashboard"],
      ["rest", "POST /registry/services", "ok", "billing"],
    ]);
    expect(nodes[1]?.actor.address).toMatch(/127\.0\.0\.1/);
  });

  it("never stores createApiToken's secret; the token's id is the target", async () => {
    const created = dataOf(
      await gateway.graphql<{ createApiToken: { token: { id: string }; secret: string } }>(
        `mutation { createApiToken(role: READER, name: "audited-token") { token { id } secret } }`,
      ),
    );
    const { id } = created.createApiToken.token;
    const { nodes } = await auditLog(gateway, { target: id });
    expect(nodes).toMatchObject([{ operation: "createApiToken", targets: [id], result: "ok" }]);
    const everything = await gateway.database.db.execute(
      sql`SELECT string_agg(audit_log::text, ' ') AS text FROM audit_log`,
    );
    const text = String((everything as unknown as { rows: { text: string }[] }).rows[0]?.text);
    expect(text).toContain(id);
    expect(text).not.toContain(created.createApiToken.secret);
  });

  it("filters by actor and target, and pages newest first", async () => {
    for (const n of [1, 2, 3]) {
      dataOf(
        await gateway.graphql(REGISTER, { input: service(`paged-${n}`) }, bearer(SERVICE_TOKEN)),
      );
      dataOf(
        await gateway.graphql(
          `mutation($id: ID!) { updateServiceStatus(id: $id, status: MAINTENANCE) { id } }`,
          { id: `paged-${n}` },
          bearer(SERVICE_TOKEN),
        ),
      );
    }
    const byTarget = await auditLog(gateway, { target: "paged-2" });
    expect(byTarget.nodes.map((entry) => entry.operation)).toEqual([
      "updateServiceStatus",
      "registerService",
    ]);

    const pages: Entry[][] = [];
    let after: string | null = null;
    do {
      const page: AuditLogAnswer["auditLog"] = await auditLog(gateway, {
        actor: "config:billing",
        first: 2,
        after,
      });
      pages.push(page.nodes);
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
    } while (after);
    const all = pages.flat();
    expect(all.every((entry) => entry.actor.name === "billing")).toBe(true);
    const ids = all.map((entry) => Number(entry.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(new Set(ids).size).toBe(ids.length);
    expect(all.filter((entry) => entry.targets[0]?.startsWith("paged-"))).toHaveLength(6);
  });

  it("leaves out heartbeats that succeed, and records those refused", async () => {
    dataOf(await gateway.graphql(REGISTER, { input: service("beating-1") }, bearer(SERVICE_TOKEN)));
    const beat = `mutation { heartbeat(id: "beating-1") { id } }`;
    for (let n = 0; n < 3; n++) dataOf(await gateway.graphql(beat, {}, bearer(SERVICE_TOKEN)));
    const rest = await fetch(`${gateway.url}/registry/services/beating-1/heartbeat`, {
      method: "POST",
      headers: { authorization: `Bearer ${SERVICE_TOKEN}` },
    });
    expect(rest.status).toBe(200);
    expect(errorCodeOf(await gateway.graphql(beat, {}, bearer(READER_TOKEN)))).toBe("FORBIDDEN");
    const { nodes } = await auditLog(gateway, { target: "beating-1" });
    expect(nodes.map((entry) => [entry.operation, entry.result])).toEqual([
      ["heartbeat", "FORBIDDEN"],
      ["registerService", "ok"],
    ]);
  });

  it("is for admins and operators only", async () => {
    for (const token of [READER_TOKEN, SERVICE_TOKEN]) {
      expect(errorCodeOf(await gateway.graphql(AUDIT_LOG, {}, bearer(token)))).toBe("FORBIDDEN");
    }
    for (const token of [OPERATOR_TOKEN, ADMIN_TOKEN]) {
      const answer = await gateway.graphql<AuditLogAnswer>(AUDIT_LOG, { first: 1 }, bearer(token));
      expect(dataOf(answer).auditLog.nodes).toHaveLength(1);
    }
  });
});

describe("the audit trail in open mode", () => {
  const clock = manualClock();
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway({ clock, auditRetentionDays: 7 });
  });
  afterAll(() => gateway.stop());

  it("records anonymous callers by address", async () => {
    dataOf(await gateway.graphql(REGISTER, { input: service("open-1") }));
    const { nodes } = await auditLog(gateway, { target: "open-1" });
    expect(nodes).toHaveLength(1);
    expect(nodes[0]?.actor).toMatchObject({ tokenId: null, name: null, role: null });
    expect(nodes[0]?.actor.address).toMatch(/127\.0\.0\.1/);
    const byAddress = await auditLog(gateway, { actor: nodes[0]?.actor.address });
    expect(byAddress.nodes.map((entry) => entry.id)).toContain(nodes[0]?.id);
  });

  it("deletes entries older than AUDIT_RETENTION_DAYS", async () => {
    dataOf(await gateway.graphql(REGISTER, { input: service("old-1") }));
    await gateway.app.services.audit.flush();
    clock.advance(6 * 24 * 3600 * 1000);
    dataOf(await gateway.graphql(REGISTER, { input: service("recent-1") }));
    await gateway.app.services.audit.flush();
    clock.advance(2 * 24 * 3600 * 1000);

    expect(await gateway.app.services.audit.deleteExpired()).toBeGreaterThanOrEqual(1);
    expect((await auditLog(gateway, { target: "old-1" })).nodes).toEqual([]);
    expect((await auditLog(gateway, { target: "recent-1" })).nodes).toHaveLength(1);
  });
});

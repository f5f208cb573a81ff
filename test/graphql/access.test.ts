import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { ConfigError, loadConfig } from "../../src/config.js";
import { apiTokens } from "../../src/db/schema.js";
import type { ConfiguredToken } from "../../src/domain/access.js";
import { manualClock } from "../helpers/clock.js";
import { migratedPglite } from "../helpers/database.js";
import {
  dataOf,
  errorCodeOf,
  startGateway,
  type TestGateway,
  tokensMode,
} from "../helpers/gateway.js";
import { eventually } from "../helpers/wait.js";

const REGISTER = `mutation Register($input: RegisterServiceInput!) { registerService(input: $input) { id } }`;
const ISOLATE = `mutation Isolate($id: ID!) { isolateCircuitBreaker(serviceId: $id) { state } }`;
const DEFINE = `mutation Define($definition: JSON!) { registerWorkflowDefinition(definition: $definition) { type version } }`;

const service = (id: string, type = "billing") => ({
  input: { id, name: id, type, version: "1.0.0", baseUrl: "http://billing.internal:8000" },
});
const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

// About open mode itself: the tokens-mode run gives every gateway a token.
describe.skipIf(tokensMode)("open mode: no token configured", () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway.stop());

  it("lets an anonymous caller do everything, breakers and definitions included", async () => {
    dataOf(await gateway.graphql(REGISTER, service("open-1")));
    expect(dataOf(await gateway.graphql(ISOLATE, { id: "open-1" }))).toEqual({
      isolateCircuitBreaker: { state: "ISOLATED" },
    });
    const definition = { type: "open_check", steps: [{ id: "only", output: 1 }] };
    expect(dataOf(await gateway.graphql(DEFINE, { definition }))).toEqual({
      registerWorkflowDefinition: { type: "OPEN_CHECK", version: 1 },
    });
  });

  it("still keeps an id registered with a bearer token to that token", async () => {
    dataOf(await gateway.graphql(REGISTER, service("owned-open"), bearer("first-bearer")));
    const takeover = await gateway.graphql(
      REGISTER,
      service("owned-open"),
      bearer("second-bearer"),
    );
    expect(errorCodeOf(takeover)).toBe("FORBIDDEN");
    const anonymous = await gateway.graphql(`mutation { unregisterService(id: "owned-open") }`);
    expect(errorCodeOf(anonymous)).toBe("FORBIDDEN");
  });

  it("says so in systemHealth and on GraphiQL's page", async () => {
    const health = dataOf(
      await gateway.graphql<{ systemHealth: { warnings: string[] } }>(
        `{ systemHealth { warnings } }`,
      ),
    );
    expect(health.systemHealth.warnings).toEqual([expect.stringMatching(/^Open mode: no token/)]);
    const page = await fetch(`${gateway.url}/graphql`, { headers: { accept: "text/html" } });
    expect(await page.text()).toContain("OPEN MODE");
  });

  it("refuses to make API tokens: tokens mode comes from the environment", async () => {
    const made = await gateway.graphql(
      `mutation { createApiToken(role: READER, name: "r") { secret } }`,
    );
    expect(errorCodeOf(made)).toBe("FORBIDDEN");
  });
});

describe("tokens mode", () => {
  const ADMIN = "admin-secret-for-access-tests";
  const tokens: ConfiguredToken[] = [
    { secret: "operator-secret-0123456", role: "operator", name: "ops", serviceTypes: null },
    {
      secret: "billing-secret-01234567",
      role: "service",
      name: "billing",
      serviceTypes: ["BILLING"],
    },
    { secret: "reader-secret-012345678", role: "reader", name: "dash", serviceTypes: null },
  ];
  const [operator, billing, reader] = tokens.map((token) => bearer(token.secret)) as [
    ReturnType<typeof bearer>,
    ReturnType<typeof bearer>,
    ReturnType<typeof bearer>,
  ];
  const clock = manualClock();
  let gateway: TestGateway;
  let replica: TestGateway;
  let database: Awaited<ReturnType<typeof migratedPglite>>;

  beforeAll(async () => {
    database = await migratedPglite();
    // Two replicas of one gateway: one database, each its own memory of the tokens.
    gateway = await startGateway({ adminToken: ADMIN, tokens, database, clock });
    replica = await startGateway({ adminToken: ADMIN, tokens, database, clock });
  });
  afterAll(async () => {
    await replica.stop();
    await gateway.stop();
    await database.close();
  });

  it("answers 401 UNAUTHENTICATED on every surface without a valid token", async () => {
    for (const authorization of ["", "Bearer not-a-token-of-this-gateway", "Basic abc"]) {
      const graphql = await fetch(`${gateway.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization },
        body: JSON.stringify({ query: "{ services { totalCount } }" }),
      });
      expect(graphql.status).toBe(401);
      expect(graphql.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(await graphql.json()).toMatchObject({
        errors: [{ extensions: { code: "UNAUTHENTICATED" } }],
      });
      const rest = await fetch(`${gateway.url}/discovery/services`, { headers: { authorization } });
      expect(rest.status).toBe(401);
      expect(await rest.json()).toMatchObject({ code: "UNAUTHENTICATED" });
      for (const path of ["/metrics", "/health/system"]) {
        expect((await fetch(`${gateway.url}${path}`, { headers: { authorization } })).status).toBe(
          401,
        );
      }
    }
    // Orchestrators probe without tokens.
    expect((await fetch(`${gateway.url}/health/alive`)).status).toBe(200);
    expect((await fetch(`${gateway.url}/health/ready`)).status).toBe(200);
  });

  it("refuses an SSE subscription without a token before any event", async () => {
    const response = await fetch(`${gateway.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ query: "subscription { registryChanged { change } }" }),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("content-type")).toContain("application/json");
  });

  it("closes a graphql-ws connection with 4403 at connection_init without a valid token", async () => {
    for (const connectionParams of [{}, { authorization: "Bearer wrong-token-0123456789" }]) {
      const closed = new Promise<number>((resolve) => {
        const client = createClient({
          url: `${gateway.url.replace("http", "ws")}/graphql`,
          webSocketImpl: WebSocket,
          retryAttempts: 0,
          lazy: false,
          // The close is what this test waits for; graphql-ws would print it as an error.
          onNonLazyError: () => {},
          connectionParams,
          on: { closed: (event) => resolve((event as { code: number }).code) },
        });
        client.on("error", () => {});
      });
      expect(await closed).toBe(4403);
    }
  });

  it("gives each role what the table in the README says, and no more", async () => {
    const register = (id: string, headers: Record<string, string>, type = "billing") =>
      gateway.graphql(REGISTER, service(id, type), headers);
    // A service token registers its own types only.
    dataOf(await register("billing-1", billing));
    expect(errorCodeOf(await register("search-1", billing, "search"))).toBe("FORBIDDEN");
    // A reader reads, and changes nothing.
    expect(errorCodeOf(await register("dash-1", reader))).toBe("FORBIDDEN");
    expect(
      dataOf(
        await gateway.graphql<{ service: { id: string } }>(
          `{ service(id: "billing-1") { id } }`,
          {},
          reader,
        ),
      ),
    ).toEqual({ service: { id: "billing-1" } });
    // An operator sets the status of a service it does not own, and operates breakers,
    // but neither registers services nor defines workflows.
    const maintenance = await gateway.graphql(
      `mutation { updateServiceStatus(id: "billing-1", status: MAINTENANCE) { status } }`,
      {},
      operator,
    );
    expect(dataOf(maintenance)).toEqual({ updateServiceStatus: { status: "MAINTENANCE" } });
    expect(dataOf(await gateway.graphql(ISOLATE, { id: "billing-1" }, operator))).toEqual({
      isolateCircuitBreaker: { state: "ISOLATED" },
    });
    expect(errorCodeOf(await register("ops-1", operator))).toBe("FORBIDDEN");
    const definition = { type: "ops_only", steps: [{ id: "only", output: 1 }] };
    const refused = await gateway.graphql(DEFINE, { definition }, operator);
    expect(errorCodeOf(refused)).toBe("FORBIDDEN");
    expect(refused.errors?.[0]?.message).toBe("This operation needs a token with the admin role.");
    // The service token may not isolate a breaker: that is an operator's.
    const isolate = await gateway.graphql(ISOLATE, { id: "billing-1" }, billing);
    expect(isolate.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect(isolate.errors?.[0]?.message).toBe(
      "This operation needs a token with the admin or operator role.",
    );
  });

  it("makes API tokens that work on every replica, and stops them on every replica once revoked", async () => {
    const made = dataOf(
      await gateway.graphql<{
        createApiToken: { secret: string; token: { id: string; role: string } };
      }>(
        `mutation { createApiToken(role: SERVICE, name: "made", serviceTypes: ["billing"]) { secret token { id role } } }`,
      ),
    ).createApiToken;
    expect(made.secret).toMatch(/^sig_/);
    expect(made.token.role).toBe("SERVICE");
    const asMade = bearer(made.secret);
    dataOf(await gateway.graphql(REGISTER, service("made-1"), asMade));
    // The other replica learns of the token from the database (each replica here has a
    // live store of its own, so it reads rather than heartbeats).
    await eventually(async () => {
      dataOf(await replica.graphql(`{ services { totalCount } }`, {}, asMade));
    });
    const listed = dataOf(
      await gateway.graphql<{ apiTokens: { id: string; name: string; source: string }[] }>(
        `{ apiTokens { id name source } }`,
      ),
    ).apiTokens;
    expect(listed).toContainEqual({ id: made.token.id, name: "made", source: "api" });
    expect(listed).toContainEqual({ id: "config:ops", name: "ops", source: "config" });
    const stored = await database.db.select().from(apiTokens);
    expect(JSON.stringify(stored)).not.toContain(made.secret);

    // A subscription open with the token is closed when it is revoked.
    const closed = new Promise<number>((resolve) => {
      const client = createClient({
        url: `${replica.url.replace("http", "ws")}/graphql`,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        connectionParams: asMade,
        on: { closed: (event) => resolve((event as { code: number }).code) },
      });
      client.on("error", () => {});
      client.subscribe(
        { query: "subscription { registryChanged { change } }" },
        {
          next: () => {},
          error: () => {},
          complete: () => {},
        },
      );
    });
    // And an SSE stream open with it is ended.
    const stream = await fetch(`${gateway.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", ...asMade },
      body: JSON.stringify({ query: "subscription { registryChanged { change } }" }),
    });
    expect(stream.status).toBe(200);
    const events = (stream.body as ReadableStream<Uint8Array>).getReader();
    const ended = (async () => {
      for (;;) if ((await events.read()).done) return true;
    })();
    dataOf(
      await gateway.graphql(`mutation { revokeApiToken(id: "${made.token.id}") { revokedAt } }`),
    );
    expect(await ended).toBe(true);
    const refusedHere = await gateway.graphql(`{ services { totalCount } }`, {}, asMade);
    expect(errorCodeOf(refusedHere)).toBe("UNAUTHENTICATED");
    await eventually(async () => {
      const there = await replica.graphql(`{ services { totalCount } }`, {}, asMade);
      expect(errorCodeOf(there)).toBe("UNAUTHENTICATED");
    });
    expect(await closed).toBe(4403);
  });

  it("stops an expired token at its expiry", async () => {
    const expiresAt = new Date(clock.now() + 60_000).toISOString();
    const made = dataOf(
      await gateway.graphql<{ createApiToken: { secret: string } }>(
        `mutation($at: DateTime) { createApiToken(role: READER, name: "brief", expiresAt: $at) { secret } }`,
        { at: expiresAt },
      ),
    ).createApiToken;
    dataOf(await gateway.graphql(`{ services { totalCount } }`, {}, bearer(made.secret)));
    clock.advance(60_000);
    const expired = await gateway.graphql(`{ services { totalCount } }`, {}, bearer(made.secret));
    expect(errorCodeOf(expired)).toBe("UNAUTHENTICATED");
  });

  it("keeps token management to admins", async () => {
    for (const headers of [operator, billing, reader]) {
      const made = await gateway.graphql(
        `mutation { createApiToken(role: ADMIN, name: "escalated") { secret } }`,
        {},
        headers,
      );
      expect(errorCodeOf(made)).toBe("FORBIDDEN");
      expect(errorCodeOf(await gateway.graphql(`{ apiTokens { id } }`, {}, headers))).toBe(
        "FORBIDDEN",
      );
    }
  });
});

describe("configuration", () => {
  it("refuses to start in production without a token, saying why", () => {
    expect(() => loadConfig({ NODE_ENV: "production" })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: "production" })).toThrow(/no token is configured/);
  });

  it("turns GraphiQL and introspection off in production unless asked", () => {
    const production = loadConfig({ NODE_ENV: "production", ADMIN_TOKEN: "a".repeat(32) });
    expect(production.graphiql).toBe(false);
    expect(production.access.introspection).toBe(false);
    const asked = loadConfig({
      NODE_ENV: "production",
      ADMIN_TOKEN: "a".repeat(32),
      GRAPHIQL: "true",
      INTROSPECTION: "true",
    });
    expect([asked.graphiql, asked.access.introspection]).toEqual([true, true]);
  });

  it("takes tokens from AUTH_TOKENS and refuses a malformed or doubled one", () => {
    const config = loadConfig({
      AUTH_TOKENS: JSON.stringify([
        { token: "b".repeat(20), role: "service", name: "billing", types: ["billing-api"] },
      ]),
      ADMIN_TOKEN: "a".repeat(20),
    });
    expect(config.access.tokens).toEqual([
      { secret: "a".repeat(20), role: "admin", name: "admin", serviceTypes: null },
      { secret: "b".repeat(20), role: "service", name: "billing", serviceTypes: ["BILLING_API"] },
    ]);
    for (const AUTH_TOKENS of [
      "not json",
      JSON.stringify([{ token: "short", role: "reader", name: "r" }]),
      JSON.stringify([{ token: "c".repeat(20), role: "root", name: "r" }]),
      JSON.stringify([{ token: "a".repeat(20), role: "reader", name: "again" }]),
    ]) {
      expect(() => loadConfig({ AUTH_TOKENS, ADMIN_TOKEN: "a".repeat(20) })).toThrow(ConfigError);
    }
  });

  it("refuses introspection when it is off", async () => {
    const gateway = await startGateway({ introspection: false });
    try {
      const answer = await gateway.graphql(`{ __schema { types { name } } }`);
      expect(answer.errors?.[0]?.message).toMatch(/introspection/i);
      dataOf(await gateway.graphql(`{ services { totalCount } }`));
    } finally {
      await gateway.stop();
    }
  });
});

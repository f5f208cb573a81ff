import { once } from "node:events";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createRegistryRepository } from "../../src/db/registry.js";
import { startUpstreamService, type UpstreamService } from "../fixtures/upstream-service.js";
import { manualClock } from "../helpers/clock.js";
import {
  dataOf,
  type GraphQLResponse,
  startGateway,
  type TestGateway,
} from "../helpers/gateway.js";
import { eventually } from "../helpers/wait.js";

/*
 * Who may do what, and what a hostile request gets, over both surfaces. One gateway in
 * tokens mode with five tokens (admin, operator, two service tokens, a reader) and three
 * services registered by the two service tokens at a real upstream. Each row is one
 * request as a client would send it, over GraphQL and, where the seed's REST API has the
 * same operation, over REST; it must get its HTTP status and code, send nothing to the
 * upstream, and leave every stored row (live store, database, breakers, definitions,
 * tokens) byte for byte as it was, unless the row is one that may change it.
 */

const SECRETS = {
  admin: "hostile-admin-token-0123456789",
  operator: "hostile-operator-token-01234567",
  a: "hostile-service-a-token-0123456",
  b: "hostile-service-b-token-0123456",
  reader: "hostile-reader-token-012345678",
} as const;

/** Who sends the request: a configured token, an API token made in beforeAll, or none. */
type Who = keyof typeof SECRETS | "none" | "wrong" | "basic" | "empty" | "expired" | "revoked";

/** Secrets of the API tokens made in beforeAll. */
const madeSecrets: { expired?: string; revoked?: string } = {};

function authorizationOf(who: Who): string | undefined {
  switch (who) {
    case "none":
      return undefined;
    case "wrong":
      return "Bearer not-a-token-this-gateway-knows";
    case "basic":
      return `Basic ${Buffer.from(`admin:${SECRETS.admin}`).toString("base64")}`;
    case "empty":
      return "Bearer ";
    case "expired":
    case "revoked": {
      const secret = madeSecrets[who];
      if (!secret) throw new Error(`the ${who} token was not made`);
      return `Bearer ${secret}`;
    }
    default:
      return `Bearer ${SECRETS[who]}`;
  }
}

/** A GraphQL request: an operation, or a raw body for what no client library would send. */
type GraphQLRequest = { query: string; variables?: Record<string, unknown> } | { raw: string };
type RestRequest = { method: string; path: string; body?: unknown; raw?: string };
/** HTTP status and code (`extensions.code` over GraphQL, `code` over REST); null: no error. */
type Expected = { status: number | "4xx"; code: string | null };

type Row = {
  name: string;
  as: Who;
  graphql?: [GraphQLRequest, Expected];
  rest?: [RestRequest, Expected];
  /** A row that may change what is stored: what must hold after it, and how to undo it. */
  changes?: { check: () => Promise<void>; undo: () => Promise<void> };
};

const gql = (query: string, variables?: Record<string, unknown>): GraphQLRequest => ({
  query,
  variables,
});
const rest = (method: string, path: string, body?: unknown): RestRequest => ({
  method,
  path,
  body,
});
const ok = (status = 200): Expected => ({ status, code: null });
const refused = (status: number | "4xx", code: string | null): Expected => ({ status, code });
/** What GraphQL answers an operation its resolver or a scope refuses. */
const gqlRefused = (code: string): Expected => ({ status: 200, code });

const REGISTER = `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`;
const HEARTBEAT = (id: string) => `mutation { heartbeat(id: ${JSON.stringify(id)}) { id } }`;
const SET_STATUS = (id: string, status: string) =>
  `mutation { updateServiceStatus(id: ${JSON.stringify(id)}, status: ${status}) { id status } }`;
const UNREGISTER = (id: string) => `mutation { unregisterService(id: ${JSON.stringify(id)}) }`;

const MB = 1024 * 1024;
const service = (fields: Record<string, unknown>) => ({
  name: "hostile",
  type: "orders",
  version: "1.0.0",
  baseUrl: "http://orders.test",
  ...fields,
});
/** The same registration in the seed's snake_case. */
const restService = (fields: Record<string, unknown>) => ({
  name: "hostile",
  type: "orders",
  version: "1.0.0",
  base_url: "http://orders.test",
  ...fields,
});

const aliases = (count: number) =>
  `{ ${Array.from({ length: count }, (_, i) => `a${i}: __typename`).join(" ")} }`;
/** 50 levels of fields: services, nodes, 24 × (statusHistory, service). */
const depth50 = `{ services { nodes { ${"statusHistory { service { ".repeat(24)}id${" } }".repeat(24)} } } }`;

let gateway: TestGateway;
let upstream: UpstreamService;
const clock = manualClock();

/** The seeded services: who registered them, as what. */
const SEEDS = [
  {
    id: "svc-a1",
    as: "a",
    type: "orders",
    endpoints: [{ path: "/tasks", method: "POST" }],
  },
  { id: "svc-a2", as: "a", type: "orders", endpoints: [] },
  { id: "svc-b1", as: "b", type: "billing", endpoints: [{ path: "/invoices", method: "GET" }] },
] as const;

const statusOf = async (id: string) => (await gateway.store.get(id))?.record.status;

const rows: Row[] = [
  // Malformed and mistyped input.
  {
    name: "a malformed JSON body",
    as: "a",
    graphql: [{ raw: '{"query": "mutation {' }, refused(400, "BAD_REQUEST")],
    rest: [
      { method: "POST", path: "/registry/services", raw: '{"name": ' },
      refused(422, "BAD_USER_INPUT"),
    ],
  },
  {
    name: "a variable of the wrong type",
    as: "a",
    graphql: [gql(REGISTER, { input: service({ name: 42 }) }), refused(200, "BAD_USER_INPUT")],
    rest: [
      rest("POST", "/registry/services", restService({ heartbeat_interval_seconds: "often" })),
      refused(422, "BAD_USER_INPUT"),
    ],
  },
  {
    name: "an unknown enum value",
    as: "a",
    graphql: [
      gql(`mutation($s: ServiceStatus!) { updateServiceStatus(id: "svc-a1", status: $s) { id } }`, {
        s: "HACKED",
      }),
      refused(200, "BAD_USER_INPUT"),
    ],
    rest: [
      rest("PUT", "/registry/services/svc-a1/status?status=HACKED"),
      refused(422, "BAD_USER_INPUT"),
    ],
  },
  {
    name: "an unknown enum value as a literal",
    as: "a",
    graphql: [gql(SET_STATUS("svc-a1", "HACKED")), refused(200, "GRAPHQL_VALIDATION_FAILED")],
  },
  {
    name: "a 1 MB name",
    as: "a",
    graphql: [
      gql(REGISTER, { input: service({ name: "x".repeat(MB) }) }),
      refused(413, "BAD_USER_INPUT"),
    ],
    rest: [
      rest("POST", "/registry/services", restService({ name: "x".repeat(MB) })),
      refused(413, "BAD_USER_INPUT"),
    ],
  },
  {
    name: "1 MB of metadata",
    as: "a",
    graphql: [
      gql(REGISTER, { input: service({ metadata: { pad: "x".repeat(MB) } }) }),
      refused(413, "BAD_USER_INPUT"),
    ],
    rest: [
      rest("POST", "/registry/services", restService({ metadata: { pad: "x".repeat(MB) } })),
      refused(413, "BAD_USER_INPUT"),
    ],
  },
  {
    name: "a 100 KB name, within the body limit",
    as: "a",
    graphql: [
      gql(REGISTER, { input: service({ name: "x".repeat(100_000) }) }),
      refused(200, "BAD_USER_INPUT"),
    ],
    rest: [
      rest("POST", "/registry/services", restService({ name: "x".repeat(100_000) })),
      refused(422, "BAD_USER_INPUT"),
    ],
  },
  {
    name: "10,000 aliases",
    as: "reader",
    graphql: [gql(aliases(10_000)), refused(200, "BAD_USER_INPUT")],
  },
  {
    name: "a query 50 levels deep",
    as: "reader",
    graphql: [gql(depth50), refused(200, "BAD_USER_INPUT")],
  },
  {
    // Batching is off: an array is not one operation, and none of its items may run.
    name: "a batched operation (a JSON array body)",
    as: "admin",
    graphql: [
      {
        raw: JSON.stringify([
          { query: UNREGISTER("svc-a1") },
          { query: REGISTER, variables: { input: service({ id: "batched" }) } },
        ]),
      },
      refused("4xx", null),
    ],
  },

  // URLs the gateway must never store or call.
  {
    name: "credentials in the base URL",
    as: "a",
    graphql: [
      gql(REGISTER, { input: service({ baseUrl: "http://u:p@orders.test" }) }),
      refused(200, "BAD_USER_INPUT"),
    ],
    rest: [
      rest("POST", "/registry/services", restService({ base_url: "http://u:p@orders.test" })),
      refused(422, "BAD_USER_INPUT"),
    ],
  },
  {
    name: "credentials in the health URL",
    as: "a",
    graphql: [
      gql(REGISTER, { input: service({ healthCheckUrl: "http://u:p@orders.test/health" }) }),
      refused(200, "BAD_USER_INPUT"),
    ],
    rest: [
      rest(
        "POST",
        "/registry/services",
        restService({ health_check_url: "http://u:p@orders.test/health" }),
      ),
      refused(422, "BAD_USER_INPUT"),
    ],
  },
  {
    name: "the cloud metadata address 169.254.169.254",
    as: "a",
    graphql: [
      gql(REGISTER, { input: service({ baseUrl: "http://169.254.169.254" }) }),
      refused(200, "BAD_USER_INPUT"),
    ],
    rest: [
      rest(
        "POST",
        "/registry/services",
        restService({ base_url: "http://169.254.169.254/latest" }),
      ),
      refused(422, "BAD_USER_INPUT"),
    ],
  },
  {
    name: "a link-local IPv6 address [fe80::1]",
    as: "a",
    graphql: [
      gql(REGISTER, { input: service({ baseUrl: "http://[fe80::1]:8080" }) }),
      refused(200, "BAD_USER_INPUT"),
    ],
    rest: [
      rest(
        "POST",
        "/registry/services",
        restService({ health_check_url: "http://[fe80::1]/health" }),
      ),
      refused(422, "BAD_USER_INPUT"),
    ],
  },

  // Ids that name something else: another token's, or a path.
  {
    name: "a heartbeat body naming another id than its path",
    as: "a",
    rest: [
      rest("POST", "/registry/services/svc-a1/heartbeat", { service_id: "svc-b1" }),
      refused(422, "BAD_USER_INPUT"),
    ],
  },
  {
    name: "an id with a traversal (../x)",
    as: "a",
    graphql: [gql(REGISTER, { input: service({ id: "../x" }) }), refused(200, "BAD_USER_INPUT")],
    rest: [
      rest("POST", "/registry/services", restService({ service_id: "../x" })),
      refused(422, "BAD_USER_INPUT"),
    ],
  },
  {
    name: "an id with a slash (a/b)",
    as: "a",
    graphql: [gql(REGISTER, { input: service({ id: "a/b" }) }), refused(200, "BAD_USER_INPUT")],
    rest: [
      rest("POST", "/registry/services", restService({ service_id: "a/b" })),
      refused(422, "BAD_USER_INPUT"),
    ],
  },
  {
    name: "an encoded slash in a path id (a%2Fb)",
    as: "admin",
    graphql: [gql(HEARTBEAT("a/b")), refused(200, "NOT_FOUND")],
    rest: [rest("POST", "/registry/services/a%2Fb/heartbeat"), refused(404, "NOT_FOUND")],
  },
  {
    // The URL parser resolves %2e%2e as ..: the request reaches no route at all.
    name: "an encoded traversal in a path id (%2e%2e)",
    as: "admin",
    graphql: [gql(HEARTBEAT("..")), refused(200, "BAD_USER_INPUT")],
    rest: [rest("DELETE", "/registry/services/%2e%2e"), refused(404, "NOT_FOUND")],
  },
  {
    name: "a traversal to another service's path (svc-a2%2F..%2Fsvc-a1)",
    as: "b",
    graphql: [gql(UNREGISTER("svc-b1/../svc-a1")), ok()],
    rest: [rest("DELETE", "/registry/services/svc-b1%2F..%2Fsvc-a1"), refused(404, "NOT_FOUND")],
  },
  {
    name: "a call to a traversal path",
    as: "a",
    graphql: [
      gql(
        `mutation { callService(input: { serviceId: "svc-a1", method: "POST", path: "/tasks/../admin" }) { status } }`,
      ),
      gqlRefused("BAD_USER_INPUT"),
    ],
  },
  {
    name: "revoking a token from the environment by its id",
    as: "admin",
    graphql: [
      gql(`mutation { revokeApiToken(id: "config:admin") { id } }`),
      gqlRefused("BAD_USER_INPUT"),
    ],
  },
  {
    name: "revoking a token by a traversal id",
    as: "admin",
    graphql: [gql(`mutation { revokeApiToken(id: "../x") { id } }`), gqlRefused("NOT_FOUND")],
  },

  // Tokens that do not authenticate.
  ...(["none", "wrong", "basic", "empty", "expired", "revoked"] as const).map(
    (who): Row => ({
      name: `a ${who} token`,
      as: who,
      graphql: [gql(`{ services { totalCount } }`), refused(401, "UNAUTHENTICATED")],
      rest: [rest("GET", "/discovery/services"), refused(401, "UNAUTHENTICATED")],
    }),
  ),
  {
    name: "a revoked token's write",
    as: "revoked",
    graphql: [gql(UNREGISTER("svc-a1")), refused(401, "UNAUTHENTICATED")],
    rest: [rest("DELETE", "/registry/services/svc-a1"), refused(401, "UNAUTHENTICATED")],
  },
  {
    name: "an expired token's write",
    as: "expired",
    graphql: [gql(HEARTBEAT("svc-a1")), refused(401, "UNAUTHENTICATED")],
    rest: [rest("POST", "/registry/services/svc-a1/heartbeat"), refused(401, "UNAUTHENTICATED")],
  },

  // Takeover attempts: one service token against another's ids, roles beyond their rights.
  {
    name: "B re-registers A's id",
    as: "b",
    graphql: [
      gql(REGISTER, { input: service({ id: "svc-a1", type: "billing" }) }),
      gqlRefused("FORBIDDEN"),
    ],
    rest: [
      rest("POST", "/registry/services", restService({ service_id: "svc-a1", type: "billing" })),
      refused(403, "FORBIDDEN"),
    ],
  },
  {
    name: "B heartbeats A's service",
    as: "b",
    graphql: [gql(HEARTBEAT("svc-a1")), gqlRefused("FORBIDDEN")],
    rest: [
      rest("POST", "/registry/services/svc-a1/heartbeat", { status: "OFFLINE" }),
      refused(403, "FORBIDDEN"),
    ],
  },
  {
    name: "B sets the status of A's service",
    as: "b",
    graphql: [gql(SET_STATUS("svc-a1", "OFFLINE")), gqlRefused("FORBIDDEN")],
    rest: [
      rest("PUT", "/registry/services/svc-a1/status?status=OFFLINE"),
      refused(403, "FORBIDDEN"),
    ],
  },
  {
    name: "B unregisters A's service",
    as: "b",
    graphql: [gql(UNREGISTER("svc-a1")), gqlRefused("FORBIDDEN")],
    rest: [rest("DELETE", "/registry/services/svc-a1"), refused(403, "FORBIDDEN")],
  },
  {
    name: "B registers a type outside its list",
    as: "b",
    graphql: [
      gql(REGISTER, { input: service({ id: "b-orders", type: "orders" }) }),
      gqlRefused("FORBIDDEN"),
    ],
    rest: [
      rest(
        "POST",
        "/registry/services",
        restService({ service_id: "b-orders", service_type: "orders", type: undefined }),
      ),
      refused(403, "FORBIDDEN"),
    ],
  },
  {
    name: "B calls a path A's service did not declare",
    as: "b",
    graphql: [
      gql(
        `mutation { callService(input: { serviceId: "svc-a1", method: "GET", path: "/admin" }) { status } }`,
      ),
      gqlRefused("FORBIDDEN"),
    ],
  },
  {
    name: "a reader registers",
    as: "reader",
    graphql: [gql(REGISTER, { input: service({ id: "reader-svc" }) }), gqlRefused("FORBIDDEN")],
    rest: [
      rest("POST", "/registry/services", restService({ service_id: "reader-svc" })),
      refused(403, "FORBIDDEN"),
    ],
  },
  {
    name: "a reader heartbeats",
    as: "reader",
    graphql: [gql(HEARTBEAT("svc-a1")), gqlRefused("FORBIDDEN")],
    rest: [rest("POST", "/registry/services/svc-a1/heartbeat"), refused(403, "FORBIDDEN")],
  },
  {
    name: "a reader calls a declared endpoint",
    as: "reader",
    graphql: [
      gql(
        `mutation { callService(input: { serviceId: "svc-a1", method: "POST", path: "/tasks" }) { status } }`,
      ),
      gqlRefused("FORBIDDEN"),
    ],
  },
  {
    name: "a reader executes a workflow",
    as: "reader",
    rest: [
      rest("POST", "/workflows/execute", { workflow_type: "PROJECT_PLANNING", data: {} }),
      refused(403, "FORBIDDEN"),
    ],
  },
  {
    name: "an operator registers a service",
    as: "operator",
    graphql: [gql(REGISTER, { input: service({ id: "operator-svc" }) }), gqlRefused("FORBIDDEN")],
    rest: [
      rest("POST", "/registry/services", restService({ service_id: "operator-svc" })),
      refused(403, "FORBIDDEN"),
    ],
  },
  {
    name: "a service token isolates a breaker",
    as: "a",
    graphql: [
      gql(`mutation { isolateCircuitBreaker(serviceId: "svc-a1") { state } }`),
      gqlRefused("FORBIDDEN"),
    ],
  },
  {
    name: "a service token registers a workflow definition",
    as: "a",
    graphql: [
      gql(`mutation($d: JSON!) { registerWorkflowDefinition(definition: $d) { type } }`, {
        d: {
          type: "takeover",
          steps: [{ id: "s", serviceType: "orders", method: "GET", path: "/admin" }],
        },
      }),
      gqlRefused("FORBIDDEN"),
    ],
  },
  {
    // Refused before the id is looked up: FORBIDDEN, not NOT_FOUND.
    name: "a service token cancels a workflow",
    as: "a",
    graphql: [
      gql(`mutation { cancelWorkflow(id: "any-execution") { id } }`),
      gqlRefused("FORBIDDEN"),
    ],
  },
  {
    name: "a service token reads apiTokens",
    as: "a",
    graphql: [gql(`{ apiTokens { id name } }`), gqlRefused("FORBIDDEN")],
  },
  {
    name: "a service token creates an admin token",
    as: "b",
    graphql: [
      gql(`mutation { createApiToken(role: ADMIN, name: "mine") { secret } }`),
      gqlRefused("FORBIDDEN"),
    ],
  },
  {
    name: "an operator registers a workflow definition",
    as: "operator",
    graphql: [
      gql(`mutation($d: JSON!) { registerWorkflowDefinition(definition: $d) { type } }`, {
        d: {
          type: "takeover",
          steps: [{ id: "s", serviceType: "orders", method: "GET", path: "/admin" }],
        },
      }),
      gqlRefused("FORBIDDEN"),
    ],
  },
  {
    name: "an operator creates a token",
    as: "operator",
    graphql: [
      gql(`mutation { createApiToken(role: OPERATOR, name: "mine") { secret } }`),
      gqlRefused("FORBIDDEN"),
    ],
  },
  {
    name: "an operator revokes the admin token",
    as: "operator",
    graphql: [
      gql(`mutation { revokeApiToken(id: "config:admin") { id } }`),
      gqlRefused("FORBIDDEN"),
    ],
  },

  {
    name: "a reader sets a status",
    as: "reader",
    graphql: [gql(SET_STATUS("svc-a1", "OFFLINE")), gqlRefused("FORBIDDEN")],
    rest: [
      rest("PUT", "/registry/services/svc-a1/status?status=OFFLINE"),
      refused(403, "FORBIDDEN"),
    ],
  },
  {
    name: "an operator unregisters A's service",
    as: "operator",
    graphql: [gql(UNREGISTER("svc-a1")), gqlRefused("FORBIDDEN")],
    rest: [rest("DELETE", "/registry/services/svc-a1"), refused(403, "FORBIDDEN")],
  },
  {
    name: "an operator heartbeats A's service",
    as: "operator",
    graphql: [gql(HEARTBEAT("svc-a1")), gqlRefused("FORBIDDEN")],
    rest: [rest("POST", "/registry/services/svc-a1/heartbeat"), refused(403, "FORBIDDEN")],
  },
  {
    name: "A heartbeats B's service to OFFLINE",
    as: "a",
    graphql: [
      gql(`mutation { heartbeat(id: "svc-b1", status: OFFLINE) { id } }`),
      gqlRefused("FORBIDDEN"),
    ],
    rest: [
      rest("POST", "/registry/services/svc-b1/heartbeat", { status: "OFFLINE" }),
      refused(403, "FORBIDDEN"),
    ],
  },
  {
    name: "an admin token for a reader limited to types",
    as: "admin",
    graphql: [
      gql(
        `mutation { createApiToken(role: READER, name: "r", serviceTypes: ["BILLING"]) { secret } }`,
      ),
      gqlRefused("BAD_USER_INPUT"),
    ],
  },
  {
    name: "a token that has expired already",
    as: "admin",
    graphql: [
      gql(
        `mutation { createApiToken(role: SERVICE, name: "old", expiresAt: "2001-01-01T00:00:00Z") { secret } }`,
      ),
      gqlRefused("BAD_USER_INPUT"),
    ],
  },

  // What each role may do.
  {
    name: "a reader reads",
    as: "reader",
    graphql: [gql(`{ service(id: "svc-a1") { id } }`), ok()],
    rest: [rest("GET", "/registry/services/svc-a1"), ok()],
  },
  {
    name: "an operator sets the status of A's service",
    as: "operator",
    graphql: [gql(SET_STATUS("svc-a1", "MAINTENANCE")), ok()],
    rest: [rest("PUT", "/registry/services/svc-a1/status?status=MAINTENANCE"), ok()],
    changes: {
      check: async () => expect(await statusOf("svc-a1")).toBe("MAINTENANCE"),
      undo: () => setOnline("svc-a1"),
    },
  },
  {
    name: "A sets the status of its own service",
    as: "a",
    graphql: [gql(SET_STATUS("svc-a2", "DEGRADED")), ok()],
    rest: [rest("PUT", "/registry/services/svc-a2/status?status=DEGRADED"), ok()],
    changes: {
      check: async () => expect(await statusOf("svc-a2")).toBe("DEGRADED"),
      undo: () => setOnline("svc-a2"),
    },
  },
  {
    name: "B heartbeats its own service",
    as: "b",
    graphql: [gql(HEARTBEAT("svc-b1")), ok()],
    rest: [rest("POST", "/registry/services/svc-b1/heartbeat"), ok()],
    // The clock stands still: the heartbeat changes nothing a client can see.
    changes: {
      check: async () => expect(await statusOf("svc-b1")).toBe("ONLINE"),
      undo: async () => {},
    },
  },
  {
    name: "an operator isolates a breaker",
    as: "operator",
    graphql: [gql(`mutation { isolateCircuitBreaker(serviceId: "svc-a2") { state } }`), ok()],
    changes: {
      check: async () =>
        expect(
          (await gateway.app.services.breakers.list()).map((b) => [b.serviceId, b.state]),
        ).toContainEqual(["svc-a2", "ISOLATED"]),
      undo: async () => {
        // After the isolation, not at the same instant: the latest recorded state wins.
        clock.advance(1);
        dataOf(
          await adminGraphQL(`mutation { resetCircuitBreaker(serviceId: "svc-a2") { state } }`),
        );
      },
    },
  },
  {
    name: "the admin unregisters B's service",
    as: "admin",
    graphql: [gql(UNREGISTER("svc-b1")), ok()],
    rest: [rest("DELETE", "/registry/services/svc-b1"), ok(204)],
    changes: {
      check: async () => expect(await gateway.store.get("svc-b1")).toBeNull(),
      undo: () => seed("svc-b1"),
    },
  },
];

/** What a client sees of one answer. */
type Answer = { status: number; code: string | null; body: unknown };

async function sendGraphQL(request: GraphQLRequest, who: Who): Promise<Answer> {
  const authorization = authorizationOf(who);
  const response = await fetch(`${gateway.url}/graphql`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json",
      ...(authorization === undefined ? {} : { authorization }),
    },
    body: "raw" in request ? request.raw : JSON.stringify(request),
  });
  const body = (await response.json()) as GraphQLResponse & { code?: string };
  // A 413 is answered before GraphQL, in the REST shape.
  const code = body.errors?.[0]?.extensions?.code ?? body.code ?? null;
  return { status: response.status, code: typeof code === "string" ? code : null, body };
}

async function sendRest(request: RestRequest, who: Who): Promise<Answer> {
  const authorization = authorizationOf(who);
  const body =
    request.raw ?? (request.body === undefined ? undefined : JSON.stringify(request.body));
  const response = await fetch(`${gateway.url}${request.path}`, {
    method: request.method,
    headers: {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(authorization === undefined ? {} : { authorization }),
    },
    body,
  });
  const text = await response.text();
  const parsed = text.length === 0 ? null : (JSON.parse(text) as { code?: unknown });
  const code = parsed?.code;
  return { status: response.status, code: typeof code === "string" ? code : null, body: parsed };
}

function assertAnswer(answer: Answer, expected: Expected) {
  const seen = { status: answer.status, code: answer.code };
  if (expected.status === "4xx") {
    expect(answer.status, JSON.stringify(answer.body)).toBeGreaterThanOrEqual(400);
    expect(answer.status, JSON.stringify(answer.body)).toBeLessThan(500);
    return;
  }
  expect(seen, JSON.stringify(answer.body)).toEqual(expected);
}

const adminGraphQL = (query: string) =>
  gateway.graphql(query, {}, { authorization: authorizationOf("admin") ?? "" });

/** Every stored row a request could change, as one string: live store, database, breakers, definitions, tokens. */
async function storedState(): Promise<string> {
  const byId = <T extends { id: string }>(items: T[]) =>
    [...items].sort((x, y) => x.id.localeCompare(y.id));
  const live = byId(await gateway.store.find({}));
  const durable = byId(await createRegistryRepository(gateway.database.db).loadAll());
  const breakers = (await gateway.app.services.breakers.list()).sort((x, y) =>
    x.serviceId.localeCompare(y.serviceId),
  );
  const rest = dataOf(
    await adminGraphQL(`{ workflowDefinitions { type version } apiTokens { id role revokedAt } }`),
  );
  return JSON.stringify({ live, durable, breakers, rest });
}

async function seed(only?: string): Promise<void> {
  for (const { id, as, type, endpoints } of SEEDS) {
    if (only !== undefined && id !== only) continue;
    dataOf(
      await gateway.graphql(
        REGISTER,
        {
          input: service({ id, type, baseUrl: `${upstream.url}/${id}`, endpoints, tags: ["seed"] }),
        },
        { authorization: authorizationOf(as) ?? "" },
      ),
    );
  }
}

const setOnline = async (id: string) => {
  dataOf(await adminGraphQL(SET_STATUS(id, "ONLINE")));
};

describe("hostile requests over GraphQL and REST, in tokens mode", () => {
  let before: string;

  beforeAll(async () => {
    upstream = await startUpstreamService();
    gateway = await startGateway({
      adminToken: SECRETS.admin,
      clock,
      // Breaker states are re-read from the database often, so a stale one shows at once.
      breakerResyncIntervalMs: 100,
      tokens: [
        { secret: SECRETS.operator, role: "operator", name: "operator", serviceTypes: null },
        { secret: SECRETS.a, role: "service", name: "service-a", serviceTypes: null },
        { secret: SECRETS.b, role: "service", name: "service-b", serviceTypes: ["BILLING"] },
        { secret: SECRETS.reader, role: "reader", name: "reader", serviceTypes: null },
      ],
    });
    const made = (name: string, expiresAt?: string) =>
      adminGraphQL(
        `mutation { createApiToken(role: SERVICE, name: "${name}"${expiresAt ? `, expiresAt: "${expiresAt}"` : ""}) { token { id } secret } }`,
      );
    type Made = { createApiToken: { token: { id: string }; secret: string } };
    const expiring = dataOf(
      (await made(
        "expiring",
        new Date(clock.now() + 60_000).toISOString(),
      )) as GraphQLResponse<Made>,
    );
    madeSecrets.expired = expiring.createApiToken.secret;
    const revoked = dataOf((await made("revoked")) as GraphQLResponse<Made>);
    madeSecrets.revoked = revoked.createApiToken.secret;
    dataOf(
      await adminGraphQL(
        `mutation { revokeApiToken(id: "${revoked.createApiToken.token.id}") { id } }`,
      ),
    );
    // Past the expiry before anything is registered; the clock stands still from here on,
    // so no TTL runs out under the table.
    clock.advance(61_000);
    await seed();
    before = await storedState();
  });
  afterAll(async () => {
    await gateway?.stop();
    await upstream?.stop();
  });
  afterEach(() => {
    expect(upstream.received).toEqual([]);
  });

  async function check(row: Row, answer: Answer, expected: Expected) {
    assertAnswer(answer, expected);
    if (row.changes) {
      await row.changes.check();
      await row.changes.undo();
      before = await storedState();
    } else {
      const after = await storedState();
      // Parsed first, for a readable diff; then byte for byte.
      expect(JSON.parse(after)).toEqual(JSON.parse(before));
      expect(after).toBe(before);
    }
  }

  const overGraphQL = rows.filter((row) => row.graphql);
  const overRest = rows.filter((row) => row.rest);

  it.each(overGraphQL)("GraphQL: $name ($as)", async (row) => {
    const [request, expected] = row.graphql as [GraphQLRequest, Expected];
    await check(row, await sendGraphQL(request, row.as), expected);
  });

  it.each(overRest)("REST: $name ($as)", async (row) => {
    const [request, expected] = row.rest as [RestRequest, Expected];
    await check(row, await sendRest(request, row.as), expected);
  });

  describe("long-lived connections", () => {
    const wsUrl = () => `${gateway.url.replace("http", "ws")}/graphql`;
    const SUBSCRIPTION = "subscription { registryChanged { revision } }";

    /** A raw graphql-transport-ws socket: what it was sent, and how it closed. */
    async function socketWith(payload: Record<string, unknown>) {
      const socket = new WebSocket(wsUrl(), "graphql-transport-ws");
      socket.on("error", () => {});
      const messages: { type: string }[] = [];
      socket.on("message", (data) => messages.push(JSON.parse(String(data)) as { type: string }));
      const closed = once(socket, "close").then(([code]) => code as number);
      await once(socket, "open");
      socket.send(JSON.stringify({ type: "connection_init", payload }));
      return { socket, messages, closed };
    }

    it.each(["none", "wrong", "basic", "empty", "expired", "revoked"] as const)(
      "graphql-ws: closes a socket with a %s token with 4403 at connection_init",
      async (who) => {
        const authorization = authorizationOf(who);
        const { messages, closed } = await socketWith(
          authorization === undefined ? {} : { authorization },
        );
        expect(await closed).toBe(4403);
        expect(messages.map((message) => message.type)).not.toContain("connection_ack");
      },
    );

    it("graphql-ws: closes a subscribed socket with 4403 when its token is revoked, and only that one", async () => {
      type Made = { createApiToken: { token: { id: string }; secret: string } };
      const made = dataOf(
        (await adminGraphQL(
          `mutation { createApiToken(role: READER, name: "dashboard") { token { id } secret } }`,
        )) as GraphQLResponse<Made>,
      ).createApiToken;
      const revoked = await socketWith({ authorization: `Bearer ${made.secret}` });
      const other = await socketWith({ authorization: authorizationOf("reader") });
      for (const connection of [revoked, other]) {
        await eventually(() =>
          expect(connection.messages.map((m) => m.type)).toContain("connection_ack"),
        );
        connection.socket.send(
          JSON.stringify({ id: "1", type: "subscribe", payload: { query: SUBSCRIPTION } }),
        );
      }
      dataOf(await adminGraphQL(`mutation { revokeApiToken(id: "${made.token.id}") { id } }`));
      expect(await revoked.closed).toBe(4403);
      expect(other.socket.readyState).toBe(WebSocket.OPEN);
      // The reader's subscription still delivers.
      dataOf(await adminGraphQL(SET_STATUS("svc-a2", "MAINTENANCE")));
      await eventually(() => expect(other.messages.map((m) => m.type)).toContain("next"));
      other.socket.close();
      await other.closed;
      await setOnline("svc-a2");
    });

    const sse = (method: "GET" | "POST", authorization?: string) =>
      fetch(
        method === "GET"
          ? `${gateway.url}/graphql?query=${encodeURIComponent(SUBSCRIPTION)}`
          : `${gateway.url}/graphql`,
        {
          method,
          headers: {
            accept: "text/event-stream",
            ...(method === "POST" ? { "content-type": "application/json" } : {}),
            ...(authorization ? { authorization } : {}),
          },
          body: method === "POST" ? JSON.stringify({ query: SUBSCRIPTION }) : undefined,
        },
      );

    it.each([
      ["GET", "none"],
      ["POST", "none"],
      ["GET", "wrong"],
      ["POST", "revoked"],
      ["GET", "expired"],
    ] as const)("SSE: %s with a %s token is 401 before any event", async (method, who) => {
      const response = await sse(method, authorizationOf(who));
      expect(response.status).toBe(401);
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      const body = (await response.json()) as GraphQLResponse;
      expect(body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    });

    // The page itself needs no token: its requests carry the one in its headers editor.
    it("GraphiQL's page answers a browser without a token", async () => {
      const response = await fetch(`${gateway.url}/graphql`, { headers: { accept: "text/html" } });
      expect(response.status).toBe(200);
      expect(await response.text()).toContain("<html");
    });

    it("GraphiQL's page does not run a query without a token", async () => {
      const response = await fetch(
        `${gateway.url}/graphql?query=${encodeURIComponent("{ apiTokens { id } }")}`,
        { headers: { accept: "text/html" } },
      );
      expect(response.status).toBe(401);
    });

    it("SSE: a reader's subscription is a stream", async () => {
      const response = await sse("POST", authorizationOf("reader"));
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
      await response.body?.cancel();
    });
  });
});

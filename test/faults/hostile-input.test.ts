import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createRegistryRepository } from "../../src/db/registry.js";
import {
  dataOf,
  type GraphQLResponse,
  startGateway,
  type TestGateway,
} from "../helpers/gateway.js";

/*
 * One request must not hold a replica. Each row sends one hostile input the way a client
 * would, and must get its error code (GraphQL extensions.code, REST status, WebSocket
 * close code) within ANSWER_BOUND_MS, leaving the stored registry exactly as it was.
 */

/** Generous for a loaded CI machine; the unbounded versions took 2-46 s. */
const ANSWER_BOUND_MS = 3000;

/** What a client sees of a refusal. */
type Answer = {
  status?: number;
  code?: unknown;
  field?: unknown;
  closeCode?: number;
  timedOut?: boolean;
};

let gateway: TestGateway;

const REGISTER = `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`;
const EXECUTE = `mutation($input: ExecuteWorkflowInput!) { executeWorkflow(input: $input) { id } }`;
const CALL = `mutation($input: CallServiceInput!) { callService(input: $input) { status } }`;
const baseInput = { name: "hostile", type: "hostile_service", version: "1.0.0" };

/** `{"a":{"a":…1…}}`, `levels` deep, as text: JSON.stringify would overflow building it. */
const deepJson = (levels: number) => `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`;
/** The same as a GraphQL literal. */
const deepLiteral = (levels: number) => `${"{a:".repeat(levels)}1${"}".repeat(levels)}`;

/** A JSON body with `deep` spliced in where `value` holds the placeholder DEEP. */
function withDeep(value: unknown, deep: string): string {
  return JSON.stringify(value).replace('"DEEP"', deep);
}

async function graphqlRaw(body: string, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${gateway.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", ...headers },
    body,
  });
  const answer = (await response.json()) as GraphQLResponse;
  const extensions = answer.errors?.[0]?.extensions ?? {};
  return { status: response.status, code: extensions.code, field: extensions.field };
}

const graphql = (query: string, variables: Record<string, unknown> = {}) =>
  graphqlRaw(JSON.stringify({ query, variables }));

async function rest(method: string, path: string, body?: string): Promise<Answer> {
  const response = await fetch(`${gateway.url}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body,
  });
  const answer = (await response.json()) as { code?: string; field?: string };
  return { status: response.status, code: answer.code, field: answer.field };
}

/** The answer, or `{ timedOut: true }` once `ms` have passed (a subscription that never ends). */
async function answeredWithin(ms: number, answer: Promise<Answer>): Promise<Answer> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Answer>((resolve) => {
    timer = setTimeout(() => resolve({ timedOut: true }), ms);
  });
  try {
    return await Promise.race([answer, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The first answer of one operation over graphql-ws: its data, or the error it got. */
async function overWebSocket(query: string): Promise<Answer> {
  const client = createClient({
    url: `${gateway.url.replace("http", "ws")}/graphql`,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
  });
  try {
    const operation = client.iterate({ query });
    const { value } = await operation.next();
    await operation.return?.();
    const errors = (value as GraphQLResponse | undefined)?.errors;
    return { code: errors?.[0]?.extensions?.code ?? null };
  } catch (error) {
    const errors = error as GraphQLResponse["errors"];
    return { code: Array.isArray(errors) ? errors[0]?.extensions?.code : String(error) };
  } finally {
    await client.dispose();
  }
}

/** Sends one raw message after the handshake and reports how the server closed the socket. */
async function oversizedWebSocketMessage(bytes: number): Promise<Answer> {
  const socket = new WebSocket(
    `${gateway.url.replace("http", "ws")}/graphql`,
    "graphql-transport-ws",
  );
  socket.on("error", () => {});
  await new Promise((resolve) => socket.once("open", resolve));
  socket.send(JSON.stringify({ type: "connection_init" }));
  await new Promise((resolve) => socket.once("message", resolve));
  const closed = new Promise<number>((resolve) => socket.once("close", resolve));
  const query = "subscription { registryChanged { revision } }";
  socket.send(
    JSON.stringify({
      id: "big",
      type: "subscribe",
      payload: { query, variables: { padding: "x".repeat(bytes) } },
    }),
  );
  return { closeCode: await closed };
}

const aliases = (count: number) =>
  `{ ${Array.from({ length: count }, (_, i) => `a${i}: __typename`).join(" ")} }`;
const long = "x".repeat(10_000);
/** 52 levels of fields: serviceStatusChanged, 25 × (service, statusHistory), status. */
const deepSubscription = `subscription { serviceStatusChanged { ${"service { statusHistory { ".repeat(25)} status ${"} } ".repeat(25)} } }`;

/** A registration over GraphQL whose metadata nests `levels` deep, sent as raw JSON. */
const registerWithDeepMetadata = (levels: number) =>
  graphqlRaw(
    withDeep(
      {
        query: REGISTER,
        variables: { input: { ...baseInput, baseUrl: "http://h.test", metadata: "DEEP" } },
      },
      deepJson(levels),
    ),
  );

const rows: { name: string; send: () => Promise<Answer>; expected: Answer }[] = [
  {
    name: "metadata 5,000 levels deep in GraphQL variables",
    send: () => registerWithDeepMetadata(5000),
    expected: { code: "BAD_USER_INPUT", field: "$input" },
  },
  {
    name: "metadata 40 levels deep in GraphQL variables",
    send: () => registerWithDeepMetadata(40),
    expected: { code: "BAD_USER_INPUT", field: "$input.metadata" },
  },
  {
    name: "metadata of 17 KiB",
    send: () =>
      graphql(REGISTER, {
        input: { ...baseInput, baseUrl: "http://h.test", metadata: { pad: "x".repeat(17_000) } },
      }),
    expected: { code: "BAD_USER_INPUT", field: "input.metadata" },
  },
  {
    name: "metadata 5,000 levels deep over REST",
    send: () =>
      rest(
        "POST",
        "/registry/services",
        withDeep({ ...baseInput, base_url: "http://h.test", metadata: "DEEP" }, deepJson(5000)),
      ),
    expected: { status: 422, code: "BAD_USER_INPUT", field: "body" },
  },
  {
    name: "metadata 40 levels deep over REST",
    send: () =>
      rest(
        "POST",
        "/registry/services",
        withDeep({ ...baseInput, base_url: "http://h.test", metadata: "DEEP" }, deepJson(40)),
      ),
    // REST names the field as its body spells it.
    expected: { status: 422, code: "BAD_USER_INPUT", field: "metadata" },
  },
  {
    name: "metadata as a JSON literal 3,000 levels deep",
    send: () =>
      graphql(
        `mutation { registerService(input: { name: "h", type: "h", version: "1", baseUrl: "http://h.test", metadata: ${deepLiteral(3000)} }) { id } }`,
      ),
    expected: { code: "BAD_USER_INPUT" },
  },
  {
    name: "metadata as a JSON literal 40 levels deep",
    send: () =>
      graphql(
        `mutation { registerService(input: { name: "h", type: "h", version: "1", baseUrl: "http://h.test", metadata: ${deepLiteral(40)} }) { id } }`,
      ),
    expected: { code: "BAD_USER_INPUT" },
  },
  {
    name: "workflow data 5,000 levels deep",
    send: () =>
      graphqlRaw(
        withDeep(
          {
            query: EXECUTE,
            variables: { input: { workflowType: "PROJECT_PLANNING", data: "DEEP" } },
          },
          deepJson(5000),
        ),
      ),
    expected: { code: "BAD_USER_INPUT" },
  },
  {
    name: "workflow data 40 levels deep",
    send: () =>
      graphqlRaw(
        withDeep(
          {
            query: EXECUTE,
            variables: { input: { workflowType: "PROJECT_PLANNING", data: "DEEP" } },
          },
          deepJson(40),
        ),
      ),
    expected: { code: "BAD_USER_INPUT", field: "$input.data" },
  },
  {
    name: "workflow data 40 levels deep over REST",
    send: () =>
      rest(
        "POST",
        "/workflows/execute",
        withDeep({ workflow_type: "PROJECT_PLANNING", data: "DEEP" }, deepJson(40)),
      ),
    expected: { status: 422, code: "BAD_USER_INPUT", field: "data" },
  },
  {
    name: "a callService body 5,000 levels deep",
    send: () =>
      graphqlRaw(
        withDeep(
          {
            query: CALL,
            variables: {
              input: { serviceId: "svc-a", method: "POST", path: "/tasks", body: "DEEP" },
            },
          },
          deepJson(5000),
        ),
      ),
    expected: { code: "BAD_USER_INPUT" },
  },
  {
    name: "a callService body 40 levels deep",
    send: () =>
      graphqlRaw(
        withDeep(
          {
            query: CALL,
            variables: {
              input: { serviceId: "svc-a", method: "POST", path: "/tasks", body: "DEEP" },
            },
          },
          deepJson(40),
        ),
      ),
    expected: { code: "BAD_USER_INPUT", field: "$input.body" },
  },
  {
    name: "a 0.9 MB semver range",
    send: () =>
      graphql(`query($v: String) { searchServices(where: { version: $v }) { totalCount } }`, {
        v: ">=1.0.0 ".repeat(112_000),
      }),
    expected: { code: "BAD_USER_INPUT", field: "where.version" },
  },
  {
    name: "a 10,000-character name to search for",
    send: () =>
      graphql(
        `query($t: String) { searchServices(where: { name: { contains: $t } }) { totalCount } }`,
        { t: long },
      ),
    expected: { code: "BAD_USER_INPUT", field: "where.name.contains" },
  },
  {
    name: "a 10,000-character tag to search for",
    send: () =>
      graphql(
        `query($t: String!) { searchServices(where: { tags: { any: [$t] } }) { totalCount } }`,
        { t: long },
      ),
    expected: { code: "BAD_USER_INPUT", field: "where.tags.any.0" },
  },
  {
    name: "a 10,000-character metadata path",
    send: () =>
      graphql(
        `query($p: String!) { searchServices(where: { metadata: [{ path: $p, exists: true }] }) { totalCount } }`,
        { p: long },
      ),
    expected: { code: "BAD_USER_INPUT", field: "where.metadata.0.path" },
  },
  {
    name: "a 10,000-character type filter",
    send: () =>
      graphql(`query($t: String) { services(filter: { type: $t }) { totalCount } }`, { t: long }),
    expected: { code: "BAD_USER_INPUT", field: "filter.type" },
  },
  {
    name: "a 10,000-character capability over REST",
    send: () => rest("GET", `/discovery/services?capability=${long}`),
    expected: { status: 422, code: "BAD_USER_INPUT", field: "filter.capability" },
  },
  {
    name: "a 10,000-character type to pick an instance of",
    send: () => graphql(`query($t: String!) { serviceByType(type: $t) { id } }`, { t: long }),
    expected: { code: "BAD_USER_INPUT", field: "type" },
  },
  {
    name: "a search nested 20,000 levels deep in variables",
    send: () =>
      graphqlRaw(
        withDeep(
          {
            query: `query($w: ServiceWhere!) { searchServices(where: $w) { totalCount } }`,
            variables: { w: "DEEP" },
          },
          `${'{"not":'.repeat(20_000)}{"name":{"eq":"x"}}${"}".repeat(20_000)}`,
        ),
      ),
    expected: { code: "BAD_USER_INPUT", field: "$w" },
  },
  {
    name: "500 services × 500 events × 500 events of history",
    send: () =>
      graphql(
        `{ services(first: 500) { nodes { statusHistory(first: 500) { service { statusHistory(first: 500) { status } } } } } }`,
      ),
    expected: { code: "BAD_USER_INPUT" },
  },
  {
    name: "50,000 __typename aliases",
    send: () => graphql(aliases(50_000)),
    expected: { code: "BAD_USER_INPUT" },
  },
  {
    name: "101 aliases on the JSON fast path",
    send: () => graphql(aliases(101)),
    expected: { code: "BAD_USER_INPUT" },
  },
  {
    name: "101 aliases through yoga (a browser's request)",
    send: () =>
      graphqlRaw(JSON.stringify({ query: aliases(101) }), { origin: "http://dashboard.test" }),
    expected: { code: "BAD_USER_INPUT" },
  },
  {
    name: "101 aliases over graphql-ws",
    send: () => overWebSocket(aliases(101)),
    expected: { code: "BAD_USER_INPUT" },
  },
  {
    name: "a subscription 52 levels deep over graphql-ws",
    send: () => overWebSocket(deepSubscription),
    expected: { code: "BAD_USER_INPUT" },
  },
  {
    name: "a 20 MB graphql-ws message",
    send: () => oversizedWebSocketMessage(20 * 1024 * 1024),
    expected: { closeCode: 1009 },
  },
  {
    name: 'a service registered as "."',
    send: () => graphql(REGISTER, { input: { ...baseInput, id: ".", baseUrl: "http://h.test" } }),
    expected: { code: "BAD_USER_INPUT", field: "input.id" },
  },
  {
    name: 'a service registered as ".." over REST',
    send: () =>
      rest(
        "POST",
        "/registry/services",
        JSON.stringify({ ...baseInput, service_id: "..", base_url: "http://h.test" }),
      ),
    expected: { status: 422, code: "BAD_USER_INPUT", field: "service_id" },
  },
  {
    // Over REST no request can name ".." (URL parsing resolves it, encoded or not).
    name: 'a heartbeat of ".."',
    send: () => graphql(`mutation { heartbeat(id: "..") { id } }`),
    expected: { code: "BAD_USER_INPUT", field: "id" },
  },
];

/** Everything a client can read back of the stored registry (and executions). */
const FULL_READ = `{
  services(first: 50, filter: { includeOffline: true }) {
    totalCount
    nodes {
      id name type version baseUrl healthCheckUrl capabilities tags metadata status
      lastHeartbeat registeredAt updatedAt heartbeatIntervalSeconds ttlSeconds
      endpoints { path method }
      statusHistory(first: 20) { previousStatus status reason at }
    }
  }
  workflowExecutions(first: 20) { id status }
}`;

describe("hostile input", () => {
  let before: unknown;
  /** What clients read, and the durable rows behind it. */
  const fullRead = async () => ({
    api: dataOf(await gateway.graphql(FULL_READ)),
    durable: (await createRegistryRepository(gateway.database.db).loadAll()).sort((a, b) =>
      a.id.localeCompare(b.id),
    ),
  });

  beforeAll(async () => {
    gateway = await startGateway();
    for (const id of ["svc-a", "svc-b", "svc-c"]) {
      dataOf(
        await gateway.graphql(REGISTER, {
          input: {
            ...baseInput,
            id,
            baseUrl: `http://${id}.test`,
            tags: ["blue"],
            metadata: { region: "eu", limits: { rpm: 60 } },
            endpoints: [{ path: "/tasks", method: "POST" }],
          },
        }),
      );
    }
    dataOf(
      await gateway.graphql(
        `mutation { updateServiceStatus(id: "svc-b", status: MAINTENANCE) { id } }`,
      ),
    );
    before = await fullRead();
  });
  afterAll(() => gateway.stop());

  it.each(rows)("refuses $name", async ({ send, expected }) => {
    const started = performance.now();
    const answer = await answeredWithin(2 * ANSWER_BOUND_MS, send());
    const elapsed = performance.now() - started;
    expect(answer).toMatchObject(expected);
    expect(elapsed).toBeLessThan(ANSWER_BOUND_MS);
    expect(await fullRead()).toEqual(before);
  });

  it("still answers what a dashboard asks for", async () => {
    const dashboard = await gateway.graphql<{ services: { nodes: unknown[] } }>(`{
      services(first: 100) {
        totalCount
        pageInfo { hasNextPage endCursor }
        nodes {
          id name type version baseUrl status lastHeartbeat tags capabilities metadata
          health { status latencyMs checkedAt }
          circuitBreaker { state failureCount }
          statusHistory(first: 10) { previousStatus status reason at }
        }
      }
    }`);
    expect(dataOf(dashboard).services.nodes).toHaveLength(3);
    const live = await overWebSocket(
      `{ services(first: 100) { nodes { id statusHistory(first: 10) { status } } } }`,
    );
    expect(live).toEqual({ code: null });
  });
});

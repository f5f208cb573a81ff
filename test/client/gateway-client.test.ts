import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createGatewayClient,
  type GatewayClient,
  GatewayClientError,
  type RegistryEvent,
} from "../../src/client/index.js";
import { startUpstreamService, type UpstreamService } from "../fixtures/upstream-service.js";
import {
  dataOf,
  STANDARD_ADMIN_TOKEN,
  startGateway,
  type TestGateway,
  tokensMode,
} from "../helpers/gateway.js";
import { eventually } from "../helpers/wait.js";
import { startTcpProxy } from "./tcp-proxy.js";

const token = tokensMode ? STANDARD_ADMIN_TOKEN : undefined;
const REGISTER = `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`;
const DEFINE = `mutation($definition: JSON!) { registerWorkflowDefinition(definition: $definition) { type } }`;

let gateway: TestGateway;
let upstream: UpstreamService;
let client: GatewayClient;
let echoId: string;

async function register(type: string, baseUrl = "http://127.0.0.1:9"): Promise<string> {
  const input = {
    name: type,
    type,
    version: "1.0.0",
    baseUrl,
    endpoints: [{ path: "/hello", method: "GET" }],
  };
  return dataOf(await gateway.graphql<{ registerService: { id: string } }>(REGISTER, { input }))
    .registerService.id;
}

beforeAll(async () => {
  gateway = await startGateway();
  upstream = await startUpstreamService();
  upstream.answer({ status: 200, body: { hello: "world" } });
  client = createGatewayClient({ gatewayUrl: gateway.url, token });
  echoId = await register("echo", upstream.url);
});

afterAll(async () => {
  await client.close();
  await gateway.stop();
  await upstream.stop();
});

describe("createGatewayClient", () => {
  it("discovers and selects instances of a type", async () => {
    expect((await client.discover({ type: "echo" })).map((service) => service.id)).toEqual([
      echoId,
    ]);
    expect(await client.discover({ type: "echo", status: ["MAINTENANCE"] })).toEqual([]);
    expect(await client.selectInstance("echo")).toMatchObject({ id: echoId, type: "ECHO" });
    expect(await client.selectInstance("nobody_here")).toBeNull();
  });

  it("calls a service through the gateway", async () => {
    const result = await client.callService({ serviceType: "echo", path: "/hello" });
    expect(result).toMatchObject({ status: 200, body: { hello: "world" }, serviceId: echoId });
  });

  it("runs a workflow", async () => {
    dataOf(
      await gateway.graphql(DEFINE, {
        definition: {
          type: "sdk_greeting",
          steps: [{ id: "greet", serviceType: "echo", method: "GET", path: "/hello" }],
          output: { greeting: "{{steps.greet.output.hello}}" },
        },
      }),
    );
    const execution = await client.executeWorkflow({
      workflowType: "sdk_greeting",
      data: {},
      options: { wait: true, timeoutSeconds: 10 },
    });
    expect(execution).toMatchObject({ status: "COMPLETED", result: { greeting: "world" } });
  });

  it("throws a GatewayClientError with the gateway's code", async () => {
    const failure = await client
      .callService({ serviceId: "no-such-id", path: "/hello" })
      .catch((e) => e);
    expect(failure).toBeInstanceOf(GatewayClientError);
    expect(failure).toMatchObject({ code: "NOT_FOUND" });
  });

  it("receives subscription events", async () => {
    const events: RegistryEvent[] = [];
    const unsubscribe = client.subscribe<{ registryChanged: RegistryEvent }>(
      `subscription { registryChanged(type: "sub_test") { change revision service { id } } }`,
      {},
      { onNext: (data) => events.push(data.registryChanged) },
    );
    try {
      // The subscription starts asynchronously: register until one is seen.
      const ids: string[] = [];
      await eventually(async () => {
        ids.push(await register("sub_test"));
        expect(events.length).toBeGreaterThan(0);
      });
      expect(ids).toContain(events[0]?.service.id);
      expect(events[0]?.change).toBe("REGISTERED");
    } finally {
      unsubscribe();
    }
  });

  it("watchRegistry delivers what it missed while disconnected, then live events", async () => {
    const proxy = await startTcpProxy(gateway.url);
    const watcher = createGatewayClient({
      gatewayUrl: proxy.url,
      token,
      retryWait: () => new Promise((resolve) => setTimeout(resolve, 50)),
    });
    const events: RegistryEvent[] = [];
    const resyncs: number[] = [];
    const stop = watcher.watchRegistry({
      type: "watched",
      onEvent: (event) => events.push(event),
      onResync: (revision) => resyncs.push(revision),
    });
    try {
      const first: string[] = [];
      await eventually(async () => {
        first.push(await register("watched"));
        expect(events.length).toBeGreaterThan(0);
      });

      await proxy.down();
      const missed = await register("watched");
      await register("other_type");
      await proxy.up(gateway.url);

      await eventually(() => expect(events.map((event) => event.service.id)).toContain(missed));
      const live = await register("watched");
      await eventually(() => expect(events.map((event) => event.service.id)).toContain(live));

      const revisions = events.map((event) => event.revision);
      expect(revisions).toEqual([...new Set(revisions)].sort((a, b) => a - b));
      expect(events.every((event) => event.service.type === "WATCHED")).toBe(true);
      expect(resyncs).toEqual([]);
    } finally {
      stop();
      await watcher.close();
      await proxy.down();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startUpstreamService, type UpstreamService } from "../fixtures/upstream-service.js";
import {
  authHeaders,
  dataOf,
  errorCodeOf,
  startGateway,
  type TestGateway,
  wsConnectionParams,
} from "../helpers/gateway.js";
import { eventually } from "../helpers/wait.js";

/*
 * What a Prometheus scrape of /metrics shows after the gateway has done each kind of work
 * once: the families a dashboard (deploy/grafana/) is built on, with the labels it
 * filters by.
 */

type Sample = { labels: Record<string, string>; value: number };

/** The samples of one metric in Prometheus' text format. */
function samplesOf(text: string, name: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key as string] = value as string;
    }
    samples.push({ labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the one sample whose labels include `labels`; 0 when there is none. */
function sampleSum(text: string, name: string, labels: Record<string, string> = {}): number {
  const matching = samplesOf(text, name).filter((sample) =>
    Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  return matching.reduce((sum, sample) => sum + sample.value, 0);
}

const REGISTER = `mutation Register($input: RegisterServiceInput!) { registerService(input: $input) { id } }`;
const CALL = `mutation Call($input: CallServiceInput!) { callService(input: $input) { status } }`;
const DEFINE = `mutation Define($definition: JSON!) { registerWorkflowDefinition(definition: $definition) { type } }`;
const EXECUTE = `mutation Execute($input: ExecuteWorkflowInput!) { executeWorkflow(input: $input) { status } }`;
const SUBSCRIPTION = "subscription Watch { registryChanged { change } }";

describe("/metrics", () => {
  let gateway: TestGateway;
  let upstream: UpstreamService;
  const sockets: WebSocket[] = [];
  const streams: AbortController[] = [];

  beforeAll(async () => {
    upstream = await startUpstreamService();
    gateway = await startGateway({ breakers: { failureThreshold: 2 } });
  });
  afterAll(async () => {
    for (const socket of sockets) socket.terminate();
    for (const stream of streams) stream.abort();
    await gateway.stop();
    await upstream.stop();
  });

  const scrape = async () =>
    (await fetch(`${gateway.url}/metrics`, { headers: authHeaders() })).text();

  it("counts heartbeats, probes, calls, breaker transitions, workflows and round trips", async () => {
    for (const id of ["metered-1", "metered-2"]) {
      dataOf(
        await gateway.graphql(REGISTER, {
          input: { id, name: id, type: "metered", version: "1.0.0", baseUrl: upstream.url },
        }),
      );
    }
    dataOf(await gateway.graphql(`mutation Beat { heartbeat(id: "metered-1") { id } }`));
    expect(
      errorCodeOf(await gateway.graphql(`mutation Lost { heartbeat(id: "nobody") { id } }`)),
    ).toBe("NOT_FOUND");
    dataOf(await gateway.graphql(`query Probe { checkServiceHealth(id: "metered-1") { status } }`));

    dataOf(
      await gateway.graphql(CALL, {
        input: { serviceType: "metered", method: "GET", path: "/ok" },
      }),
    );
    // Two 500s open metered-2's breaker (failureThreshold 2).
    upstream.answer({ status: 500, body: { error: "broken" } });
    for (let i = 0; i < 2; i++) {
      await gateway.graphql(CALL, {
        input: { serviceId: "metered-2", method: "POST", path: "/x" },
      });
    }
    upstream.answer({ status: 200, body: { ok: true } });

    dataOf(
      await gateway.graphql(DEFINE, {
        definition: {
          type: "metered_flow",
          steps: [{ id: "only", serviceType: "metered", method: "GET", path: "/step" }],
        },
      }),
    );
    expect(
      dataOf(
        await gateway.graphql<{ executeWorkflow: { status: string } }>(EXECUTE, {
          input: {
            workflowType: "metered_flow",
            data: {},
            options: { wait: true, timeoutSeconds: 30 },
          },
        }),
      ).executeWorkflow.status,
    ).toBe("COMPLETED");
    // A document that does not validate.
    await gateway.graphql("query Broken { noSuchField }");

    const text = await scrape();
    expect(sampleSum(text, "sig_heartbeats_total", { outcome: "ok" })).toBe(1);
    expect(sampleSum(text, "sig_heartbeats_total", { outcome: "not_found" })).toBe(1);
    expect(sampleSum(text, "sig_health_probes_total", { outcome: "healthy" })).toBe(1);
    expect(sampleSum(text, "sig_health_probe_duration_seconds_count")).toBe(1);
    expect(sampleSum(text, "sig_services", { type: "METERED", status: "ONLINE" })).toBe(2);
    expect(
      sampleSum(text, "sig_service_status_changes_total", { from: "none", to: "ONLINE" }),
    ).toBe(2);

    // The workflow's step is a call too.
    expect(sampleSum(text, "sig_service_calls_total", { type: "METERED", outcome: "2xx" })).toBe(2);
    // A 5xx the instance kept answering is the call's error, by its code.
    expect(
      sampleSum(text, "sig_service_calls_total", { type: "METERED", outcome: "UPSTREAM_ERROR" }),
    ).toBe(2);
    expect(sampleSum(text, "sig_service_calls_total", { type: "METERED" })).toBe(4);
    expect(sampleSum(text, "sig_service_call_duration_seconds_count", { type: "METERED" })).toBe(4);
    expect(
      sampleSum(text, "sig_circuit_breaker_transitions_total", { from: "CLOSED", to: "OPEN" }),
    ).toBe(1);
    expect(
      sampleSum(text, "sig_circuit_breaker_state", { service_id: "metered-2", state: "OPEN" }),
    ).toBe(1);
    expect(sampleSum(text, "sig_circuit_breakers", { state: "OPEN" })).toBe(1);

    const flow = { workflow: "METERED_FLOW" };
    expect(sampleSum(text, "sig_workflow_executions_started_total", flow)).toBe(1);
    expect(sampleSum(text, "sig_workflow_executions_total", { ...flow, status: "COMPLETED" })).toBe(
      1,
    );
    expect(sampleSum(text, "sig_workflow_execution_duration_seconds_count", flow)).toBe(1);
    expect(sampleSum(text, "sig_workflow_steps_total", { ...flow, status: "COMPLETED" })).toBe(1);

    expect(
      sampleSum(text, "sig_graphql_operations_total", {
        type: "mutation",
        name: "Register",
        outcome: "ok",
      }),
    ).toBe(2);
    expect(
      sampleSum(text, "sig_graphql_operations_total", { name: "Lost", outcome: "NOT_FOUND" }),
    ).toBe(1);
    expect(
      sampleSum(text, "sig_graphql_operations_total", { outcome: "GRAPHQL_VALIDATION_FAILED" }),
    ).toBe(1);
    expect(
      sampleSum(text, "sig_graphql_operation_duration_seconds_count", { name: "Register" }),
    ).toBe(2);

    // Round trips to the live store and the database, by operation.
    expect(
      sampleSum(text, "sig_registry_store_duration_seconds_count", { operation: "heartbeat" }),
    ).toBe(2);
    expect(
      sampleSum(text, "sig_database_duration_seconds_count", { operation: "registry.saveMany" }),
    ).toBeGreaterThan(0);
    expect(
      sampleSum(text, "sig_database_duration_seconds_count", { operation: "workflows.saveStep" }),
    ).toBeGreaterThan(0);
    expect(samplesOf(text, "nodejs_eventloop_lag_p99_seconds")).toHaveLength(1);
  });

  it("shows open WebSocket connections and subscriptions, over graphql-ws and SSE", async () => {
    const socket = new WebSocket(`${gateway.url.replace("http", "ws")}/graphql`, [
      "graphql-transport-ws",
    ]);
    sockets.push(socket);
    const subscribed = new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.once("open", () =>
        socket.send(JSON.stringify({ type: "connection_init", payload: wsConnectionParams() })),
      );
      socket.on("message", (raw) => {
        const message = JSON.parse(String(raw)) as { type: string };
        if (message.type !== "connection_ack") return;
        socket.send(
          JSON.stringify({ id: "1", type: "subscribe", payload: { query: SUBSCRIPTION } }),
        );
        resolve();
      });
    });
    await subscribed;

    const sse = new AbortController();
    streams.push(sse);
    const response = await fetch(`${gateway.url}/graphql`, {
      method: "POST",
      headers: {
        ...authHeaders(),
        "content-type": "application/json",
        accept: "text/event-stream",
      },
      body: JSON.stringify({ query: SUBSCRIPTION }),
      signal: sse.signal,
    });
    expect(response.status).toBe(200);

    const open = await eventually(async () => {
      const text = await scrape();
      expect(sampleSum(text, "sig_graphql_subscriptions", { transport: "ws" })).toBe(1);
      return text;
    });
    expect(sampleSum(open, "sig_websocket_connections", { endpoint: "graphql" })).toBe(1);
    expect(sampleSum(open, "sig_websocket_connections", { endpoint: "federation" })).toBe(0);
    expect(
      sampleSum(open, "sig_graphql_subscriptions", { endpoint: "graphql", transport: "sse" }),
    ).toBe(1);

    socket.close();
    sse.abort();
    await eventually(async () => {
      const text = await scrape();
      expect(sampleSum(text, "sig_websocket_connections", { endpoint: "graphql" })).toBe(0);
      expect(sampleSum(text, "sig_graphql_subscriptions", { transport: "ws" })).toBe(0);
      expect(sampleSum(text, "sig_graphql_subscriptions", { transport: "sse" })).toBe(0);
    });
  });
});

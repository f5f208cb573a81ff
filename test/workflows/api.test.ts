import { createClient } from "graphql-ws";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type PlatformServices, startPlatformServices } from "../fixtures/platform-services.js";
import { startUpstreamService, type UpstreamService } from "../fixtures/upstream-service.js";
import { observedEvents } from "../helpers/events.js";
import { dataOf, errorCodeOf, startGateway, type TestGateway } from "../helpers/gateway.js";
import { deferred } from "../helpers/wait.js";

const ADMIN_TOKEN = "admin-token-for-workflow-tests";
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const OPERATOR_TOKEN = "operator-token-for-workflow-tests";
const REGISTER = `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`;
const DEFINE = `mutation($definition: JSON!) { registerWorkflowDefinition(definition: $definition) { type version } }`;
const EXECUTE = `mutation($input: ExecuteWorkflowInput!) {
  executeWorkflow(input: $input) { id status result errors steps { id status output startedAt finishedAt } } }`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Execution = {
  id: string;
  status: string;
  result: unknown;
  errors: string[];
  steps: { id: string; status: string; output: unknown; startedAt: string; finishedAt: string }[];
};

/** A user's workflow: two independent calls, then one that reads both. */
const fanIn = {
  type: "fan_in",
  description: "Two lookups in parallel, then a summary.",
  input: { required: ["name"] },
  steps: [
    {
      id: "left",
      serviceType: "echo",
      method: "GET",
      path: "/left/{{input.name}}",
      output: "{{response}}",
    },
    {
      id: "right",
      serviceType: "echo",
      method: "GET",
      path: "/right",
      query: { n: "{{input.name}}" },
    },
    {
      id: "summary",
      serviceType: "echo",
      method: "POST",
      path: "/summary",
      dependsOn: ["left", "right"],
      body: {
        left: "{{steps.left.output}}",
        right: "{{steps.right.output}}",
        count: "{{ 1 + 1 }}",
      },
    },
  ],
  output: { name: "{{input.name}}", summary: "{{steps.summary.output}}" },
};

/** How often quick_poll polls: short, so that ten intervals of silence cost half a second. */
const POLL_INTERVAL_MS = 50;

/** Starts an execution on the agent orchestrator and polls it until it ends. */
const quickPoll = {
  type: "quick_poll",
  steps: [
    {
      id: "start",
      serviceType: "AGENT_ORCHESTRATOR",
      method: "POST",
      path: "/executions",
      output: { execution_id: "{{response.execution_id}}" },
    },
    {
      id: "monitor",
      serviceType: "AGENT_ORCHESTRATOR",
      method: "GET",
      path: "/executions/{{steps.start.output.execution_id}}",
      dependsOn: ["start"],
      poll: {
        intervalMs: POLL_INTERVAL_MS,
        until: "{{response.status}}",
        in: ["COMPLETED"],
        maxAttempts: 1_000_000,
      },
    },
  ],
};

describe("workflows through GraphQL", () => {
  const observed = observedEvents();
  let gateway: TestGateway;
  let echo: UpstreamService;
  let platform: PlatformServices | null = null;

  beforeAll(async () => {
    echo = await startUpstreamService();
    gateway = await startGateway({
      adminToken: ADMIN_TOKEN,
      tokens: [{ secret: OPERATOR_TOKEN, role: "operator", name: "operator", serviceTypes: null }],
      events: observed.events,
    });
    dataOf(
      await gateway.graphql(REGISTER, {
        input: { id: "echo-1", name: "echo", type: "echo", version: "1.0.0", baseUrl: echo.url },
      }),
    );
  });
  afterAll(async () => {
    await gateway.stop();
    await echo.stop();
  });
  afterEach(async () => {
    echo.reset();
    await platform?.stop();
    platform = null;
  });

  const execute = (input: Record<string, unknown>) =>
    gateway.graphql<{ executeWorkflow: Execution }>(EXECUTE, { input });

  it("runs a registered definition: independent steps overlap, the last reads both", async () => {
    // Definitions call any path of any service: an admin's, not an operator's.
    const operator = { authorization: `Bearer ${OPERATOR_TOKEN}` };
    expect(errorCodeOf(await gateway.graphql(DEFINE, { definition: fanIn }, operator))).toBe(
      "FORBIDDEN",
    );
    expect(dataOf(await gateway.graphql(DEFINE, { definition: fanIn }, admin))).toEqual({
      registerWorkflowDefinition: { type: "FAN_IN", version: 1 },
    });
    echo.answer({ status: 200, body: { ok: true }, delayMs: 200 });
    const execution = dataOf(
      await execute({
        workflowType: "fan_in",
        data: { name: "a b" },
        options: { wait: true, timeoutSeconds: 30 },
      }),
    ).executeWorkflow;
    expect(execution).toMatchObject({
      status: "COMPLETED",
      result: { name: "a b", summary: { ok: true } },
    });
    const [left, right] = ["left", "right"].map(
      (id) => execution.steps.find((step) => step.id === id) as Execution["steps"][0],
    ) as [Execution["steps"][0], Execution["steps"][0]];
    expect(Date.parse(left.startedAt)).toBeLessThan(Date.parse(right.finishedAt));
    expect(Date.parse(right.startedAt)).toBeLessThan(Date.parse(left.finishedAt));
    const paths = echo.received.map((request) => `${request.method} ${request.url}`);
    expect(paths).toContain("GET /left/a%20b");
    expect(paths).toContain("GET /right?n=a+b");
    expect(JSON.parse(echo.received.find((r) => r.url === "/summary")?.body ?? "")).toEqual({
      left: { ok: true },
      right: { ok: true },
      count: 2,
    });
  });

  it("versions definitions: a changed one is the next version, the same one is not", async () => {
    const changed = { ...fanIn, description: "changed" };
    expect(dataOf(await gateway.graphql(DEFINE, { definition: changed }, admin))).toEqual({
      registerWorkflowDefinition: { type: "FAN_IN", version: 2 },
    });
    expect(dataOf(await gateway.graphql(DEFINE, { definition: changed }, admin))).toEqual({
      registerWorkflowDefinition: { type: "FAN_IN", version: 2 },
    });
    const listed = dataOf(
      await gateway.graphql<{ workflowDefinitions: { type: string; version: number }[] }>(
        `{ workflowDefinitions { type version } }`,
      ),
    ).workflowDefinitions;
    expect(listed).toEqual(
      expect.arrayContaining([
        { type: "AGENT_TASK_EXECUTION", version: 1 },
        { type: "PROJECT_PLANNING", version: 1 },
        { type: "FAN_IN", version: 2 },
      ]),
    );
  });

  it("rejects bad definitions with BAD_USER_INPUT naming the field", async () => {
    const step = { id: "a", serviceType: "echo", path: "/a" };
    for (const [definition, field, message] of [
      [{ type: "x", steps: [] }, "definition.steps", /at least|too small|>=1/i],
      [
        { type: "x", steps: [{ ...step, dependsOn: ["nope"] }] },
        "definition.steps.0.dependsOn",
        /unknown step "nope"/,
      ],
      [
        {
          type: "x",
          steps: [
            { ...step, dependsOn: ["b"] },
            { id: "b", serviceType: "echo", path: "/b", dependsOn: ["a"] },
          ],
        },
        "definition.steps",
        /cycle: a → b → a|cycle: b → a → b/,
      ],
      [{ type: "x", steps: [step, { ...step }] }, "definition.steps.1.id", /used twice/],
      [
        {
          type: "x",
          steps: [step, { id: "b", serviceType: "echo", path: "/b/{{steps.a.output.id}}" }],
        },
        "definition.steps.1.path",
        /does not depend on/,
      ],
      [
        { type: "x", steps: [{ ...step, body: "{{ 1 + }}" }] },
        "definition.steps.0.body",
        /\{\{ 1 \+ \}\}/,
      ],
      [
        { type: "x", steps: [{ ...step, poll: { until: "{{response.s}}", in: ["DONE"] } }] },
        "definition.steps.0.poll",
        /bounded/,
      ],
      [{ type: "x", steps: [{ ...step, method: "BREW" }] }, "definition.steps.0.method", /one of/],
      [
        { type: "x", steps: [{ ...step, retry: { maxAttempts: 2, on: [404, "sometimes"] } }] },
        "definition.steps.0.retry.on.1",
        /"5xx", "network" or "timeout"/,
      ],
      [
        { type: "x", steps: [{ ...step, retry: { maxAttempts: 2, on: [200] } }] },
        "definition.steps.0.retry.on.0",
        />=400/,
      ],
    ] as const) {
      const response = await gateway.graphql(DEFINE, { definition }, admin);
      expect(errorCodeOf(response), JSON.stringify(definition)).toBe("BAD_USER_INPUT");
      expect(response.errors?.[0]?.extensions?.field).toBe(field);
      expect(response.errors?.[0]?.message).toMatch(message);
    }
  });

  it("records answers PostgreSQL could not store as they are (NUL, lone surrogates)", async () => {
    echo.answer({ status: 200, body: { note: "a\u0000b\ud800c" } });
    const execution = dataOf(
      await execute({ workflowType: "fan_in", data: { name: "n" }, options: { wait: true } }),
    ).executeWorkflow;
    expect(execution.errors).toEqual([]);
    expect(execution.status).toBe("COMPLETED");
    expect(execution.steps.find((step) => step.id === "left")?.output).toEqual({
      note: "ab\ufffdc",
    });
  });

  it("rejects an unknown type and missing input, and starts nothing", async () => {
    const unknown = await execute({ workflowType: "NOPE", data: {} });
    expect(errorCodeOf(unknown)).toBe("BAD_USER_INPUT");
    expect(unknown.errors?.[0]?.extensions?.field).toBe("workflowType");
    const missing = await gateway.graphql(`mutation { executeWorkflow(input: {
      workflowType: "AGENT_TASK_EXECUTION", data: { task_id: "t" } }) { id } }`);
    expect(errorCodeOf(missing)).toBe("BAD_USER_INPUT");
    expect(missing.errors?.[0]?.extensions?.field).toBe("data.agent_id");
  });

  it("returns the first execution again for the same idempotency key", async () => {
    const input = {
      workflowType: "FAN_IN",
      data: { name: "x" },
      options: { idempotencyKey: "order-42" },
    };
    const first = dataOf(await execute(input)).executeWorkflow;
    const second = dataOf(await execute(input)).executeWorkflow;
    expect(second.id).toBe(first.id);
    const listed = dataOf(
      await gateway.graphql<{ workflowExecutions: { id: string }[] }>(
        `{ workflowExecutions(workflowType: "fan_in", first: 100) { id } }`,
      ),
    ).workflowExecutions;
    expect(listed.filter((execution) => execution.id === first.id)).toHaveLength(1);
  });

  describe("a step's retries", () => {
    const STEPS = `query($id: ID!) { workflowExecution(id: $id) {
      status errors steps { id status attempt error calls } } }`;
    type Ran = {
      status: string;
      errors: string[];
      steps: {
        id: string;
        status: string;
        attempt: number;
        calls: { serviceId: string; status: number; instancesTried: string[] }[];
      }[];
    };
    let version = 0;
    /** Defines `lookup`: one step that GETs /thing from echo, with the retry given. */
    const runLookup = async (retry: Record<string, unknown>) => {
      version += 1;
      dataOf(
        await gateway.graphql(
          DEFINE,
          {
            definition: {
              type: "lookup",
              description: `retries, take ${version}`,
              steps: [{ id: "get", serviceType: "echo", path: "/thing", retry }],
            },
          },
          admin,
        ),
      );
      const { id } = dataOf(
        await execute({ workflowType: "lookup", data: {}, options: { wait: true } }),
      ).executeWorkflow;
      return dataOf(await gateway.graphql<{ workflowExecution: Ran }>(STEPS, { id }))
        .workflowExecution;
    };

    it("fails at once on a 404: an answer, not a fault", async () => {
      echo.answer({ status: 404, body: { detail: "no such thing" } });
      const ran = await runLookup({ maxAttempts: 3, backoffMs: 1 });
      expect(ran.status).toBe("FAILED");
      expect(ran.errors[0]).toMatch(/answered HTTP 404 from echo-1/);
      expect(echo.received).toHaveLength(1);
      expect(ran.steps[0]).toMatchObject({ status: "FAILED", attempt: 1 });
      expect(ran.steps[0]?.calls).toMatchObject([
        { serviceId: "echo-1", status: 404, instancesTried: ["echo-1"] },
      ]);
    });

    it("retries a 404 that retry.on lists", async () => {
      echo.queue({ status: 404 }, { status: 404 });
      const ran = await runLookup({ maxAttempts: 3, backoffMs: 1, on: [404] });
      expect(ran.status).toBe("COMPLETED");
      expect(echo.received).toHaveLength(3);
      expect(ran.steps[0]?.attempt).toBe(3);
      expect(ran.steps[0]?.calls.map((call) => call.status)).toEqual([404, 404, 200]);
    });

    it("retries a 5xx by default, and records it as the status it was", async () => {
      // Each attempt of the step is a call with its own three tries (one instance).
      echo.queue({ status: 503 }, { status: 503 }, { status: 503 });
      const ran = await runLookup({ maxAttempts: 2, backoffMs: 1 });
      expect(ran.status).toBe("COMPLETED");
      expect(echo.received).toHaveLength(4);
      expect(ran.steps[0]?.calls).toMatchObject([
        { serviceId: "echo-1", status: 503, instancesTried: ["echo-1"] },
        { serviceId: "echo-1", status: 200, instancesTried: ["echo-1"] },
      ]);
    });

    it("does not retry a 5xx that a retry.on of its own leaves out", async () => {
      echo.answer({ status: 503 });
      const ran = await runLookup({ maxAttempts: 3, backoffMs: 1, on: [404, "timeout"] });
      expect(ran.status).toBe("FAILED");
      expect(ran.steps[0]?.attempt).toBe(1);
      expect(echo.received).toHaveLength(3);
    });
  });

  it("streams every execution of a type from its start, for a list kept live", async () => {
    const single = (type: string) => ({
      type,
      steps: [{ id: "only", serviceType: "echo", method: "GET", path: "/only" }],
    });
    for (const type of ["listed_one", "unlisted_one"]) {
      dataOf(await gateway.graphql(DEFINE, { definition: single(type) }, admin));
    }
    echo.answer({ status: 200, body: { ok: true } });
    const client = createClient({
      url: `${gateway.url.replace("http", "ws")}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: admin,
    });
    const listening = observed.nextSubscriber("workflow.updated");
    const updates = client.iterate<{
      workflowExecutionsChanged: { id: string; workflowType: string; status: string };
    }>({
      query: `subscription { workflowExecutionsChanged(workflowType: "listed_one") { id workflowType status } }`,
    });
    const seen: string[] = [];
    const ended = new Set<string>();
    const collecting = (async () => {
      for await (const update of updates) {
        const execution = update.data?.workflowExecutionsChanged;
        if (!execution) continue;
        seen.push(`${execution.id}:${execution.workflowType}:${execution.status}`);
        if (execution.status === "COMPLETED") ended.add(execution.id);
        if (ended.size === 2) break;
      }
    })();
    await listening;
    const options = { wait: true, timeoutSeconds: 30 };
    dataOf(await execute({ id: "unlisted-a", workflowType: "unlisted_one", data: {}, options }));
    dataOf(await execute({ id: "listed-a", workflowType: "listed_one", data: {}, options }));
    dataOf(await execute({ id: "listed-b", workflowType: "listed_one", data: {}, options }));
    await collecting;
    await client.dispose();
    // Each from its first update (its start) to COMPLETED; the other type's not at all.
    for (const id of ["listed-a", "listed-b"]) {
      const own = seen.filter((entry) => entry.startsWith(`${id}:`));
      expect(own[0]).toMatch(new RegExp(`^${id}:LISTED_ONE:(PENDING|RUNNING)$`));
      expect(own.at(-1)).toBe(`${id}:LISTED_ONE:COMPLETED`);
    }
    expect(seen.some((entry) => entry.startsWith("unlisted-a:"))).toBe(false);
  });

  it("streams every change of an execution, and no poll reaches the service once it is cancelled", async () => {
    // The second poll is held until the cancel has landed: then no poll is on its way
    // when it does, and every poll after it would be one too many.
    const secondPoll = deferred();
    const answerSecondPoll = deferred();
    platform = await startPlatformServices({
      pollsBeforeEnd: 1_000_000,
      onPoll: async (_id, seen) => {
        if (seen !== 2) return;
        secondPoll.resolve();
        await answerSecondPoll.promise;
      },
    });
    for (const service of platform.registrations()) {
      dataOf(
        await gateway.graphql(REGISTER, { input: { ...service, name: service.id, version: "1" } }),
      );
    }
    dataOf(await gateway.graphql(DEFINE, { definition: quickPoll }, admin));
    const client = createClient({
      url: `${gateway.url.replace("http", "ws")}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: admin,
    });
    const listening = observed.nextSubscriber("workflow.updated");
    const updates = client.iterate<{
      workflowExecutionUpdated: { status: string; steps: { id: string; status: string }[] };
    }>({
      query: `subscription { workflowExecutionUpdated(id: "watched-1") { status steps { id status } } }`,
    });
    const seen: string[] = [];
    const collecting = (async () => {
      for await (const update of updates) {
        const execution = update.data?.workflowExecutionUpdated;
        if (!execution) continue;
        seen.push(
          `${execution.status}:${execution.steps.map((s) => `${s.id}=${s.status}`).join(",")}`,
        );
        if (execution.status === "CANCELLED") break;
      }
    })();
    await listening;
    dataOf(await execute({ id: "watched-1", workflowType: "quick_poll", data: {} }));
    await secondPoll.promise;
    const cancelled = dataOf(
      await gateway.graphql<{ cancelWorkflow: { status: string } }>(
        `mutation { cancelWorkflow(id: "watched-1") { status } }`,
      ),
    ).cancelWorkflow;
    expect(cancelled.status).toBe("CANCELLED");
    answerSecondPoll.resolve();
    expect(platform.polls.get("exec-1")).toBe(2);
    // Real time on purpose: that nothing more happens can only be shown by waiting, here
    // ten poll intervals, in which a workflow still polling would poll again.
    await sleep(10 * POLL_INTERVAL_MS);
    expect(platform.polls.get("exec-1")).toBe(2);
    await collecting;
    await client.dispose();
    expect(seen).toContain("RUNNING:start=COMPLETED,monitor=RUNNING");
    expect(seen.at(-1)).toMatch(/^CANCELLED:/);
    expect(
      errorCodeOf(await gateway.graphql(`mutation { cancelWorkflow(id: "nope") { id } }`)),
    ).toBe("NOT_FOUND");
  });
});

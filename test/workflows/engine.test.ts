import { describe, expect, it } from "vitest";
import type { JsonValue } from "../../src/domain/json.js";
import type {
  StepRequest,
  StepResponse,
  WorkflowExecution,
  WorkflowStepState,
} from "../../src/domain/workflow.js";
import { parseDefinition } from "../../src/workflows/definition.js";
import { runExecution } from "../../src/workflows/engine.js";
import { compileTemplate, render } from "../../src/workflows/template.js";

const execution = (data: JsonValue = {}): WorkflowExecution => ({
  id: "e1",
  workflowType: "T",
  definitionVersion: 1,
  status: "RUNNING",
  data,
  options: {},
  result: null,
  errors: [],
  idempotencyKey: null,
  startedAt: new Date().toISOString(),
  finishedAt: null,
  executionTimeMs: null,
  deadlineAt: null,
  updatedAt: new Date().toISOString(),
});

/** The engine over a fake service: `answer` decides each call; rows are kept in memory. */
function harness(answer: (request: StepRequest) => Promise<JsonValue> | JsonValue) {
  const rows = new Map<string, WorkflowStepState>();
  const calls: StepRequest[] = [];
  const deps = {
    call: async (request: StepRequest): Promise<StepResponse> => {
      calls.push(request);
      return {
        status: 200,
        body: await answer(request),
        serviceId: "s1",
        attempts: 1,
        instancesTried: ["s1"],
        durationMs: 1,
      };
    },
    save: async (row: WorkflowStepState) => {
      rows.set(row.stepId, structuredClone(row));
    },
  };
  const run = (definition: unknown, data: JsonValue = {}, recorded: WorkflowStepState[] = []) =>
    runExecution(
      execution(data),
      parseDefinition(definition),
      recorded,
      deps,
      new AbortController().signal,
    );
  return { rows, calls, run };
}

describe("workflow engine", () => {
  it("lets a call in flight finish before compensating, and undoes what it did", async () => {
    const { rows, calls, run } = harness(async (request) => {
      // A call still in flight when another step fails: its length is the point.
      if (request.path === "/slow") await new Promise((resolve) => setTimeout(resolve, 600));
      if (request.path === "/boom") throw new Error("HTTP 500");
      return { id: request.path.slice(1) };
    });
    const end = await run({
      type: "t",
      steps: [
        {
          id: "slow",
          serviceType: "s",
          method: "POST",
          path: "/slow",
          compensate: { method: "DELETE", path: "/undo/{{output.id}}" },
        },
        { id: "boom", serviceType: "s", method: "POST", path: "/boom" },
      ],
    });
    // `boom` failed while `slow` was in flight; `slow` completed, then was undone.
    expect(end.status).toBe("COMPENSATED");
    expect(rows.get("slow")?.status).toBe("COMPLETED");
    expect(calls.map((call) => `${call.method} ${call.path}`)).toEqual([
      "POST /slow",
      "POST /boom",
      "DELETE /undo/slow",
    ]);
  });

  it("fails a step at its deadline, ending its waits at once", async () => {
    const { rows, calls, run } = harness(() => ({ state: "RUNNING" }));
    const started = Date.now();
    const end = await run({
      type: "t",
      steps: [
        {
          id: "wait",
          serviceType: "s",
          path: "/state",
          timeoutSeconds: 1,
          poll: { until: "{{response.state}}", in: ["DONE"], intervalMs: 5000, maxAttempts: 10 },
        },
      ],
    });
    expect(end).toMatchObject({ status: "FAILED", errors: ["step wait timed out after 1 s"] });
    expect(Date.now() - started).toBeLessThan(4000);
    expect(rows.get("wait")?.status).toBe("FAILED");
    expect(calls).toHaveLength(1);
  });

  it("fails a step whose output cannot be computed without calling again", async () => {
    const { calls, run } = harness(() => ({ amount: "not a number" }));
    const end = await run({
      type: "t",
      steps: [
        {
          id: "charge",
          serviceType: "s",
          method: "POST",
          path: "/charges",
          retry: { maxAttempts: 3, backoffMs: 1 },
          output: "{{ $number(response.amount) }}",
        },
      ],
    });
    expect(end.status).toBe("FAILED");
    expect(end.errors[0]).toMatch(/step charge failed: output: /);
    expect(calls).toHaveLength(1);
  });

  it("does not run again an item that had failed for good before a resume", async () => {
    const { calls, run } = harness(() => ({ ok: true }));
    const failedItem: WorkflowStepState = {
      executionId: "e1",
      stepId: "each[1]",
      name: "each [1]",
      serviceType: "S",
      serviceId: "s1",
      status: "FAILED",
      attempt: 1,
      startedAt: new Date().toISOString(),
      finishedAt: new Date().toISOString(),
      durationMs: 1,
      output: null,
      error: "HTTP 500",
      calls: [],
    };
    const end = await run(
      {
        type: "t",
        steps: [
          {
            id: "each",
            serviceType: "s",
            path: "/x/{{item}}",
            forEach: { items: "{{input.list}}" },
          },
        ],
      },
      { list: ["a", "b", "c"] },
      [failedItem],
    );
    expect(end.status).toBe("FAILED");
    expect(end.errors[0]).toMatch(/step each\[1\] failed: HTTP 500/);
    expect(calls.map((call) => call.path)).not.toContain("/x/b");
  });

  it("keeps forEach items and their undos under the ids a resume reads", async () => {
    const { rows, calls, run } = harness((request) => {
      if (request.path === "/boom") throw new Error("HTTP 500");
      return { ok: true };
    });
    const definition = {
      type: "t",
      steps: [
        {
          id: "each",
          serviceType: "s",
          method: "POST",
          path: "/x/{{item}}",
          forEach: { items: "{{input.list}}", concurrency: 1 },
          compensate: { method: "DELETE", path: "/x/{{index}}" },
        },
        { id: "boom", serviceType: "s", method: "POST", path: "/boom", dependsOn: ["each"] },
      ],
    };
    const end = await run(definition, { list: ["a", "b"] });
    expect(end.status).toBe("COMPENSATED");
    expect([...rows.keys()].sort()).toEqual([
      "boom",
      "each",
      "each[0]",
      "each[0].compensate",
      "each[1]",
      "each[1].compensate",
    ]);
    expect(calls.map((call) => `${call.method} ${call.path}`).slice(-2)).toEqual([
      "DELETE /x/1",
      "DELETE /x/0",
    ]);
    // Resumed from those rows, nothing is called again: every undo is already made.
    calls.length = 0;
    const resumed = await run(definition, { list: ["a", "b"] }, [...rows.values()]);
    expect(resumed.status).toBe("COMPENSATED");
    expect(calls).toEqual([]);
  });

  it("fans out over one match or none as over a list", async () => {
    const { calls, run } = harness(() => ({ ok: true }));
    const definition = {
      type: "t",
      steps: [
        {
          id: "each",
          serviceType: "s",
          path: "/x/{{item}}",
          forEach: { items: "{{ input.tasks[kind = 'a'].id }}" },
        },
      ],
    };
    expect(
      (
        await run(definition, {
          tasks: [
            { id: "1", kind: "a" },
            { id: "2", kind: "b" },
          ],
        })
      ).status,
    ).toBe("COMPLETED");
    expect(calls.map((call) => call.path)).toEqual(["/x/1"]);
    expect((await run(definition, { tasks: [] })).status).toBe("COMPLETED");
  });

  it("reads templates as JSONata does, plain paths included", async () => {
    const context = { input: { orders: [{ id: 1 }, { id: 2 }], name: "x", n: 0 } };
    const value = async (source: string) => render(compileTemplate(source, "t"), context);
    expect(await value("{{true}}")).toBe(true);
    expect(await value("{{null}}")).toBe(null);
    expect(await value("{{input.orders}}")).toEqual([{ id: 1 }, { id: 2 }]);
    expect(await value("{{input.orders.id}}")).toEqual([1, 2]);
    expect(await value("{{input.n}}")).toBe(0);
    expect(await value("{{input.constructor}}")).toBe(null);
    expect(await value("{{$.input.name}}")).toBe("x");
    expect(await value("{{ $uppercase }}")).toBe(null);
    expect(await value("n={{input.n}}, {{input.missing}}!")).toBe("n=0, !");
  });
});

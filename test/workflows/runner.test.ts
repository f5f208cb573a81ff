import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createWorkflowRepository } from "../../src/db/workflows.js";
import { GatewayError } from "../../src/domain/errors.js";
import type { WorkflowExecution } from "../../src/domain/workflow.js";
import { parseDefinition } from "../../src/workflows/definition.js";
import { createWorkflowRunner } from "../../src/workflows/runner.js";
import { migratedPglite } from "../helpers/database.js";

describe("workflow runner", () => {
  it("ends an execution through a short database outage, waiting longer each try", async () => {
    const database = await migratedPglite();
    const real = createWorkflowRepository(database.db);
    const definition = { type: "ONLY_OUTPUT", steps: [{ id: "compute", output: 42 }] };
    await real.saveDefinition("ONLY_OUTPUT", definition);
    const tries: number[] = [];
    const repository: typeof real = {
      ...real,
      finish: async (...args) => {
        tries.push(performance.now());
        if (tries.length <= 2) {
          throw new GatewayError("SERVICE_UNAVAILABLE", "database away", { dependency: "db" });
        }
        return real.finish(...args);
      },
    };
    const now = new Date().toISOString();
    const execution: WorkflowExecution = {
      id: "outage-1",
      workflowType: "ONLY_OUTPUT",
      definitionVersion: 1,
      status: "PENDING",
      data: {},
      options: {},
      result: null,
      errors: [],
      idempotencyKey: null,
      startedAt: now,
      finishedAt: null,
      executionTimeMs: null,
      deadlineAt: null,
      updatedAt: now,
    };
    await real.createExecution(execution);
    let resolve: (execution: WorkflowExecution) => void = () => {};
    const ended = new Promise<WorkflowExecution>((settle) => {
      resolve = settle;
    });
    const runner = createWorkflowRunner({
      repository,
      definitionOf: async () => parseDefinition(definition),
      call: () => Promise.reject(new Error("no calls in this workflow")),
      changed: (changed) => {
        if (changed.status === "COMPLETED") resolve(changed);
      },
      log: pino({ level: "silent" }),
    });
    runner.start();
    try {
      expect((await ended).result).toEqual({ compute: { output: 42 } });
      expect(tries).toHaveLength(3);
      const [first = 0, second = 0, third = 0] = tries;
      // 400 ms, then 800 ms (timers may fire a little early on a busy machine, never much).
      expect(second - first).toBeGreaterThanOrEqual(390);
      expect(third - second).toBeGreaterThanOrEqual(790);
    } finally {
      await runner.stop();
      await database.close();
    }
  });
});

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentTaskExecution } from "../../src/workflows/builtins.js";
import { dataOf, startGateway } from "../helpers/gateway.js";

describe("WORKFLOW_DEFINITIONS_DIR", () => {
  let directory: string;
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "workflow-definitions-"));
  });
  afterAll(() => rm(directory, { recursive: true, force: true }));

  it("registers each file as the next version of its type, once", async () => {
    // A deployment whose orchestrator lives under /api, as the real one does.
    const steps = (agentTaskExecution.steps as { id: string; path: string }[]).map((step) =>
      step.id === "plan" ? step : { ...step, path: `/api${step.path}` },
    );
    await writeFile(
      join(directory, "agent-task.json"),
      JSON.stringify({ ...agentTaskExecution, steps }),
    );
    const gateway = await startGateway({ workflows: { definitionsDir: directory } });
    try {
      const definitions = dataOf(
        await gateway.graphql<{
          workflowDefinitions: {
            type: string;
            version: number;
            definition: { steps: { path: string }[] };
          }[];
        }>(`{ workflowDefinitions { type version definition } }`),
      ).workflowDefinitions;
      const agentTask = definitions.find((d) => d.type === "AGENT_TASK_EXECUTION");
      expect(agentTask?.version).toBe(2);
      expect(agentTask?.definition.steps.map((step) => step.path)).toEqual([
        "/plans/execution-plan",
        "/api/executions",
        "/api/executions/{{steps.start.output.execution_id}}",
      ]);
    } finally {
      await gateway.stop();
    }
  });

  it("refuses to start with a bad definition, naming its file", async () => {
    await writeFile(join(directory, "zz-bad.json"), JSON.stringify({ type: "bad", steps: [] }));
    await expect(startGateway({ workflows: { definitionsDir: directory } })).rejects.toThrow(
      /zz-bad\.json: definition\.steps/,
    );
  });
});

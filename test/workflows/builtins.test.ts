import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type PlatformServices, startPlatformServices } from "../fixtures/platform-services.js";
import { authHeaders, dataOf, startGateway, type TestGateway } from "../helpers/gateway.js";

const REGISTER = `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`;
const EXECUTION_FIELDS = `id workflowType status result errors
  steps { id name serviceType serviceId status attempt output error calls finishedAt }`;

type Execution = {
  id: string;
  workflowType: string;
  status: string;
  result: Record<string, unknown> | null;
  errors: string[];
  steps: {
    id: string;
    serviceId: string | null;
    status: string;
    attempt: number;
    output: unknown;
    error: string | null;
    finishedAt: string | null;
    calls: { serviceId: string; status: number }[];
  }[];
};

describe("built-in workflows against real services", () => {
  let gateway: TestGateway;
  let platform: PlatformServices;

  const start = async (options: Parameters<typeof startPlatformServices>[0] = {}) => {
    platform = await startPlatformServices(options);
    for (const service of platform.registrations()) {
      dataOf(
        await gateway.graphql(REGISTER, {
          input: { ...service, name: service.id, version: "1.0.0" },
        }),
      );
    }
  };

  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway.stop());
  afterEach(async () => {
    await platform?.stop();
    await gateway.removeAllServices();
  });

  const agentTask = async () =>
    dataOf(
      await gateway.graphql<{ executeAgentTask: Execution }>(
        `mutation { executeAgentTask(taskId: "task-1", agentId: "agent-7", parameters: { depth: 2 },
           options: { wait: true, timeoutSeconds: 60 }) { ${EXECUTION_FIELDS} } }`,
      ),
    ).executeAgentTask;

  it("AGENT_TASK_EXECUTION plans, starts and polls the execution to COMPLETED", async () => {
    await start({ pollsBeforeEnd: 2 });
    const execution = await agentTask();
    expect(execution).toMatchObject({
      workflowType: "AGENT_TASK_EXECUTION",
      status: "COMPLETED",
      errors: [],
      result: {
        execution_id: "exec-1",
        task_id: "task-1",
        agent_id: "agent-7",
        status: "COMPLETED",
        result: { answer: 42 },
        steps: [],
        metrics: { polls: 3 },
      },
    });
    expect(execution.steps.map((step) => [step.id, step.status])).toEqual([
      ["plan", "COMPLETED"],
      ["start", "COMPLETED"],
      ["monitor", "COMPLETED"],
    ]);
    const monitor = execution.steps.find((step) => step.id === "monitor");
    expect(monitor?.calls).toHaveLength(3);
    expect(monitor?.calls.every((call) => call.serviceId === "orchestrator-1")).toBe(true);
    // The plan went to the orchestrator as JSON (the original failed here on datetimes).
    expect(platform.orchestrator.received[0]?.body).toMatchObject({
      agent_id: "agent-7",
      task_id: "task-1",
      execution_plan: { task_id: "task-1", steps: [{ name: "do it" }] },
      parameters: { depth: 2 },
    });
  });

  it("accepts the orchestrator's real shapes: {success, data} and `state`", async () => {
    await start({ realShapes: true, pollsBeforeEnd: 1 });
    const execution = await agentTask();
    expect(execution).toMatchObject({ status: "COMPLETED", result: { status: "COMPLETED" } });
  });

  it("answers the seed's REST route synchronously, in its DataResponse shape", async () => {
    await start({ pollsBeforeEnd: 0 });
    const response = await fetch(`${gateway.url}/workflows/agent-task-execution`, {
      method: "POST",
      headers: { "content-type": "application/json", ...authHeaders() },
      body: JSON.stringify({ task_id: "task-9", agent_id: "agent-9" }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { success: boolean; data: Record<string, unknown> };
    expect(body).toMatchObject({
      success: true,
      data: { status: "COMPLETED", result: { task_id: "task-9" }, errors: [] },
    });
    expect(body.data.execution_time).toBeGreaterThan(0);
    const again = await fetch(`${gateway.url}/workflows/executions/${body.data.id}`, {
      headers: authHeaders(),
    });
    expect(((await again.json()) as typeof body).data.status).toBe("COMPLETED");
    const unknown = await fetch(`${gateway.url}/workflows/execute`, {
      method: "POST",
      headers: { "content-type": "application/json", ...authHeaders() },
      body: JSON.stringify({ workflow_type: "NOPE", data: {} }),
    });
    expect(unknown.status).toBe(422);
  });

  it("fails the workflow when the execution ends FAILED", async () => {
    await start({ finalState: "FAILED", pollsBeforeEnd: 0 });
    const execution = await agentTask();
    expect(execution.status).toBe("FAILED");
    expect(execution.errors[0]).toMatch(/step monitor failed: ended "FAILED"/);
    expect(execution.steps.find((step) => step.id === "monitor")?.status).toBe("FAILED");
  });

  const planningRun = async () =>
    dataOf(
      await gateway.graphql<{ executeProjectPlanning: Execution }>(
        `mutation { executeProjectPlanning(projectId: "p-1", options: { wait: true, timeoutSeconds: 60 }) {
           ${EXECUTION_FIELDS} } }`,
      ),
    ).executeProjectPlanning;

  it("PROJECT_PLANNING creates one agent per agent type, assigns tasks and stores the planning", async () => {
    await start();
    const execution = await planningRun();
    expect(execution.status).toBe("COMPLETED");
    expect(platform.agents.map((agent) => agent.type).sort()).toEqual(["DESIGNER", "DEVELOPER"]);
    const developer = platform.agents.find((agent) => agent.type === "DEVELOPER")?.id;
    const designer = platform.agents.find((agent) => agent.type === "DESIGNER")?.id;
    const assignments = execution.result?.task_assignments as {
      task_id: string;
      agent_id: string;
    }[];
    expect(assignments.map((a) => [a.task_id, a.agent_id])).toEqual([
      ["t1", developer],
      ["t2", designer],
      ["t4", developer],
    ]);
    expect(platform.stored).toHaveLength(1);
    expect(platform.stored[0]).toMatchObject({
      strategic_plan: { id: "sp1" },
      tactical_plan: { id: "tp1" },
      task_assignments: assignments,
    });
    expect(platform.agents[0]).toMatchObject({ name: expect.stringMatching(/ Agent for Apollo$/) });
  });

  it("creates the agents in parallel", async () => {
    await start({ agentCreationDelayMs: 300 });
    expect((await planningRun()).status).toBe("COMPLETED");
    const creations = platform.orchestrator.received.filter((r) => r.path === "/agents");
    expect(creations).toHaveLength(2);
    const [a, b] = creations as [(typeof creations)[0], (typeof creations)[0]];
    // Each started before the other ended.
    expect(a.at).toBeLessThan(b.endedAt);
    expect(b.at).toBeLessThan(a.endedAt);
  });

  it("deletes the agents it created, latest first, when storing the planning fails", async () => {
    await start({ failStoringPlanning: true, agentCreationDelayMs: 0 });
    const execution = await planningRun();
    expect(execution.status).toBe("COMPENSATED");
    expect(execution.errors[0]).toMatch(/step store failed: .*HTTP 500/);
    const created = execution.steps
      .filter((step) => /^agents\[\d\]$/.test(step.id))
      .map((step) => step as { output: { id: string } } & typeof step);
    expect([...platform.deleted].sort()).toEqual(created.map((step) => step.output.id).sort());
    const undo = execution.steps.filter((step) => step.id.endsWith(".compensate"));
    expect(undo.every((step) => step.status === "COMPLETED")).toBe(true);
    // The agent created last is deleted first.
    const finishedOrder = execution.steps
      .filter((step) => /^agents\[\d\]$/.test(step.id))
      // Finished in the same millisecond: the engine undoes the higher index first.
      .sort(
        (a, b) =>
          (a.finishedAt ?? "").localeCompare(b.finishedAt ?? "") || a.id.localeCompare(b.id),
      )
      .map((step) => (step.output as { id: string }).id);
    expect(platform.deleted).toEqual([...finishedOrder].reverse());
  });
});

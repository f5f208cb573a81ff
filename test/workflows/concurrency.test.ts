import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startUpstreamService, type UpstreamService } from "../fixtures/upstream-service.js";
import { dataOf, startGateway, type TestGateway } from "../helpers/gateway.js";
import { eventually } from "../helpers/wait.js";

const ADMIN = { authorization: "Bearer admin-token-for-concurrency" };

describe("MAX_CONCURRENT_WORKFLOWS", () => {
  let gateway: TestGateway;
  let slow: UpstreamService;
  beforeAll(async () => {
    slow = await startUpstreamService();
    slow.answer({ status: 200, body: { ok: true }, delayMs: 300 });
    gateway = await startGateway({
      adminToken: "admin-token-for-concurrency",
      workflows: { maxConcurrent: 2 },
    });
    dataOf(
      await gateway.graphql(
        `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`,
        { input: { id: "slow-1", name: "slow", type: "slow", version: "1", baseUrl: slow.url } },
      ),
    );
    dataOf(
      await gateway.graphql(
        `mutation($d: JSON!) { registerWorkflowDefinition(definition: $d) { version } }`,
        {
          d: { type: "one_slow_call", steps: [{ id: "call", serviceType: "slow", path: "/work" }] },
        },
        ADMIN,
      ),
    );
  });
  afterAll(async () => {
    await gateway.stop();
    await slow.stop();
  });

  it("drives at most that many executions at once and queues the rest", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const started = dataOf(
        await gateway.graphql<{ executeWorkflow: { id: string; status: string } }>(
          `mutation { executeWorkflow(input: { workflowType: "one_slow_call", data: {} }) { id status } }`,
        ),
      );
      expect(started.executeWorkflow.status).toBe("PENDING");
      ids.push(started.executeWorkflow.id);
    }
    let mostRunning = 0;
    // Each look counts those running at once, until all have completed.
    await eventually(async () => {
      const { workflowExecutions } = dataOf(
        await gateway.graphql<{ workflowExecutions: { id: string; status: string }[] }>(
          `{ workflowExecutions(workflowType: "one_slow_call", first: 10) { id status } }`,
        ),
      );
      mostRunning = Math.max(
        mostRunning,
        workflowExecutions.filter((e) => e.status === "RUNNING").length,
      );
      expect(workflowExecutions.filter((e) => e.status === "COMPLETED")).toHaveLength(ids.length);
    });
    expect(mostRunning).toBe(2);
  });
});

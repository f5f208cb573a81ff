import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/db/client.js";
import { type PlatformServices, startPlatformServices } from "../fixtures/platform-services.js";
import { createScratchDatabase, postgresIsAvailable } from "../helpers/database.js";
import { authHeaders, dataOf, type GraphQLResponse, startGateway } from "../helpers/gateway.js";
import { startGatewayProcess } from "../helpers/process.js";
import { eventually } from "../helpers/wait.js";

const postgres = await postgresIsAvailable();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.runIf(postgres)("a workflow whose gateway dies", () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let platform: PlatformServices;
  beforeAll(async () => {
    scratch = await createScratchDatabase();
    // The execution polls RUNNING until the test lets it end.
    platform = await startPlatformServices({ pollsBeforeEnd: 1_000_000 });
  }, 60_000);
  afterAll(async () => {
    await platform?.stop();
    await scratch?.drop();
  });

  it("is resumed by a fresh gateway from its last completed step and completes once", async () => {
    const first = await startGatewayProcess({
      DATABASE_URL: scratch.url,
      WORKFLOW_LEASE_SECONDS: "2",
    });
    const graphql = async (query: string, variables = {}) =>
      (await (
        await fetch(`${first.url}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json", ...authHeaders() },
          body: JSON.stringify({ query, variables }),
        })
      ).json()) as GraphQLResponse;
    for (const service of platform.registrations()) {
      dataOf(
        await graphql(
          `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`,
          { input: { ...service, name: service.id, version: "1.0.0" } },
        ),
      );
    }
    const started = dataOf(
      await graphql(`mutation { executeAgentTask(taskId: "t-1", agentId: "a-1") { id status } }`),
    ) as { executeAgentTask: { id: string } };
    const id = started.executeAgentTask.id;

    // Polling has begun on the first gateway: kill it there.
    await eventually(() => expect(platform.polls.get("exec-1")).toBeGreaterThanOrEqual(1));
    first.process.kill("SIGKILL");
    await new Promise((resolve) => first.process.once("exit", resolve));
    platform.settings.pollsBeforeEnd = 0;

    const database = await openDatabase({ url: scratch.url });
    const second = await startGateway({ database, workflows: { leaseMs: 2000 } });
    try {
      type Execution = { status: string; steps: { id: string; attempt: number; status: string }[] };
      // The first gateway's lease (2 s) runs out before the second resumes it.
      const execution = await eventually(async () => {
        const current = dataOf(
          await second.graphql<{ workflowExecution: Execution }>(
            `query($id: ID!) { workflowExecution(id: $id) { status steps { id attempt status } } }`,
            { id },
          ),
        ).workflowExecution;
        expect(current.status).not.toBe("RUNNING");
        return current;
      }, 30_000);
      expect(execution.status).toBe("COMPLETED");
      // The plan and the start ran once, on the first gateway; only the polling resumed.
      expect(
        platform.planning.received.filter((r) => r.path === "/plans/execution-plan"),
      ).toHaveLength(1);
      expect(
        platform.orchestrator.received.filter(
          (r) => r.method === "POST" && r.path === "/executions",
        ),
      ).toHaveLength(1);
      expect(execution.steps).toEqual([
        { id: "plan", attempt: 1, status: "COMPLETED" },
        { id: "start", attempt: 1, status: "COMPLETED" },
        { id: "monitor", attempt: 2, status: "COMPLETED" },
      ]);
      // Ended once: the second gateway's answer stands, and nothing runs it again. Real
      // time on purpose: only waiting shows that nothing happens.
      await sleep(500);
      const again = dataOf(
        await second.graphql<{ workflowExecution: { status: string } }>(
          `query($id: ID!) { workflowExecution(id: $id) { status } }`,
          { id },
        ),
      );
      expect(again.workflowExecution.status).toBe("COMPLETED");
    } finally {
      await second.stop();
      await database.close();
    }
  }, 60_000);
});

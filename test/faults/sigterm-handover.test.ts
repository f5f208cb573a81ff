import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import pg from "pg";
import { Client } from "undici";
import { afterAll, describe, expect, it } from "vitest";
import { eventually } from "../helpers/wait.js";
import { privateCluster } from "./cluster.js";
import { graphqlAt, msUntilReady } from "./gateway-process.js";

/*
 * SIGTERM to a replica in the middle of a workflow step, with another replica beside it
 * on the same Redis and PostgreSQL: the stopping one says it is not ready at once, lets
 * the step's call finish and records it, gives back the execution and its leader leases,
 * and exits 0; the other resumes the execution from the next step (the first is not
 * called again) and takes over probing and expiry without waiting for a lease to run out.
 */

const REGISTER = `mutation Register($input: RegisterServiceInput!) { registerService(input: $input) { id } }`;
const DEFINE = `mutation Define($definition: JSON!) { registerWorkflowDefinition(definition: $definition) { type } }`;
const EXECUTE = `mutation Execute($input: ExecuteWorkflowInput!) { executeWorkflow(input: $input) { id } }`;
const EXECUTION = `query Execution($id: ID!) { workflowExecution(id: $id) { status steps { id status attempt } } }`;

/** A service whose /first answers only when the test lets it, and counts every request. */
async function startGatedService() {
  const received: string[] = [];
  let open: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  let arrived: () => void = () => {};
  const firstArrived = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  const server: Server = createServer(async (req, res) => {
    received.push(req.url ?? "");
    if (req.url === "/first") {
      arrived();
      await gate;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    firstArrived,
    open: () => open(),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe("SIGTERM to a replica mid-workflow", () => {
  const cluster = privateCluster();
  const closers: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
  });

  it("checkpoints the step, releases its leases, and the other replica resumes", async () => {
    const service = await startGatedService();
    closers.push(service.close);
    const redis = new Redis(cluster.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    closers.push(() => redis.quit());
    const database = new pg.Client({ connectionString: cluster.postgres.url });
    await database.connect();
    closers.push(() => database.end());

    const env = {
      SHUTDOWN_TIMEOUT_SECONDS: "10",
      PROBES: "true",
      PROBE_INTERVAL_SECONDS: "1",
      // The first step's call is held while the other replica starts: no deadline or
      // retry of its own may send it twice, so a second one could only be a resume.
      CALL_TIMEOUT_MS: "120000",
      CALL_MAX_ATTEMPTS: "1",
    };
    const leaving = await cluster.spawnReplica(env);
    await msUntilReady(leaving.url);

    const ok = (answer: Awaited<ReturnType<typeof graphqlAt>>) => {
      if ("network" in answer || answer.errors?.length) throw new Error(JSON.stringify(answer));
      return answer.data as Record<string, { id: string }>;
    };
    ok(
      await graphqlAt(leaving.url, REGISTER, {
        input: {
          id: "gated-1",
          name: "gated",
          type: "gated",
          version: "1.0.0",
          baseUrl: service.url,
        },
      }),
    );
    ok(
      await graphqlAt(leaving.url, DEFINE, {
        definition: {
          type: "two_steps",
          steps: [
            { id: "first", serviceType: "gated", method: "GET", path: "/first" },
            {
              id: "second",
              serviceType: "gated",
              method: "GET",
              path: "/second",
              dependsOn: ["first"],
            },
          ],
        },
      }),
    );
    const started = ok(
      await graphqlAt(leaving.url, EXECUTE, {
        input: { workflowType: "two_steps", data: {}, options: { wait: false } },
      }),
    );
    const executionId = started.executeWorkflow?.id as string;
    // The only replica running drives it, and is now in its first step's call.
    await service.firstArrived;

    const ownerOf = async () =>
      (
        await database.query<{ lease_owner: string | null }>(
          "SELECT lease_owner FROM workflow_executions WHERE id = $1",
          [executionId],
        )
      ).rows[0]?.lease_owner ?? null;
    const leavingOwner = await ownerOf();
    expect(leavingOwner).not.toBeNull();
    const leaseKey = (name: string) => `sig:v1:lease:${name}`;
    const leavingHolders = await eventually(async () => {
      const holders = await redis.mget(leaseKey("health-prober"), leaseKey("heartbeat-sweeper"));
      expect(holders.every((holder) => holder !== null)).toBe(true);
      return holders;
    });

    const staying = await cluster.spawnReplica(env);
    await msUntilReady(staying.url);

    // A load balancer's keep-alive connection, open before the signal: the listener
    // refuses new ones from the signal on, and this one is told the replica is leaving.
    const balancer = new Client(leaving.url);
    closers.push(() => balancer.destroy());
    const before = await balancer.request({ method: "GET", path: "/health/ready" });
    await before.body.text();
    expect(before.statusCode).toBe(200);

    leaving.child.kill("SIGTERM");
    // Not ready from the signal on, while the call in flight keeps it alive.
    await eventually(async () => {
      const response = await balancer.request({ method: "GET", path: "/health/ready" });
      await response.body.text();
      expect(response.statusCode).toBe(503);
    });
    service.open();
    const exit = await leaving.exited;
    expect(exit).toEqual({ code: 0, signal: null });

    // What it held is given back, not left to lapse.
    expect(await ownerOf()).not.toBe(leavingOwner);
    const afterExit = await redis.mget(leaseKey("health-prober"), leaseKey("heartbeat-sweeper"));
    expect(afterExit.filter((holder) => leavingHolders.includes(holder))).toEqual([]);

    const finished = await eventually(async () => {
      const answer = ok(await graphqlAt(staying.url, EXECUTION, { id: executionId }));
      const execution = answer.workflowExecution as unknown as {
        status: string;
        steps: { id: string; status: string; attempt: number }[];
      };
      expect(execution.status).toBe("COMPLETED");
      return execution;
    }, 30_000);
    expect(finished.steps.map((step) => [step.id, step.status])).toEqual([
      ["first", "COMPLETED"],
      ["second", "COMPLETED"],
    ]);
    // The first step's call was recorded by the replica that made it: never made again.
    expect(service.received.filter((url) => url === "/first")).toHaveLength(1);
    expect(service.received.filter((url) => url === "/second")).toHaveLength(1);
  });
});

import { createGatewayClient } from "../../src/client/index.js";
import { registerAll } from "./agents.js";
import { banner } from "./banner.js";
import type { DemoService } from "./demo-service.js";
import { startFlakyService } from "./flaky-service.js";
import type { startGatewayProcess } from "./gateway-process.js";
import {
  startAgentOrchestrator,
  startPlanningSystem,
  startProjectCoordinator,
} from "./platform-services.js";
import { startSubgraphs } from "./subgraphs.js";
import { sendTraffic } from "./traffic.js";

type Options = {
  /** The gateway, starting. */
  gatewayStarting: ReturnType<typeof startGatewayProcess>;
  token: string | undefined;
  dataDir: string;
  /** When the demo started (performance.now()). */
  started: number;
};

/**
 * Starts the services while the gateway starts, registers them once it listens, sends
 * traffic to the flaky one, starts a workflow and prints the banner; stops it all on
 * SIGINT or SIGTERM.
 */
export async function runDemo({ gatewayStarting, token, dataDir, started }: Options) {
  const [gateway, platform, flaky, subgraphs] = await Promise.all([
    gatewayStarting,
    Promise.all([startPlanningSystem(), startAgentOrchestrator(), startProjectCoordinator()]),
    startFlakyService(),
    startSubgraphs(),
  ]);
  const services: DemoService[] = [...platform, ...subgraphs, flaky];
  const agents = await registerAll(services, { gatewayUrl: gateway.url, token }).catch(
    async (error: Error) => {
      // FORBIDDEN: an earlier run, killed before it unregistered, registered these ids
      // with another token, which owns them in the kept database.
      console.error(`the demo's services cannot register: ${error.message}`);
      console.error(
        `(a registration left in ${dataDir} by an earlier run? delete it to start afresh)`,
      );
      await Promise.all(services.map((service) => service.close()));
      await gateway.stop();
      process.exit(1);
    },
  );
  const client = createGatewayClient({ gatewayUrl: gateway.url, token });
  flaky.startFlapping();
  const traffic = sendTraffic(client, { serviceId: flaky.registration.id ?? "flaky-1" });
  const execution = await client
    .executeWorkflow({
      workflowType: "AGENT_TASK_EXECUTION",
      data: { task_id: "task-42", agent_id: "agent-7", parameters: { priority: "high" } },
    })
    .catch((error: Error) => {
      console.log(`  the demo's workflow did not start: ${error.message}`);
      return null;
    });

  console.log(
    banner({
      gatewayUrl: gateway.url,
      token,
      services: services.map((service) => service.registration),
      execution,
      dataDir,
      secondsToLive: (performance.now() - started) / 1000,
    }),
  );

  let stopping = false;
  async function stop(reason: string): Promise<void> {
    if (stopping) return;
    stopping = true;
    console.log(`${reason}: unregistering the services, then stopping the gateway`);
    await traffic.stop();
    await client.close();
    await agents.stop();
    await Promise.all(services.map((service) => service.close()));
    const code = await gateway.stop();
    console.log(`stopped (gateway exit code ${code})`);
    process.exit(code ?? 0);
  }
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
  void gateway.exited.then((code) => {
    if (!stopping) {
      console.error(`the gateway exited on its own (code ${code}); stopping the demo`);
      process.exit(1);
    }
  });
}

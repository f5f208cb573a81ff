/**
 * `npm run demo`: a gateway and six small services registered through the client SDK.
 *
 *   SERVICE_PORT   the gateway's port (default 8090)
 *   DEMO_DATA_DIR  the gateway's embedded database (default .data-demo, kept between runs)
 *   ADMIN_TOKEN    tokens mode, with this admin token (the services register with it)
 *
 * Ctrl-C (or SIGTERM) unregisters the services, then stops the gateway, which drains.
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createGatewayClient } from "../../src/client/index.js";
import { registerAll } from "./agents.js";
import { banner } from "./banner.js";
import type { DemoService } from "./demo-service.js";
import { startFlakyService } from "./flaky-service.js";
import { startGatewayProcess } from "./gateway-process.js";
import {
  startAgentOrchestrator,
  startPlanningSystem,
  startProjectCoordinator,
} from "./platform-services.js";
import { startSubgraphs } from "./subgraphs.js";
import { sendTraffic } from "./traffic.js";

const started = performance.now();
const root = fileURLToPath(new URL("../../", import.meta.url));
const dataDir = resolve(root, process.env.DEMO_DATA_DIR ?? ".data-demo");
const token = process.env.ADMIN_TOKEN || undefined;

// Stopped while starting: exiting stops the gateway too (gateway-process.ts).
const exitWhileStarting = () => process.exit(130);
process.once("SIGINT", exitWhileStarting);
process.once("SIGTERM", exitWhileStarting);

// The services start while the gateway does.
const [gateway, platform, flaky, subgraphs] = await Promise.all([
  startGatewayProcess({ dataDir }),
  Promise.all([startPlanningSystem(), startAgentOrchestrator(), startProjectCoordinator()]),
  startFlakyService(),
  startSubgraphs(),
]);
const services: DemoService[] = [...platform, ...subgraphs, flaky];
const agents = await registerAll(services, { gatewayUrl: gateway.url, token });
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
async function stop(reason: string, code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    console.log(`${reason}: unregistering the services, then stopping the gateway`);
    await traffic.stop();
    await client.close();
    await agents.stop();
    await Promise.all(services.map((service) => service.close()));
    const gatewayCode = await gateway.stop();
    console.log(`stopped (gateway exit code ${gatewayCode})`);
    process.exit(code === 0 ? (gatewayCode ?? 0) : code);
  }
  return new Promise(() => {});
}
process.off("SIGINT", exitWhileStarting);
process.off("SIGTERM", exitWhileStarting);
process.once("SIGINT", () => void stop("SIGINT", 0));
process.once("SIGTERM", () => void stop("SIGTERM", 0));
void gateway.exited.then((code) => {
  if (!stopping) {
    console.error(`the gateway exited on its own (code ${code}); stopping the demo`);
    process.exit(1);
  }
});

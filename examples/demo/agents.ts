import { createServiceAgent, type ServiceAgent } from "../../src/client/index.js";
import type { DemoService } from "./demo-service.js";

/**
 * One SDK agent per demo service: each registers, heartbeats and unregisters on stop,
 * as any service does with `service-integration-gateway/client` (this imports its source,
 * which the package's ./client entry is compiled from).
 */
export async function registerAll(
  services: DemoService[],
  { gatewayUrl, token }: { gatewayUrl: string; token?: string },
) {
  const agents: ServiceAgent[] = services.map(({ registration }) => {
    const agent = createServiceAgent({ gatewayUrl, token, service: registration });
    agent.on("error", (error) => console.log(`  ${registration.id}: ${error.message}`));
    return agent;
  });
  await Promise.all(agents.map((agent) => agent.start()));
  return {
    /** Unregisters every service; resolves when all are done (failures are reported). */
    async stop(): Promise<void> {
      await Promise.all(agents.map((agent) => agent.stop()));
    },
  };
}

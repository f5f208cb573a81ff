// A service that joins the gateway with the SDK and leaves on SIGTERM/SIGINT: run as its
// own process by agent.test.ts (GATEWAY_URL, GATEWAY_TOKEN). It prints its id once registered.
import { createServiceAgent } from "../../src/client/index.js";

const agent = createServiceAgent({
  gatewayUrl: process.env.GATEWAY_URL ?? "",
  token: process.env.GATEWAY_TOKEN || undefined,
  service: {
    name: "Signalled",
    type: "signalled",
    version: "1.0.0",
    baseUrl: "http://127.0.0.1:9",
    heartbeatIntervalSeconds: 1,
  },
});
agent.stopOnSignals();
await agent.start();
// The service's own work, standing in for its HTTP server: it keeps the process alive.
setInterval(() => {}, 1000);
const state = agent.status();
console.log(state.kind === "registered" ? state.serviceId : `not registered: ${state.kind}`);

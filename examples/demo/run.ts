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
import { startGatewayProcess } from "./gateway-process.js";

const started = performance.now();
const root = fileURLToPath(new URL("../../", import.meta.url));
const dataDir = resolve(root, process.env.DEMO_DATA_DIR ?? ".data-demo");
const token = process.env.ADMIN_TOKEN || undefined;

// Stopped while starting: exiting stops the gateway too (gateway-process.ts).
const exitWhileStarting = () => process.exit(130);
process.once("SIGINT", exitWhileStarting);
process.once("SIGTERM", exitWhileStarting);

// The gateway first: it starts while the rest of the demo (the SDK, yoga) is loaded.
const gatewayStarting = startGatewayProcess({ dataDir });
gatewayStarting.catch((error: Error) => {
  console.error(`the demo cannot start: ${error.message}`);
  process.exit(1);
});
const { runDemo } = await import("./demo.js");
await runDemo({ gatewayStarting, token, dataDir, started });
process.off("SIGINT", exitWhileStarting);
process.off("SIGTERM", exitWhileStarting);

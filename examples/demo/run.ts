/**
 * `npm run demo`: a gateway and six small services registered through the client SDK.
 *
 *   SERVICE_PORT   the gateway's port (default 8090)
 *   DEMO_DATA_DIR  the gateway's embedded database (default .data-demo, kept between runs)
 *   ADMIN_TOKEN    tokens mode, with this admin token (the services register with it)
 *
 * Ctrl-C (or SIGTERM) unregisters the services, then stops the gateway, which drains.
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ensurePgliteCluster } from "../../src/db/client.js";
import { startGatewayProcess } from "./gateway-process.js";

const started = performance.now();
const root = fileURLToPath(new URL("../../", import.meta.url));
const dataDir = resolve(root, process.env.DEMO_DATA_DIR ?? ".data-demo");
const token = process.env.ADMIN_TOKEN || undefined;

/** `npm start`'s check: `npm run build` when dist/ is missing or older than its sources. */
function buildIfStale(): Promise<void> {
  const build = spawn(process.execPath, ["scripts/build-if-stale.mjs"], {
    cwd: root,
    stdio: "inherit",
  });
  return new Promise((done, failed) => {
    build.once("error", failed);
    build.once("exit", (code) =>
      code === 0 ? done() : failed(new Error(`the build failed (exit ${code})`)),
    );
  });
}

// Stopped while starting: exiting stops the gateway too (gateway-process.ts).
const exitWhileStarting = () => process.exit(130);
process.once("SIGINT", exitWhileStarting);
process.once("SIGTERM", exitWhileStarting);

// A first run builds dist/ and creates the database, seconds each, at once; a later one
// finds both done.
await Promise.all([buildIfStale(), ensurePgliteCluster(dataDir)]).catch((error: Error) => {
  console.error(`the demo cannot start: ${error.message}`);
  process.exit(1);
});

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

/**
 * `npm run docs:screenshot`: the README's picture of the dashboard, docs/dashboard.png.
 * Runs `npm run demo` (a gateway and its demo services, in tokens mode, on a free port with
 * a fresh data directory), waits until the services view shows them all and the flaky one
 * has left ONLINE, takes a 1280×800 shot in Debian's chromium, then stops the demo.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
const ADMIN_TOKEN = "dashboard-screenshot-admin-token";
const root = fileURLToPath(new URL("../", import.meta.url));
const output = join(root, "docs/dashboard.png");
/** Every service `npm run demo` registers (examples/demo/demo.ts). */
const DEMO_SERVICES = 6;

const port = await freePort();
const dataDir = await mkdtemp(join(tmpdir(), "sig-screenshot-"));
const demo = spawn(process.execPath, ["--import", "tsx", "examples/demo/run.ts"], {
  cwd: root,
  env: {
    ...process.env,
    SERVICE_PORT: String(port),
    DEMO_DATA_DIR: dataDir,
    ADMIN_TOKEN,
    // Probes often enough for the probe column to be filled by the time of the shot.
    PROBE_INTERVAL_SECONDS: "1",
  },
  stdio: ["ignore", "pipe", "inherit"],
});
try {
  await bannerOf(demo);
  const url = `http://127.0.0.1:${port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${url}/#/services`);
    await page.fill("input[name=token]", ADMIN_TOKEN);
    await page.click("button[type=submit]");
    await page.waitForSelector('[data-testid=connection]:has-text("live")', { timeout: 30_000 });
    await page.waitForFunction(
      (count) => document.querySelectorAll("[data-service-id]").length >= count,
      DEMO_SERVICES,
      { timeout: 30_000 },
    );
    // The flaky service flaps every 6 s: a view with more than one status says more.
    await page.waitForSelector(
      '[data-service-id="flaky-1"] [data-status]:not([data-status="ONLINE"])',
      {
        timeout: 30_000,
      },
    );
    await page.screenshot({ path: output });
  } finally {
    await browser.close();
  }
  console.log(`wrote ${output} (${Math.round((await stat(output)).size / 1024)} KB)`);
} finally {
  await stopDemo(demo);
  await rm(dataDir, { recursive: true, force: true });
}

/** A port nothing listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** Resolves once the demo prints its banner: the gateway listens, the services registered. */
function bannerOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes("Service Integration Gateway demo: live")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`the demo exited (${code}):\n${seen}`)));
  });
}

/** SIGTERM: the demo unregisters its services and stops its gateway, then exits. */
async function stopDemo(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

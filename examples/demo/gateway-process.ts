import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));

/**
 * What the demo changes in the gateway's defaults, so that a flapping service changes
 * status and its breaker opens within seconds. Each can still be set in the environment.
 */
const DEMO_SETTINGS: Record<string, string> = {
  SERVICE_PORT: "8090",
  PROBE_INTERVAL_SECONDS: "2",
  PROBE_TIMEOUT_MS: "1000",
  HEARTBEAT_SWEEP_INTERVAL_SECONDS: "1",
  CIRCUIT_BREAKER_FAILURE_THRESHOLD: "3",
  CIRCUIT_BREAKER_RESET_TIMEOUT_MS: "5000",
  SHUTDOWN_TIMEOUT_SECONDS: "3",
};

/**
 * `node dist/main.js` (built by `npm run demo` first, when stale) with the demo's settings and its
 * own data directory, in a process group of its own: Ctrl-C reaches the demo only, which
 * unregisters its services before it stops the gateway. Resolves once the gateway listens,
 * with its URL; the gateway's warnings and errors are shown, its other log lines are not.
 */
export async function startGatewayProcess({ dataDir }: { dataDir: string }) {
  const main = `${root}dist/main.js`;
  if (!existsSync(main)) throw new Error(`${main} is missing: run the demo with npm run demo`);
  const child = spawn(process.execPath, [main], {
    cwd: root,
    env: { ...DEMO_SETTINGS, ...process.env, DATA_DIR: dataDir, LOG_FORMAT: "json" },
    stdio: ["ignore", "pipe", "inherit"],
    detached: true,
  });
  // A demo that dies leaves no gateway behind.
  const killOnExit = () => child.kill("SIGTERM");
  process.once("exit", killOnExit);
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  void exited.then(() => process.off("exit", killOnExit));
  const url = await listeningUrl(child, exited);
  return {
    url,
    /** Resolves with the exit code when the gateway stops on its own (a crash). */
    exited,
    /** SIGTERM: the gateway drains and exits; resolves with its exit code. */
    async stop(): Promise<number | null> {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

type LogLine = { level?: number; msg?: string; url?: string };

async function listeningUrl(child: ChildProcess, exited: Promise<number | null>): Promise<string> {
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  return new Promise((resolve, reject) => {
    lines.on("line", (line) => {
      let entry: LogLine;
      try {
        entry = JSON.parse(line) as LogLine;
      } catch {
        return;
      }
      if (entry.msg === "service integration gateway listening" && entry.url) {
        resolve(entry.url.replace(/\/graphql$/, ""));
      } else if ((entry.level ?? 0) >= 40 && !/open mode/i.test(entry.msg ?? "")) {
        // Open mode is in the banner already.
        console.log(`  gateway: ${entry.msg}`);
      }
    });
    void exited.then((code) =>
      reject(new Error(`the gateway exited (${code}) before it listened`)),
    );
  });
}

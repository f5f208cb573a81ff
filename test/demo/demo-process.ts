import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));

export type DemoProcess = {
  /** The gateway's URL, as the banner prints it. */
  url: string;
  /** The execution the demo started, as the banner names it. */
  executionId: string;
  /** Milliseconds from the spawn to the banner. */
  bannerAfterMs: number;
  /** When the process was spawned (performance.now()). */
  spawnedAt: number;
  child: ChildProcess;
  /** Everything it printed so far. */
  output: string[];
  exited: Promise<number | null>;
  /** SIGTERM when still running; waits for the exit; deletes its data directory. */
  cleanUp(): Promise<void>;
};

/**
 * `npm run demo` as the user runs it, minus npm: builds dist/ when it is stale (the
 * predemo), then `node --import tsx examples/demo/run.ts`, in open mode on a free port with
 * a fresh data directory. Resolves once the banner is printed.
 */
export async function startDemo(): Promise<DemoProcess> {
  const build = spawnSync(process.execPath, ["scripts/build-if-stale.mjs"], {
    cwd: root,
    stdio: "inherit",
  });
  if (build.status !== 0) throw new Error("the build failed");
  const dataDir = mkdtempSync(join(tmpdir(), "sig-demo-"));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of [
    "ADMIN_TOKEN",
    "AUTH_TOKENS",
    "AUTH_TOKENS_FILE",
    "DATABASE_URL",
    "POSTGRES_HOST",
    "REDIS_URL",
    "REDIS_HOST",
  ]) {
    delete env[name];
  }
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, ["--import", "tsx", "examples/demo/run.ts"], {
    cwd: root,
    env: {
      ...env,
      SERVICE_PORT: "0",
      SERVICE_HOST: "127.0.0.1",
      DEMO_DATA_DIR: join(dataDir, "data"),
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const output: string[] = [];
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  let url: string | null = null;
  let executionId: string | null = null;
  const bannerShown = new Promise<void>((resolve, reject) => {
    lines.on("line", (line) => {
      output.push(line);
      url ??= /GraphiQL\s+(http:\/\/\S+)\/graphql/.exec(line)?.[1] ?? null;
      executionId ??= /AGENT_TASK_EXECUTION (\S+) started/.exec(line)?.[1] ?? null;
      if (line.includes("Ctrl-C stops everything")) resolve();
    });
    void exited.then((code) =>
      reject(new Error(`the demo exited (${code}) before its banner:\n${output.join("\n")}`)),
    );
  });
  await bannerShown;
  if (!url || !executionId) throw new Error(`no URL or execution in:\n${output.join("\n")}`);
  return {
    url,
    executionId,
    bannerAfterMs: performance.now() - spawnedAt,
    spawnedAt,
    child,
    output,
    exited,
    async cleanUp() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * `npm run bench`: measures the baselines and the gateway in the same run and prints
 * requests/s, p50/p99 and the ratios that shared/PERFORMANCE.md sets targets for.
 * Servers run pinned to core 0, the load generator to core 1 (when taskset exists).
 * It reports; it never fails on a figure.
 *
 *   BENCH_DURATION  seconds per measured run (default 10)
 *   BENCH_RUNS      runs per scenario, the median is reported (default 3)
 *   BENCH_STORES    comma list of gateway stores to measure (default memory,redis)
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import type { LoadResult } from "./load.js";

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const STORES = (process.env.BENCH_STORES ?? "memory,redis").split(",");
const CONNECTIONS = 50;
const WARM_UP_SECONDS = 3;
/** The original service's stand-in registering, from shared/PERFORMANCE.md (not re-measurable here). */
const ORIGINAL_REGISTER_RPS = 1770;

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const pinning = hasTaskset();

function hasTaskset(): boolean {
  try {
    execFileSync("taskset", ["-c", "0", "true"]);
    return true;
  } catch {
    return false;
  }
}

function pinned(core: number, args: string[]): [string, string[]] {
  const node = [process.execPath, "--import", "tsx", ...args];
  return pinning ? ["taskset", ["-c", String(core), ...node]] : [node[0] as string, node.slice(1)];
}

type RunningServer = { port: number; process: ChildProcess };

async function startServer(script: string, args: string[] = []): Promise<RunningServer> {
  const [command, argv] = pinned(0, [here(script), ...args]);
  const child = spawn(command, argv, {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, NODE_ENV: "production" },
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  for await (const line of lines) {
    const ready = (JSON.parse(line) as { ready?: number }).ready;
    if (ready) return { port: ready, process: child };
  }
  throw new Error(`${script} exited before it was ready`);
}

async function stopServer(server: RunningServer): Promise<void> {
  const exited = new Promise((resolve) => server.process.once("exit", resolve));
  server.process.kill("SIGTERM");
  await exited;
}

async function load(port: number, scenario: string, durationSeconds: number): Promise<LoadResult> {
  const request = JSON.stringify({ port, scenario, connections: CONNECTIONS, durationSeconds });
  const [command, argv] = pinned(1, [here("./load.ts"), request]);
  const child = spawn(command, argv, { stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  await new Promise((resolve) => child.once("exit", resolve));
  return JSON.parse(output.trim().split("\n").at(-1) ?? "{}") as LoadResult;
}

/** Warm-up, then RUNS measured runs; the run with the median requests/s is kept. */
async function measure(port: number, scenario: string): Promise<LoadResult> {
  await load(port, scenario, WARM_UP_SECONDS);
  const runs: LoadResult[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await load(port, scenario, DURATION));
  runs.sort((a, b) => a.rps - b.rps);
  return runs[Math.floor(runs.length / 2)] as LoadResult;
}

type Row = { name: string; result: LoadResult; note?: string };
const rows: Row[] = [];

function report(name: string, result: LoadResult, note?: string) {
  rows.push({ name, result, note });
  const failures = result.errors + result.non2xx + result.graphqlErrors;
  console.log(
    `${name.padEnd(34)} ${result.rps.toFixed(0).padStart(7)} req/s  p50 ${String(result.p50).padStart(3)} ms  p99 ${String(result.p99).padStart(4)} ms${failures ? `  (${failures} failed requests!)` : ""}${note ? `  ${note}` : ""}`,
  );
}

async function redisAvailable(): Promise<boolean> {
  const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on("error", () => {});
  try {
    await redis.connect();
    return true;
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

const ratio = (value: number, base: number) => `${(value / base).toFixed(2)}×`;

async function main() {
  console.log(
    `bench: ${CONNECTIONS} connections, ${DURATION} s × ${RUNS} runs (median), ${WARM_UP_SECONDS} s warm-up; ` +
      (pinning ? "server on core 0, load on core 1" : "taskset missing: no core pinning"),
  );

  const hello = await startServer("./servers/baseline-hello.ts");
  const bYoga = await measure(hello.port, "hello");
  await stopServer(hello);
  report("B_yoga  { hello }", bYoga);

  const list = await startServer("./servers/baseline-list.ts");
  const bList = await measure(list.port, "list");
  await stopServer(list);
  report("B_list  20 items × 8 fields", bList);

  for (const store of STORES) {
    if (store === "redis" && !(await redisAvailable())) {
      console.log("gateway (redis): skipped, no Redis at REDIS_URL or 127.0.0.1:6379");
      continue;
    }
    const gateway = await startServer("./servers/gateway.ts", [store]);
    const discovery = await measure(gateway.port, "discovery");
    report(
      `gateway/${store} services(type) 20/1000`,
      discovery,
      `${ratio(discovery.rps, bList.rps)} B_list rps (target ≥ 0.60), p99 ${ratio(discovery.p99, bList.p99)} (≤ 2)`,
    );
    const heartbeat = await measure(gateway.port, "heartbeat");
    report(
      `gateway/${store} heartbeat`,
      heartbeat,
      `${ratio(heartbeat.rps, bYoga.rps)} B_yoga rps (target ≥ 0.70), p99 ${ratio(heartbeat.p99, bYoga.p99)} (≤ 2)`,
    );
    const register = await measure(gateway.port, "register");
    report(
      `gateway/${store} registerService`,
      register,
      `${ratio(register.rps, bYoga.rps)} B_yoga (target ≥ 0.50), ${ratio(register.rps, ORIGINAL_REGISTER_RPS)} the original's stand-in (≥ 2)`,
    );
    await stopServer(gateway);
  }
}

await main();

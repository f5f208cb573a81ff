/**
 * `npm run bench:workflows`: the workflow engine's own overhead. A 3-step workflow (each
 * step one call to a local service that answers at once) runs one execution at a time,
 * and the time of each step beyond its call is reported at p50/p99 (target < 10 ms per
 * step at p50); then 200 executions are started together and timed to the last one's end.
 * The gateway runs in this process with embedded PGlite, as `npm start` does, or on
 * PostgreSQL with BENCH_DATABASE_URL; the service runs on core 0.
 * It reports; it never fails on a figure.
 */
import { execFileSync } from "node:child_process";
import { pino } from "pino";
import { createApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { openDatabase } from "../src/db/client.js";
import { anonymousCaller } from "../src/domain/access.js";
import { TERMINAL } from "../src/domain/workflow.js";
import { createInProcessEvents } from "../src/events.js";
import { createMemoryRegistryStore } from "../src/stores/memory-registry.js";
import { pinning, startServer, stopServer } from "./processes.js";

const SEQUENTIAL = Number(process.env.BENCH_EXECUTIONS ?? 100);
const CONCURRENT = 200;

if (pinning) execFileSync("taskset", ["-cp", "1", String(process.pid)], { stdio: "ignore" });

const upstream = await startServer("./servers/upstream.ts");
const log = pino({ level: "warn" });
const config = loadConfig({
  ...process.env,
  SERVICE_PORT: "0",
  SERVICE_HOST: "127.0.0.1",
  LOG_LEVEL: "warn",
  // Off whatever the shell says: the figures measure the gateway, not a limit.
  RATE_LIMIT_PER_MINUTE: "0",
  PROBES: "false",
});
const database = await openDatabase(
  process.env.BENCH_DATABASE_URL
    ? { url: process.env.BENCH_DATABASE_URL }
    : { dataDir: "memory://" },
);
await database.migrate();
const app = createApp({
  config,
  store: createMemoryRegistryStore(),
  database,
  events: createInProcessEvents(),
  log,
});
await app.start();
const { registry, workflows } = app.services;
await registry.register(
  {
    id: "bench-1",
    name: "bench",
    type: "BENCH",
    version: "1.0.0",
    baseUrl: `http://127.0.0.1:${upstream.port}`,
  },
  anonymousCaller(),
);
await workflows.registerDefinition({
  type: "BENCH_THREE_STEPS",
  steps: [
    { id: "a", serviceType: "BENCH", method: "GET", path: "/a/{{input.n}}" },
    {
      id: "b",
      serviceType: "BENCH",
      method: "POST",
      path: "/b",
      dependsOn: ["a"],
      body: { a: "{{steps.a.output}}" },
    },
    {
      id: "c",
      serviceType: "BENCH",
      method: "GET",
      path: "/c",
      dependsOn: ["b"],
      output: "{{response.id}}",
    },
  ],
  output: { id: "{{steps.c.output}}" },
});

const percentile = (values: number[], p: number) =>
  values.slice().sort((x, y) => x - y)[
    Math.min(values.length - 1, Math.floor(values.length * p))
  ] ?? 0;

/** Per step: the execution's time beyond its calls, divided among its three steps. */
async function overheadPerStep(): Promise<{ total: number; overhead: number }> {
  const started = performance.now();
  const execution = await workflows.execute({
    workflowType: "BENCH_THREE_STEPS",
    data: { n: 1 },
    options: { wait: true, timeoutSeconds: 60 },
  });
  const total = performance.now() - started;
  if (execution.status !== "COMPLETED")
    throw new Error(`execution ${execution.status}: ${execution.errors}`);
  const steps = await workflows.steps(execution.id);
  const callTime = steps.reduce(
    (sum, step) => sum + step.calls.reduce((inner, call) => inner + call.durationMs, 0),
    0,
  );
  return { total: total / 3, overhead: (total - callTime) / 3 };
}

for (let i = 0; i < 10; i++) await overheadPerStep();
const runs: { total: number; overhead: number }[] = [];
for (let i = 0; i < SEQUENTIAL; i++) runs.push(await overheadPerStep());

const burstStarted = performance.now();
const ids = await Promise.all(
  Array.from({ length: CONCURRENT }, async (_, n) => {
    const execution = await workflows.execute({ workflowType: "BENCH_THREE_STEPS", data: { n } });
    return execution.id;
  }),
);
const pending = new Set(ids);
let failed = 0;
while (pending.size > 0) {
  await new Promise((resolve) => setTimeout(resolve, 20));
  for (const id of [...pending]) {
    const execution = await workflows.get(id);
    if (execution && TERMINAL.has(execution.status)) {
      pending.delete(id);
      if (execution.status !== "COMPLETED") failed += 1;
    }
  }
}
const burst = performance.now() - burstStarted;

await app.stop();
await database.close();
await stopServer(upstream);

const overhead = runs.map((run) => run.overhead);
const total = runs.map((run) => run.total);
console.log(
  `bench workflows: ${database.kind}, ${SEQUENTIAL} executions of 3 steps one at a time, then ${CONCURRENT} at once (MAX_CONCURRENT_WORKFLOWS=${config.workflows.maxConcurrent})\n`,
);
console.log(
  `per step, engine overhead    p50 ${percentile(overhead, 0.5).toFixed(2)} ms  p99 ${percentile(overhead, 0.99).toFixed(2)} ms  (target p50 < 10 ms)`,
);
console.log(
  `per step, with its call      p50 ${percentile(total, 0.5).toFixed(2)} ms  p99 ${percentile(total, 0.99).toFixed(2)} ms`,
);
console.log(
  `${CONCURRENT} executions at once   all ended in ${(burst / 1000).toFixed(2)} s (${((CONCURRENT / burst) * 1000).toFixed(0)} executions/s, ${((CONCURRENT * 3 * 1000) / burst).toFixed(0)} steps/s)${failed ? `, ${failed} not COMPLETED!` : ", all COMPLETED"}`,
);

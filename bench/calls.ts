/**
 * `npm run bench:calls`: calls to a local service through the gateway's full policy
 * stack (bulkhead → retry → circuit breaker → timeout → undici Agent) beside B_undici,
 * a bare undici Pool.request, in the same run; and an open breaker's refusal beside
 * B_open, cockatiel's own. The service runs on core 0, the callers here on core 1.
 * It reports; it never fails on a figure.
 *
 *   BENCH_DURATION  seconds per measured run (default 5)
 *   BENCH_RUNS      runs per scenario, the median is reported (default 3)
 */
import { execFileSync } from "node:child_process";
import { ConsecutiveBreaker, circuitBreaker, handleAll, isBrokenCircuitError } from "cockatiel";
import { Pool } from "undici";
import { createAddressPolicy } from "../src/clients/address-guard.js";
import { InstanceBreaker } from "../src/clients/circuit-breaker.js";
import { createServiceClient } from "../src/clients/service-client.js";
import { defaultBreakerSettings } from "../src/domain/breaker.js";
import { defaultCallPolicy } from "../src/domain/call-policy.js";
import { isGatewayError } from "../src/domain/errors.js";
import { pinning, startServer, stopServer } from "./processes.js";

const DURATION_MS = Number(process.env.BENCH_DURATION ?? 5) * 1000;
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** Calls in flight at once, as many callers of one instance would have. */
const IN_FLIGHT = 50;
const REFUSALS = 200_000;

if (pinning) execFileSync("taskset", ["-cp", "1", String(process.pid)], { stdio: "ignore" });

type Throughput = { callsPerSecond: number; cpuMicrosPerCall: number; failed: number };

/** IN_FLIGHT loops calling back to back for the duration. */
async function throughput(call: () => Promise<unknown>, durationMs: number): Promise<Throughput> {
  let calls = 0;
  let failed = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const until = started + durationMs;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < until) {
        try {
          await call();
          calls += 1;
        } catch {
          failed += 1;
        }
      }
    }),
  );
  const elapsed = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return {
    callsPerSecond: (calls / elapsed) * 1000,
    cpuMicrosPerCall: (used.user + used.system) / (calls + failed),
    failed,
  };
}

/** Mean time of a refusal, one after another (nothing else in flight). */
async function refusalMicros(refuse: () => Promise<void>): Promise<number> {
  for (let i = 0; i < 20_000; i++) await refuse();
  const started = performance.now();
  for (let i = 0; i < REFUSALS; i++) await refuse();
  return ((performance.now() - started) * 1000) / REFUSALS;
}

function median<T>(values: T[], by: (value: T) => number): T {
  return values.slice().sort((a, b) => by(a) - by(b))[Math.floor(values.length / 2)] as T;
}

function breakerFor(serviceId: string): InstanceBreaker {
  return new InstanceBreaker(serviceId, defaultBreakerSettings, {
    now: Date.now,
    acquireTrial: async () => true,
    trialLeaseMs: 10_000,
    changed: () => {},
  });
}

async function main() {
  console.log(
    `bench calls: ${IN_FLIGHT} in flight, ${DURATION_MS / 1000} s × ${RUNS} rounds (median); ` +
      (pinning ? "service on core 0, callers on core 1" : "taskset missing: no core pinning"),
  );
  const upstream = await startServer("./servers/upstream.ts");
  const origin = `http://127.0.0.1:${upstream.port}`;

  const pool = new Pool(origin, { connections: IN_FLIGHT });
  const bare = async () => {
    const response = await pool.request({ path: "/items/42", method: "GET" });
    await response.body.arrayBuffer();
    if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode}`);
  };

  const breaker = breakerFor("bench-1");
  const client = createServiceClient({
    settings: defaultCallPolicy,
    breakerOf: () => breaker,
    addressPolicy: createAddressPolicy(),
  });
  const request = {
    serviceId: "bench-1",
    baseUrl: origin,
    method: "GET",
    path: "/items/42",
    headers: { accept: "application/json" },
    body: null,
    idempotent: true,
  };
  const broken = () => client.call(request);

  await throughput(bare, 1000);
  await throughput(broken, 1000);
  const bareRuns: Throughput[] = [];
  const brokenRuns: Throughput[] = [];
  for (let round = 1; round <= RUNS; round++) {
    process.stdout.write(`round ${round}/${RUNS}…\n`);
    bareRuns.push(await throughput(bare, DURATION_MS));
    brokenRuns.push(await throughput(broken, DURATION_MS));
  }
  const bUndici = median(bareRuns, (run) => run.callsPerSecond);
  const ours = median(brokenRuns, (run) => run.callsPerSecond);

  // B_open: cockatiel's breaker, held open, refusing.
  const cockatielBreaker = circuitBreaker(handleAll, {
    halfOpenAfter: 3_600_000,
    breaker: new ConsecutiveBreaker(1),
  });
  cockatielBreaker.isolate();
  const bOpen = await refusalMicros(async () => {
    try {
      await cockatielBreaker.execute(() => "never runs");
    } catch (error) {
      if (!isBrokenCircuitError(error)) throw error;
    }
  });
  breaker.isolate("bench");
  const ourOpen = await refusalMicros(async () => {
    try {
      await client.call(request);
    } catch (error) {
      if (!isGatewayError(error) || error.code !== "SERVICE_UNAVAILABLE") throw error;
    }
  });

  await client.close();
  await pool.close();
  await stopServer(upstream);

  const line = (name: string, run: Throughput, note = "") =>
    console.log(
      `${name.padEnd(40)} ${run.callsPerSecond.toFixed(0).padStart(7)} calls/s  ${run.cpuMicrosPerCall.toFixed(1).padStart(5)} µs CPU/call` +
        (run.failed ? `  (${run.failed} failed!)` : "") +
        (note ? `  ${note}` : ""),
    );
  console.log("");
  line("B_undici  Pool.request", bUndici);
  line(
    "gateway   client.call, full policy stack",
    ours,
    `${(ours.callsPerSecond / bUndici.callsPerSecond).toFixed(2)}× B_undici (target ≥ 0.50)`,
  );
  console.log(
    `${"B_open    cockatiel breaker refusal".padEnd(40)} ${bOpen.toFixed(2).padStart(7)} µs`,
  );
  console.log(
    `${"gateway   open-breaker refusal".padEnd(40)} ${ourOpen.toFixed(2).padStart(7)} µs  ` +
      `${(ourOpen / bOpen).toFixed(2)}× B_open (target ≤ 3), no backoff waited`,
  );
}

await main();

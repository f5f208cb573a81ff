/**
 * `npm run bench`: measures the baselines and the gateway in the same run and prints
 * requests/s, p50/p99 and the ratios to the baselines that the targets are set on
 * (README, Benchmarks): absolute figures move by ±30 % between runs on one machine.
 * Servers run pinned to core 0, the load generator to core 1 (when taskset exists).
 * It reports; it never fails on a figure.
 *
 *   BENCH_DURATION  seconds per measured run (default 10)
 *   BENCH_RUNS      runs per scenario, the median is reported (default 3)
 *   BENCH_STORES    comma list of gateway stores to measure (default memory,redis,etcd;
 *                   memory-inprocess: embedded PGlite on the gateway's thread, as before)
 */
import { Etcd3 } from "etcd3";
import { Redis } from "ioredis";
import type { LoadResult } from "./load.js";
import { pinning, type RunningServer, runJson, startServer, stopServer } from "./processes.js";
import { BENCH_TOKEN } from "./token.js";

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const STORES = (process.env.BENCH_STORES ?? "memory,redis,etcd").split(",");
const CONNECTIONS = 50;
const WARM_UP_SECONDS = 3;
/**
 * Registrations/s of a stand-in for the original Python service (its Redis logic on
 * FastAPI), measured once on the development machine; the original itself cannot start,
 * and the stand-in is not part of this repository, so it is not re-measured here.
 */
const ORIGINAL_REGISTER_RPS = 1770;

function load(port: number, scenario: string, durationSeconds: number): Promise<LoadResult> {
  return runJson<LoadResult>(1, "./load.ts", {
    port,
    scenario,
    connections: CONNECTIONS,
    durationSeconds,
  });
}

type Target = {
  name: string;
  port: number;
  scenario: string;
  /** Read the gateway's event-loop delay p99 over each run (from its /metrics). */
  eventLoop?: boolean;
};

/** A measured run, with the gateway thread's event-loop delay p99 when it was read. */
type Measured = LoadResult & { eventLoopP99Ms?: number };

/**
 * The gateway's `nodejs_eventloop_lag_p99_seconds`, in ms. prom-client resets the
 * histogram behind it at every scrape, so a read before a run and one after it give the
 * p99 over the run.
 */
async function eventLoopP99(port: number): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, {
    headers: { authorization: `Bearer ${BENCH_TOKEN}` },
  });
  const text = await response.text();
  const line = /^nodejs_eventloop_lag_p99_seconds(?:\{[^}]*\})? (\S+)$/m.exec(text);
  return Number(line?.[1] ?? Number.NaN) * 1000;
}

/**
 * One run of a target. `register+heartbeat` is two loads at once on the same gateway,
 * CONNECTIONS each: registrations, and heartbeats, whose result is reported.
 */
async function measure(target: Target, durationSeconds: number): Promise<Measured> {
  if (target.eventLoop) await eventLoopP99(target.port);
  let result: LoadResult;
  if (target.scenario === "register+heartbeat") {
    const [, heartbeats] = await Promise.all([
      load(target.port, "register", durationSeconds),
      load(target.port, "heartbeat", durationSeconds),
    ]);
    result = heartbeats;
  } else {
    result = await load(target.port, target.scenario, durationSeconds);
  }
  if (!target.eventLoop) return result;
  return { ...result, eventLoopP99Ms: await eventLoopP99(target.port) };
}

/** The median of the runs by requests/s, with the median event-loop p99 of the runs. */
function median(runs: Measured[]): Measured {
  const sorted = runs.slice().sort((a, b) => a.rps - b.rps);
  const middle = sorted[Math.floor(sorted.length / 2)] as Measured;
  const lags = runs
    .map((run) => run.eventLoopP99Ms)
    .filter((lag): lag is number => lag !== undefined)
    .sort((a, b) => a - b);
  return lags.length > 0
    ? { ...middle, eventLoopP99Ms: lags[Math.floor(lags.length / 2)] }
    : middle;
}

/**
 * Every target is warmed up, then measured RUNS times in rounds that visit every target
 * once, so drift in the machine's speed during the run touches baselines and gateway alike.
 */
async function measureInRounds(targets: Target[]): Promise<Map<string, Measured>> {
  for (const target of targets) await measure(target, WARM_UP_SECONDS);
  const runs = new Map<string, Measured[]>(targets.map((target) => [target.name, []]));
  for (let round = 1; round <= RUNS; round++) {
    process.stdout.write(`round ${round}/${RUNS}…\n`);
    for (const target of targets) {
      runs.get(target.name)?.push(await measure(target, DURATION));
    }
  }
  return new Map([...runs].map(([name, results]) => [name, median(results)]));
}

function report(name: string, result: LoadResult, note = "") {
  const failures = result.errors + result.non2xx + result.graphqlErrors;
  console.log(
    `${name.padEnd(36)} ${result.rps.toFixed(0).padStart(7)} req/s  p50 ${String(result.p50).padStart(3)} ms  p99 ${String(result.p99).padStart(4)} ms` +
      (failures ? `  (${failures} failed requests!)` : "") +
      (note ? `  ${note}` : ""),
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

async function etcdAvailable(): Promise<boolean> {
  const etcd = new Etcd3({
    hosts: (process.env.ETCD_ENDPOINTS ?? "http://127.0.0.1:2379").split(","),
    dialTimeout: 1000,
  });
  try {
    await etcd
      .get("probe")
      .options({ deadline: Date.now() + 1000 })
      .string();
    return true;
  } catch {
    return false;
  } finally {
    etcd.close();
  }
}

const ratio = (value: number, base: number) => `${(value / base).toFixed(2)}×`;

async function main() {
  console.log(
    `bench: ${CONNECTIONS} connections, ${DURATION} s × ${RUNS} rounds (median), ${WARM_UP_SECONDS} s warm-up; ` +
      (pinning ? "servers on core 0, load on core 1" : "taskset missing: no core pinning"),
  );
  const servers: RunningServer[] = [];
  const targets: Target[] = [];
  const hello = await startServer("./servers/baseline-hello.ts");
  const list = await startServer("./servers/baseline-list.ts");
  servers.push(hello, list);
  targets.push({ name: "B_yoga", port: hello.port, scenario: "hello" });
  targets.push({ name: "B_list", port: list.port, scenario: "list" });

  const stores: string[] = [];
  for (const store of STORES) {
    if (store === "redis" && !(await redisAvailable())) {
      console.log("gateway on redis: skipped, no Redis at REDIS_URL or 127.0.0.1:6379");
      continue;
    }
    if (store === "etcd" && !(await etcdAvailable())) {
      console.log("gateway on etcd: skipped, no etcd at ETCD_ENDPOINTS or 127.0.0.1:2379");
      continue;
    }
    const gateway = await startServer("./servers/gateway.ts", [store]);
    servers.push(gateway);
    stores.push(store);
    for (const scenario of ["discovery", "heartbeat", "register", "register+heartbeat"]) {
      targets.push({
        name: `${store} ${scenario}`,
        port: gateway.port,
        scenario,
        eventLoop: scenario === "register",
      });
    }
  }

  const results = await measureInRounds(targets);
  await Promise.all(servers.map(stopServer));

  const bYoga = results.get("B_yoga") as LoadResult;
  const bList = results.get("B_list") as LoadResult;
  console.log("");
  report("B_yoga   { hello }", bYoga);
  report("B_list   20 items × 8 fields", bList);
  for (const store of stores) {
    const discovery = results.get(`${store} discovery`) as LoadResult;
    const heartbeat = results.get(`${store} heartbeat`) as LoadResult;
    const register = results.get(`${store} register`) as Measured;
    const mixed = results.get(`${store} register+heartbeat`) as LoadResult;
    report(
      `${store.padEnd(6)}   services(type) 20 of 1,000`,
      discovery,
      `${ratio(discovery.rps, bList.rps)} B_list (target ≥ 0.60), p99 ${ratio(discovery.p99, bList.p99)} (≤ 2)`,
    );
    report(
      `${store.padEnd(6)}   heartbeat`,
      heartbeat,
      `${ratio(heartbeat.rps, bYoga.rps)} B_yoga (target ≥ 0.70), p99 ${ratio(heartbeat.p99, bYoga.p99)} (≤ 2)`,
    );
    report(
      `${store.padEnd(6)}   registerService`,
      register,
      `${ratio(register.rps, bYoga.rps)} B_yoga (target ≥ 0.50), ${ratio(register.rps, ORIGINAL_REGISTER_RPS)} the original's stand-in (≥ 2); gateway event-loop delay p99 ${register.eventLoopP99Ms?.toFixed(1)} ms`,
    );
    report(
      `${store.padEnd(6)}   heartbeat while 50 register`,
      mixed,
      `${ratio(mixed.rps, heartbeat.rps)} heartbeat alone (target ≥ 0.70)`,
    );
  }
}

await main();

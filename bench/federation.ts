/**
 * `npm run bench:federation`: the federated graph, in one run.
 *
 * 1. `{ products { id name price reviewCount } }` (a PRODUCTS fetch, then a REVIEWS entity
 *    fetch) three ways, warmed up and then measured in interleaved rounds:
 *    - gateway: the gateway process as `npm run bench` starts it (tokens mode, 1,000
 *      seeded services), with PRODUCTS and REVIEWS registered through its control plane
 *      with `graphql: { kind: FEDERATION }`, queried at /federation/graphql;
 *    - B_hive: a bare `createGatewayRuntime` over a static supergraph composed from the
 *      same SDLs with the subgraphs' real URLs, default fetch, in its own process;
 *    - B_direct: the two calls a client would make itself, straight to the subgraphs.
 *    Targets: gateway ≥ 0.9 × B_hive's throughput, p99 ≤ 1.2 × B_hive's.
 * 2. From a registration to its new field being queryable: with PRODUCTS and REVIEWS
 *    composed, an INVENTORY type (adding Product.inStock) is registered and the federated
 *    endpoint polled until a query selecting inStock answers; then it is unregistered and
 *    polled until the field is gone. Each repetition registers another type name and
 *    version, so no SDL or composition is reused. Target: under a second.
 *
 * Servers (gateway, B_hive, the subgraphs, each a process) run pinned to core 0; the load
 * and this runner to core 1 (when taskset exists). Like the other benches it starts
 * measuring at once rather than waiting for a quiet machine, and takes medians of
 * interleaved rounds, so drift touches every target alike. It reports; it never fails
 * on a figure.
 *
 *   BENCH_DURATION       seconds per measured run (default 5)
 *   BENCH_RUNS           runs per target, the median of each figure is reported (default 3)
 *   BENCH_REGISTRATIONS  repetitions of the registration timing (default 5)
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { Pool } from "undici";
import type { FederationLoadRequest } from "./federation-load.js";
import { FEDERATED_QUERY } from "./federation-query.js";
import type { LoadResult } from "./load.js";
import { pinning, type RunningServer, runJson, startServer } from "./processes.js";
import { BENCH_TOKEN } from "./token.js";

const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const REGISTRATIONS = Number(process.env.BENCH_REGISTRATIONS ?? 5);
const CONNECTIONS = 50;
const WARM_UP_SECONDS = 2;
/** How long a registration (or an unregistration) may take to show before it is given up. */
const SHOW_TIMEOUT_MS = 10_000;
const POLL_INTERVAL_MS = 5;

if (pinning) execFileSync("taskset", ["-cp", "1", String(process.pid)], { stdio: "ignore" });

// Every process started here, stopped at the end whatever happens.
const servers: RunningServer[] = [];

async function start(script: string, args: string[] = []): Promise<RunningServer> {
  const server = await startServer(script, args);
  servers.push(server);
  return server;
}

async function stopAll(): Promise<void> {
  await Promise.all(
    servers.splice(0).map(async (server) => {
      const child = server.process;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      if (child.exitCode !== null || child.signalCode !== null) return;
      // By its pid only; one that ignores SIGTERM for 10 s is killed.
      const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      child.kill("SIGTERM");
      await exited;
      clearTimeout(killer);
    }),
  );
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void stopAll().finally(() => process.exit(130));
  });
}

// --- the control plane and the federated endpoint ---------------------------------------

type Answer = { data?: Record<string, unknown> | null; errors?: { message: string }[] };

function graphqlClient(port: number) {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 4 });
  const post = async (path: string, query: string, variables?: unknown): Promise<Answer> => {
    const response = await pool.request({
      path,
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        authorization: `Bearer ${BENCH_TOKEN}`,
      },
      body: JSON.stringify({ query, variables }),
    });
    const text = await response.body.text();
    try {
      return JSON.parse(text) as Answer;
    } catch {
      return { errors: [{ message: `HTTP ${response.statusCode}: ${text.slice(0, 200)}` }] };
    }
  };
  return {
    controlPlane: (query: string, variables?: unknown) => post("/graphql", query, variables),
    federated: (query: string) => post("/federation/graphql", query),
    close: () => pool.close(),
  };
}
type GraphQLClient = ReturnType<typeof graphqlClient>;

const REGISTER = `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`;
const UNREGISTER = `mutation($id: ID!) { unregisterService(id: $id) }`;

async function register(
  client: GraphQLClient,
  id: string,
  type: string,
  baseUrl: string,
  version = "1.0.0",
): Promise<void> {
  const answer = await client.controlPlane(REGISTER, {
    input: {
      id,
      name: id,
      type,
      version,
      baseUrl,
      graphql: { kind: "FEDERATION" },
      // Longer than the run: no heartbeats are sent, and nothing may expire meanwhile.
      ttlSeconds: 86_400,
    },
  });
  if (answer.errors) throw new Error(`registering ${id}: ${answer.errors[0]?.message}`);
}

/** Polls until `done` holds for an answer of the query; the milliseconds it took, or null. */
async function pollUntil(
  client: GraphQLClient,
  query: string,
  done: (answer: Answer) => boolean,
  since = performance.now(),
): Promise<number | null> {
  while (performance.now() - since < SHOW_TIMEOUT_MS) {
    if (done(await client.federated(query))) return performance.now() - since;
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  return null;
}

const productsOf = (answer: Answer) => answer.data?.products as Record<string, unknown>[] | null;
const everyProductHas = (field: string, kind: string) => (answer: Answer) =>
  !answer.errors &&
  productsOf(answer)?.length === 3 &&
  (productsOf(answer) ?? []).every((product) => typeof product[field] === kind);

// --- part 1: throughput and latency ---------------------------------------------------

type Target = {
  name: string;
  request: Omit<FederationLoadRequest, "connections" | "durationSeconds">;
  /** The serving process, whose CPU time per operation is reported. */
  pid?: number;
};

/**
 * A process's CPU time (user + system), in ms, from /proc; null where there is none.
 * Throughput on two shared cores moves with whatever else runs; the CPU one operation
 * costs the serving process moves far less.
 */
function cpuMsOf(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    // utime and stime: fields 14 and 15 of stat, 12 and 13 after the command name.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}
const CLOCK_TICKS_PER_SECOND = 100;

type Measured = LoadResult & { cpuMsPerOperation: number | null };

async function load(target: Target, durationSeconds: number): Promise<Measured> {
  const cpuBefore = cpuMsOf(target.pid);
  const result = await runJson<Partial<LoadResult>>(1, "./federation-load.ts", {
    ...target.request,
    connections: CONNECTIONS,
    durationSeconds,
  } satisfies FederationLoadRequest);
  const cpuAfter = cpuMsOf(target.pid);
  const operations = (result.rps ?? 0) * durationSeconds;
  // A load process that died prints nothing: a run of nothing but failures.
  return {
    cpuMsPerOperation:
      cpuBefore !== null && cpuAfter !== null && operations > 0
        ? (cpuAfter - cpuBefore) / operations
        : null,
    rps: result.rps ?? 0,
    p50: result.p50 ?? 0,
    p99: result.p99 ?? 0,
    errors: result.errors ?? (result.rps === undefined ? 1 : 0),
    non2xx: result.non2xx ?? 0,
    graphqlErrors: result.graphqlErrors ?? 0,
  };
}

function medianOf(values: number[]): number {
  return values.slice().sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
}

/** Each figure's median over the runs, failures summed. */
function summary(runs: Measured[]): Measured & { runs: number[] } {
  const cpu = runs.map((run) => run.cpuMsPerOperation).filter((ms): ms is number => ms !== null);
  return {
    cpuMsPerOperation: cpu.length > 0 ? medianOf(cpu) : null,
    rps: medianOf(runs.map((run) => run.rps)),
    p50: medianOf(runs.map((run) => run.p50)),
    p99: medianOf(runs.map((run) => run.p99)),
    errors: runs.reduce((sum, run) => sum + run.errors, 0),
    non2xx: runs.reduce((sum, run) => sum + run.non2xx, 0),
    graphqlErrors: runs.reduce((sum, run) => sum + run.graphqlErrors, 0),
    runs: runs.map((run) => run.rps),
  };
}

async function measureInRounds(targets: Target[]) {
  for (const target of targets) await load(target, WARM_UP_SECONDS);
  const runs = new Map<string, Measured[]>(targets.map((target) => [target.name, []]));
  for (let round = 1; round <= RUNS; round++) {
    process.stdout.write(`round ${round}/${RUNS}…\n`);
    for (const target of targets) runs.get(target.name)?.push(await load(target, DURATION));
  }
  return new Map([...runs].map(([name, results]) => [name, summary(results)]));
}

// --- part 2: registration to queryable --------------------------------------------------

type Registration = { queryableMs: number | null; registerMs: number; goneMs: number | null };

async function timeRegistrations(client: GraphQLClient, inventoryUrl: string) {
  const results: Registration[] = [];
  const query = "{ products { id inStock } }";
  for (let i = 1; i <= REGISTRATIONS; i++) {
    // A type name and version the gateway has not seen: nothing of it is cached.
    const type = `INVENTORY_${i}`;
    const id = `inventory-bench-${i}`;
    await new Promise((resolve) => setTimeout(resolve, 200));
    const registeredAt = performance.now();
    await register(client, id, type, inventoryUrl, `1.${i}.0`);
    const registerMs = performance.now() - registeredAt;
    const queryableMs = await pollUntil(
      client,
      query,
      everyProductHas("inStock", "boolean"),
      registeredAt,
    );
    const unregisteredAt = performance.now();
    const gone = await client.controlPlane(UNREGISTER, { id });
    if (gone.errors) throw new Error(`unregistering ${id}: ${gone.errors[0]?.message}`);
    const goneMs = await pollUntil(
      client,
      query,
      (answer) => (answer.errors ?? []).some((error) => /inStock/.test(error.message)),
      unregisteredAt,
    );
    results.push({ queryableMs, registerMs, goneMs });
    process.stdout.write(
      `registration ${i}/${REGISTRATIONS}: queryable after ${show(queryableMs)}, gone ${show(goneMs)} after unregistering\n`,
    );
    // The next repetition must start from a graph without the field.
    if (goneMs === null) break;
  }
  return results;
}

const show = (ms: number | null) =>
  ms === null ? `> ${SHOW_TIMEOUT_MS} ms` : `${ms.toFixed(0)} ms`;

// --- the run ------------------------------------------------------------------------------

const ratio = (value: number, base: number) => (base > 0 ? `${(value / base).toFixed(2)}×` : "n/a");
const failuresOf = (result: LoadResult) => result.errors + result.non2xx + result.graphqlErrors;

async function main() {
  console.log(
    `bench federation: ${CONNECTIONS} connections, ${DURATION} s × ${RUNS} rounds (median), ` +
      `${WARM_UP_SECONDS} s warm-up; ` +
      (pinning ? "servers on core 0, load on core 1" : "taskset missing: no core pinning") +
      `; load average ${loadavg()
        .map((n) => n.toFixed(2))
        .join(" ")}`,
  );
  const [products, reviews, inventory] = await Promise.all([
    start("./servers/subgraph.ts", ["products"]),
    start("./servers/subgraph.ts", ["reviews"]),
    start("./servers/subgraph.ts", ["inventory"]),
  ]);
  const url = (server: RunningServer) => `http://127.0.0.1:${server.port}`;
  const [gateway, hive] = await Promise.all([
    start("./servers/gateway.ts", ["memory"]),
    start("./servers/hive.ts", [
      JSON.stringify({ products: url(products), reviews: url(reviews) }),
    ]),
  ]);
  const client = graphqlClient(gateway.port);

  await register(client, "products-1", "products", url(products));
  await register(client, "reviews-1", "reviews", url(reviews));
  const composedMs = await pollUntil(
    client,
    FEDERATED_QUERY,
    everyProductHas("reviewCount", "number"),
  );
  if (composedMs === null) throw new Error("the gateway never answered the federated query");

  const targets: Target[] = [
    {
      name: "gateway",
      request: { target: "gateway", port: gateway.port },
      pid: gateway.process.pid,
    },
    { name: "B_hive", request: { target: "hive", port: hive.port }, pid: hive.process.pid },
    {
      name: "B_direct",
      request: { target: "direct", port: products.port, reviewsPort: reviews.port },
    },
  ];
  const results = await measureInRounds(targets);
  const registrations = await timeRegistrations(client, url(inventory));
  await client.close();

  const ours = results.get("gateway") as Measured & { runs: number[] };
  const bHive = results.get("B_hive") as Measured & { runs: number[] };
  const bDirect = results.get("B_direct") as Measured & { runs: number[] };
  const queryable = registrations.map((r) => r.queryableMs);
  const shown = queryable.filter((ms): ms is number => ms !== null);
  const gone = registrations.map((r) => r.goneMs).filter((ms): ms is number => ms !== null);
  const registerCall = medianOf(registrations.map((r) => r.registerMs));

  const row = (cells: string[]) => console.log(`| ${cells.join(" | ")} |`);
  const failures = (result: LoadResult) =>
    failuresOf(result) > 0 ? ` (${failuresOf(result)} failed!)` : "";
  const rps = (result: LoadResult) => `${result.rps.toFixed(0)}${failures(result)}`;
  const ms = (value: number) => `${value.toFixed(1)} ms`;
  console.log("");
  console.log(`\`${FEDERATED_QUERY}\`, PRODUCTS + REVIEWS:`);
  console.log("");
  row(["target", "req/s", "p50", "p99", "vs B_hive", "vs B_direct", "target"]);
  row(["---", "---:", "---:", "---:", "---", "---", "---"]);
  row([
    "B_direct: the two calls, by the client",
    rps(bDirect),
    ms(bDirect.p50),
    ms(bDirect.p99),
    "",
    "",
    "",
  ]);
  row(["B_hive: bare Hive gateway runtime", rps(bHive), ms(bHive.p50), ms(bHive.p99), "", "", ""]);
  row([
    "gateway: /federation/graphql",
    rps(ours),
    ms(ours.p50),
    ms(ours.p99),
    `${ratio(ours.rps, bHive.rps)} req/s, ${ratio(ours.p99, bHive.p99)} p99`,
    `${ratio(ours.rps, bDirect.rps)} req/s, ${ratio(ours.p99, bDirect.p99)} p99`,
    "≥ 0.9× B_hive req/s, ≤ 1.2× its p99",
  ]);
  const cpu = (result: Measured) =>
    result.cpuMsPerOperation === null
      ? "n/a"
      : `${(result.cpuMsPerOperation * 1000).toFixed(0)} µs`;
  console.log("");
  console.log(
    `CPU of the serving process per operation: gateway ${cpu(ours)}, B_hive ${cpu(bHive)}` +
      (ours.cpuMsPerOperation !== null && bHive.cpuMsPerOperation !== null
        ? ` (${ratio(ours.cpuMsPerOperation, bHive.cpuMsPerOperation)} B_hive's)`
        : ""),
  );
  console.log(
    `req/s of each run: gateway ${ours.runs.map((n) => n.toFixed(0)).join(", ")}; ` +
      `B_hive ${bHive.runs.map((n) => n.toFixed(0)).join(", ")}; ` +
      `B_direct ${bDirect.runs.map((n) => n.toFixed(0)).join(", ")}`,
  );
  console.log("");
  console.log(
    `Registration to queryable, ${queryable.length} registrations of a new type (adding Product.inStock):`,
  );
  console.log("");
  row(["measure", "median", "min", "max", "target"]);
  row(["---", "---:", "---:", "---:", "---"]);
  row([
    "registerService → a query selecting inStock answers" +
      (shown.length < queryable.length ? ` (${queryable.length - shown.length} never did!)` : ""),
    shown.length > 0 ? `${medianOf(shown).toFixed(0)} ms` : "n/a",
    shown.length > 0 ? `${Math.min(...shown).toFixed(0)} ms` : "n/a",
    shown.length > 0 ? `${Math.max(...shown).toFixed(0)} ms` : "n/a",
    "< 1,000 ms",
  ]);
  row([
    "unregisterService → inStock no longer validates",
    gone.length > 0 ? `${medianOf(gone).toFixed(0)} ms` : "n/a",
    gone.length > 0 ? `${Math.min(...gone).toFixed(0)} ms` : "n/a",
    gone.length > 0 ? `${Math.max(...gone).toFixed(0)} ms` : "n/a",
    "",
  ]);
  console.log("");
  console.log(
    `(the registerService call itself: median ${registerCall.toFixed(0)} ms; ` +
      `polled every ${POLL_INTERVAL_MS} ms; the first composition, PRODUCTS + REVIEWS, answered ${composedMs.toFixed(0)} ms after the second registration)`,
  );
}

try {
  await main();
} finally {
  await stopAll();
}

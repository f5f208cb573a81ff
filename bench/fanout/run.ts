/**
 * `npm run bench:fanout`: live-event fan-out over graphql-ws, beside its baselines in the
 * same run (README, Benchmarks): B_raw (bare `ws`, one pre-serialised message to all)
 * and B_ws (yoga + graphql-ws, in-memory pub/sub). For 1,000 and 5,000 subscribers,
 * 100 events each: deliveries lost, server CPU per delivery, and delivery p50/p99.
 * Servers on core 0, subscribers on core 1. It reports; it never fails on a figure.
 *
 *   FANOUT_SUBSCRIBERS  comma list (default 1000,5000)
 *   FANOUT_EVENTS       events per run (default 100)
 */

import { pinning, runJson, startServer, stopServer } from "../processes.js";
import type { FanoutResult } from "./load.js";

const SUBSCRIBERS = (process.env.FANOUT_SUBSCRIBERS ?? "1000,5000").split(",").map(Number);
const EVENTS = Number(process.env.FANOUT_EVENTS ?? 100);

const targets = [
  { name: "B_raw", script: "./fanout/raw-ws.ts", args: [], target: "raw" },
  { name: "B_ws", script: "./fanout/yoga-ws.ts", args: [], target: "yoga" },
  { name: "gateway", script: "./servers/gateway.ts", args: ["memory"], target: "gateway" },
] as const;

function line(name: string, result: FanoutResult, note = "") {
  console.log(
    `${name.padEnd(24)} lost ${String(result.lost).padStart(5)}  ` +
      `${result.cpuMicrosPerDelivery.toFixed(1).padStart(6)} µs CPU/delivery  ` +
      `p50 ${String(result.p50).padStart(4)} ms  p99 ${String(result.p99).padStart(4)} ms  ${note}`,
  );
}

console.log(
  `fan-out: ${EVENTS} events to each subscriber; ` +
    (pinning ? "servers on core 0, subscribers on core 1" : "taskset missing: no core pinning"),
);
for (const subscribers of SUBSCRIBERS) {
  const results = new Map<string, FanoutResult>();
  for (const { name, script, args, target } of targets) {
    const server = await startServer(script, [...args]);
    results.set(
      name,
      await runJson<FanoutResult>(1, "./fanout/load.ts", {
        port: server.port,
        target,
        serverPid: server.process.pid,
        subscribers,
        events: EVENTS,
      }),
    );
    await stopServer(server);
  }
  const raw = results.get("B_raw") as FanoutResult;
  const ws = results.get("B_ws") as FanoutResult;
  const gateway = results.get("gateway") as FanoutResult;
  console.log(`\n${subscribers} subscribers`);
  line("  B_raw", raw);
  line("  B_ws", ws);
  line(
    "  gateway",
    gateway,
    `CPU ${(gateway.cpuMicrosPerDelivery / ws.cpuMicrosPerDelivery).toFixed(2)}× B_ws (≤ 1.0; ` +
      `stretch ${(gateway.cpuMicrosPerDelivery / raw.cpuMicrosPerDelivery).toFixed(1)}× B_raw ≤ 3), ` +
      `p99 ${(gateway.p99 / Math.max(ws.p99, 1)).toFixed(2)}× B_ws (≤ 1.2)`,
  );
}

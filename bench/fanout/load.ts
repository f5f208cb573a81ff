/**
 * One fan-out run, in its own process (pinned to its own core by the runner): opens
 * `subscribers` WebSocket subscribers, makes `events` changes one after another, and
 * measures every delivery. argv[2]: JSON FanoutRequest; prints one JSON FanoutResult.
 */
import { readFileSync } from "node:fs";
import { type Client, createClient } from "graphql-ws";
import WebSocket from "ws";

export type FanoutRequest = {
  port: number;
  /** `raw` (B_raw), `yoga` (B_ws) or `gateway`. */
  target: "raw" | "yoga" | "gateway";
  serverPid: number;
  subscribers: number;
  events: number;
};

export type FanoutResult = {
  subscribers: number;
  events: number;
  delivered: number;
  lost: number;
  serverCpuMs: number;
  cpuMicrosPerDelivery: number;
  p50: number;
  p99: number;
};

const request = JSON.parse(process.argv[2] ?? "{}") as FanoutRequest;
const base = `127.0.0.1:${request.port}`;

/** Events each subscriber has received, and when the last one arrived. */
const received = new Array<number>(request.subscribers).fill(0);
let onDelivery: (subscriber: number) => void = () => {};
const record = (subscriber: number) => {
  received[subscriber] = (received[subscriber] ?? 0) + 1;
  onDelivery(subscriber);
};

const clients: Client[] = [];
const sockets: WebSocket[] = [];

async function connectAll(): Promise<void> {
  // In batches, so connection bursts stay under the listen backlog.
  for (let start = 0; start < request.subscribers; start += 200) {
    const batch = [];
    for (let i = start; i < Math.min(start + 200, request.subscribers); i++) batch.push(connect(i));
    await Promise.all(batch);
  }
}

function connect(i: number): Promise<void> {
  if (request.target === "raw") {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`ws://${base}/`);
      socket.on("open", () => resolve());
      socket.on("error", reject);
      socket.on("message", () => record(i));
      sockets.push(socket);
    });
  }
  const client = createClient({
    url: `ws://${base}/graphql`,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
  });
  clients.push(client);
  const query =
    request.target === "yoga"
      ? "subscription { tick { at } }"
      : 'subscription { serviceStatusChanged(serviceId: "svc-0-0") { status at service { id } } }';
  client.subscribe({ query }, { next: () => record(i), error: () => {}, complete: () => {} });
  return new Promise((resolve) => client.on("connected", () => resolve()));
}

let toggle = 0;
async function trigger(): Promise<void> {
  if (request.target === "gateway") {
    const status = toggle++ % 2 === 0 ? "MAINTENANCE" : "ONLINE";
    await fetch(`http://${base}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({
        query: `mutation { updateServiceStatus(id: "svc-0-0", status: ${status}) { id } }`,
      }),
    });
    return;
  }
  await fetch(`http://${base}/publish`, { method: "POST" });
}

/** Waits until every subscriber has `count` events, or `timeoutMs` passes. */
function everyoneHas(count: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = () => received.every((n) => n >= count);
    if (done()) return resolve(true);
    const timer = setTimeout(() => {
      onDelivery = () => {};
      resolve(false);
    }, timeoutMs);
    onDelivery = () => {
      if (done()) {
        clearTimeout(timer);
        onDelivery = () => {};
        resolve(true);
      }
    };
  });
}

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  // utime and stime, in clock ticks of 10 ms.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

await connectAll();
// No acknowledgement says a subscription is in place: warm up until everyone hears one.
for (let attempt = 0; attempt < 100 && !(await everyoneHas(1, 0)); attempt++) {
  await trigger();
  await everyoneHas(1, 300);
}
received.fill(0);

const latencies: number[] = [];
const cpuBefore = cpuMs(request.serverPid);
for (let event = 1; event <= request.events; event++) {
  const sent = performance.now();
  onDelivery = () => {};
  const arrivals: number[] = [];
  const all = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 10_000);
    let count = 0;
    onDelivery = () => {
      arrivals.push(performance.now() - sent);
      count += 1;
      if (count === request.subscribers) {
        clearTimeout(timer);
        resolve(true);
      }
    };
  });
  await trigger();
  await all;
  latencies.push(...arrivals);
}
const serverCpuMs = cpuMs(request.serverPid) - cpuBefore;

const delivered = received.reduce((sum, n) => sum + n, 0);
latencies.sort((a, b) => a - b);
const at = (q: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
const result: FanoutResult = {
  subscribers: request.subscribers,
  events: request.events,
  delivered,
  lost: request.subscribers * request.events - delivered,
  serverCpuMs,
  cpuMicrosPerDelivery: (serverCpuMs * 1000) / Math.max(delivered, 1),
  p50: Math.round(at(0.5)),
  p99: Math.round(at(0.99)),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
for (const client of clients) void client.dispose();
for (const socket of sockets) socket.close();
process.exit(0);

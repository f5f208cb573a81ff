import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { createServiceAgent, type ServiceAgent } from "../../src/client/index.js";
import {
  dataOf,
  STANDARD_ADMIN_TOKEN,
  startGateway,
  type TestGateway,
  tokensMode,
} from "../helpers/gateway.js";
import { eventually } from "../helpers/wait.js";
import { startTcpProxy } from "./tcp-proxy.js";

const token = tokensMode ? STANDARD_ADMIN_TOKEN : undefined;
const SERVICE = `query($id: ID!) { service(id: $id) { id status } }`;

const registration = {
  name: "Billing",
  type: "billing",
  version: "1.2.0",
  // Nothing answers there: probes are off in tests, and the agent never calls it.
  baseUrl: "http://127.0.0.1:9",
  heartbeatIntervalSeconds: 1,
  ttlSeconds: 3,
};

async function serviceAt(gateway: TestGateway, id: string) {
  return dataOf(
    await gateway.graphql<{ service: { id: string; status: string } | null }>(SERVICE, { id }),
  ).service;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track(agent: ServiceAgent) {
  const seen = { registered: 0, heartbeats: 0, errors: [] as string[] };
  agent.on("registered", () => seen.registered++);
  agent.on("heartbeat", () => seen.heartbeats++);
  agent.on("error", (error) => seen.errors.push(error.code));
  cleanups.push(() => agent.stop());
  return seen;
}

describe("createServiceAgent", () => {
  it("registers, heartbeats, reports DEGRADED and unregisters on stop", async () => {
    const gateway = await startGateway();
    cleanups.push(() => gateway.stop());
    const agent = createServiceAgent({ gatewayUrl: gateway.url, token, service: registration });
    const seen = track(agent);

    await agent.start();
    const state = agent.status();
    if (state.kind !== "registered") throw new Error(`not registered: ${state.kind}`);
    const id = state.serviceId;
    expect(await serviceAt(gateway, id)).toEqual({ id, status: "ONLINE" });

    await eventually(() => expect(seen.heartbeats).toBeGreaterThanOrEqual(1));
    await agent.reportStatus("DEGRADED");
    expect(await serviceAt(gateway, id)).toEqual({ id, status: "DEGRADED" });

    await agent.stop();
    expect(agent.status().kind).toBe("stopped");
    expect(await serviceAt(gateway, id)).toBeNull();
    expect(seen.errors).toEqual([]);
  });

  it("registers again, under the same id, when a heartbeat is answered NOT_FOUND", async () => {
    const gateway = await startGateway();
    cleanups.push(() => gateway.stop());
    const agent = createServiceAgent({ gatewayUrl: gateway.url, token, service: registration });
    const seen = track(agent);
    await agent.start();
    const { serviceId } = agent.status() as { serviceId: string };

    // What a gateway that lost its store answers: the id is unknown.
    await gateway.removeAllServices();
    await eventually(() => expect(seen.registered).toBe(2));
    expect(await serviceAt(gateway, serviceId)).toMatchObject({ id: serviceId });
    expect(seen.errors).toEqual([]);
  });

  it("keeps trying while the gateway is down and registers with the fresh one", async () => {
    const first = await startGateway();
    const proxy = await startTcpProxy(first.url);
    cleanups.push(() => proxy.down());
    const agent = createServiceAgent({
      gatewayUrl: proxy.url,
      token,
      service: registration,
      backoff: { baseMs: 50, maxMs: 200 },
    });
    const seen = track(agent);
    await agent.start();
    const { serviceId } = agent.status() as { serviceId: string };

    await proxy.down();
    await first.stop();
    await eventually(() => expect(seen.errors.length).toBeGreaterThanOrEqual(2));
    const state = agent.status();
    expect(state.kind).toBe("retrying");
    expect(state.kind === "retrying" && state.lastError.code).toBe("NETWORK_ERROR");

    // A restarted gateway: a new process with an empty in-memory store and database.
    const second = await startGateway();
    cleanups.push(() => second.stop());
    expect(await serviceAt(second, serviceId)).toBeNull();
    await proxy.up(second.url);
    await eventually(async () =>
      expect(await serviceAt(second, serviceId)).toEqual({ id: serviceId, status: "ONLINE" }),
    );
    await eventually(() => expect(agent.status().kind).toBe("registered"));
  });

  it("rejects start when the gateway refuses the registration", async () => {
    const gateway = await startGateway();
    cleanups.push(() => gateway.stop());
    const agent = createServiceAgent({
      gatewayUrl: gateway.url,
      token,
      service: { ...registration, baseUrl: "not a url" },
    });
    await expect(agent.start()).rejects.toMatchObject({ code: "BAD_USER_INPUT" });
    expect(agent.status().kind).toBe("stopped");
  });

  it("stopOnSignals unregisters on SIGTERM, then lets the process end", async () => {
    const gateway = await startGateway();
    cleanups.push(() => gateway.stop());
    const script = fileURLToPath(new URL("./signal-agent.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", script], {
      env: { PATH: process.env.PATH, GATEWAY_URL: gateway.url, GATEWAY_TOKEN: token ?? "" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = once(child, "exit");
    const [id] = (await once(createInterface({ input: child.stdout }), "line")) as [string];
    expect(await serviceAt(gateway, id)).toMatchObject({ id, status: "ONLINE" });

    child.kill("SIGTERM");
    const [code, signal] = await exited;
    // The agent re-raises the signal once it has unregistered: the default action ends it.
    expect({ code, signal }).toEqual({ code: null, signal: "SIGTERM" });
    expect(await serviceAt(gateway, id)).toBeNull();
  });
});

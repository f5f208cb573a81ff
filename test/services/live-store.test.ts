import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMemoryRegistryStore } from "../../src/stores/memory-registry.js";
import type { RegistryStore } from "../../src/stores/registry.js";
import { dataOf, errorCodeOf, startGateway, type TestGateway } from "../helpers/gateway.js";

/**
 * A live store whose backend connection the test drops and restores, and whose data it
 * can wipe, as a Redis restart does: the same memory store behind it, replaced by a new
 * empty one on `restartEmpty`.
 */
function restartableStore() {
  let inner = createMemoryRegistryStore();
  let listeners: ((connected: boolean) => void)[] = [];
  let connected = true;
  const live = <K extends keyof RegistryStore>(name: K) =>
    ((...args: never[]) => {
      if (!connected) return Promise.reject(new Error("connection lost"));
      return (inner[name] as (...a: never[]) => unknown)(...args);
    }) as RegistryStore[K];
  const store: RegistryStore = {
    kind: "restartable",
    get: live("get"),
    find: live("find"),
    put: live("put"),
    remove: live("remove"),
    heartbeat: live("heartbeat"),
    saveHealth: live("saveHealth"),
    appendHealthCheck: live("appendHealthCheck"),
    recentHealthChecks: live("recentHealthChecks"),
    nextCounter: live("nextCounter"),
    revision: live("revision"),
    isRestored: live("isRestored"),
    markRestored: live("markRestored"),
    appendChange: live("appendChange"),
    changesSince: live("changesSince"),
    ping: live("ping"),
    onConnectionChange(listener) {
      listeners.push(listener);
      return () => {
        listeners = listeners.filter((l) => l !== listener);
      };
    },
  };
  return {
    store,
    /** The server goes away: the connection drops. */
    crash() {
      connected = false;
      for (const listener of listeners) listener(false);
    },
    /** It comes back empty, and the connection is ready again. */
    comeBackEmpty() {
      inner = createMemoryRegistryStore();
      connected = true;
      for (const listener of listeners) listener(true);
    },
    /** Its data vanishes while the connection stays (FLUSHALL). */
    flush() {
      inner = createMemoryRegistryStore();
    },
  };
}

const REGISTER = `mutation ($input: RegisterServiceInput!) {
  registerService(input: $input) { id status registeredAt } }`;
const owner = { authorization: "Bearer the-owner" };
const other = { authorization: "Bearer someone-else" };
const input = {
  id: "ls-1",
  name: "ls",
  type: "worker",
  version: "1.0.0",
  baseUrl: "http://w.test",
};

describe("the live store after its backend lost its state", () => {
  let gateway: TestGateway;
  const backend = restartableStore();

  beforeAll(async () => {
    // A long check interval: recovery must come from the reconnect, not the loop.
    gateway = await startGateway({ store: backend.store, restoreCheckIntervalMs: 3_600_000 });
  });
  afterAll(() => gateway.stop());

  it("refuses registry reads and writes until restored, then answers from the restored state", async () => {
    const registered = dataOf<{ registerService: { registeredAt: string } }>(
      await gateway.graphql(REGISTER, { input }, owner),
    );
    dataOf(
      await gateway.graphql(
        `mutation { updateServiceStatus(id: "ls-1", status: MAINTENANCE) { id } }`,
        {},
        owner,
      ),
    );

    backend.crash();
    for (const [query, headers] of [
      [`mutation { heartbeat(id: "ls-1") { id } }`, owner],
      [`{ services { totalCount } }`, {}],
      [`{ service(id: "ls-1") { id } }`, {}],
      [REGISTER, other],
    ] as const) {
      expect(errorCodeOf(await gateway.graphql(query, { input }, headers))).toBe(
        "SERVICE_UNAVAILABLE",
      );
    }
    const notReady = await fetch(`${gateway.url}/health/ready`);
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toContain("live registry");

    // Back, empty: the reconnect itself restores it (the periodic check is an hour away).
    backend.comeBackEmpty();
    await gateway.app.services.liveStore.restore();
    expect((await fetch(`${gateway.url}/health/ready`)).status).toBe(200);
    expect(
      dataOf(await gateway.graphql(`{ service(id: "ls-1") { status registeredAt } }`)),
    ).toEqual({
      service: { status: "MAINTENANCE", registeredAt: registered.registerService.registeredAt },
    });
    expect(errorCodeOf(await gateway.graphql(REGISTER, { input }, other))).toBe("FORBIDDEN");
  });

  it("checks ownership against the database when the live store has lost an id it still shows as whole", async () => {
    dataOf(await gateway.graphql(REGISTER, { input: { ...input, id: "ls-2" } }, owner));
    const before = dataOf<{ service: { registeredAt: string } }>(
      await gateway.graphql(`{ service(id: "ls-2") { registeredAt } }`),
    );
    // Flushed behind the gateway's back, before any check could notice.
    backend.flush();
    await backend.store.markRestored();

    expect(
      errorCodeOf(await gateway.graphql(REGISTER, { input: { ...input, id: "ls-2" } }, other)),
    ).toBe("FORBIDDEN");
    const again = dataOf<{ registerService: { registeredAt: string } }>(
      await gateway.graphql(REGISTER, { input: { ...input, id: "ls-2" } }, owner),
    );
    expect(again.registerService.registeredAt).toBe(before.service.registeredAt);
  });
});

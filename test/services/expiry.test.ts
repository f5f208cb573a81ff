import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { anonymousCaller } from "../../src/domain/access.js";
import type { StatusChange } from "../../src/domain/service.js";
import { createInProcessEvents } from "../../src/events.js";
import { createServices, type Services } from "../../src/services/index.js";
import { createMemoryLeaseStore, type LeaseStore } from "../../src/stores/lease.js";
import { createMemoryRegistryStore } from "../../src/stores/memory-registry.js";
import type { RegistryStore } from "../../src/stores/registry.js";
import { type ManualClock, manualClock } from "../helpers/clock.js";
import { migratedPglite } from "../helpers/database.js";
import { eventually } from "../helpers/wait.js";

/** The services on a clock the test moves by hand. */
async function servicesAt(clock: ManualClock, leases: LeaseStore, store?: RegistryStore) {
  const services = createServices({
    store: store ?? createMemoryRegistryStore(),
    database: await migratedPglite(),
    events: createInProcessEvents(),
    log: pino({ level: "silent" }),
    maxPageSize: 100,
    leases,
    clock,
  });
  // What start() does first, without the background loops this test drives by hand.
  await services.liveStore.restore();
  return services;
}

const register = (services: Services, id: string, ttlSeconds = 30) =>
  services.registry.register(
    {
      id,
      name: id,
      type: "worker",
      version: "1",
      baseUrl: `http://${id}.test`,
      heartbeatIntervalSeconds: 10,
      ttlSeconds,
    },
    anonymousCaller(),
  );

describe("heartbeat expiry", () => {
  let clock: ManualClock;
  let services: Services;
  let changes: StatusChange[];
  let stopListening: () => void;

  beforeEach(async () => {
    clock = manualClock(Date.parse("2026-05-01T12:00:00.000Z"));
    services = await servicesAt(clock, createMemoryLeaseStore({ clock }));
    changes = [];
    const iterator = services.watch.statusChanges({})[Symbol.asyncIterator]();
    let listening = true;
    void (async () => {
      while (listening) {
        const next = await iterator.next();
        if (next.done) return;
        changes.push(next.value);
      }
    })();
    stopListening = () => {
      listening = false;
      void iterator.return?.();
    };
  });
  afterEach(() => stopListening());

  it("takes a service OFFLINE once its heartbeat is older than its TTL, and a heartbeat brings it back", async () => {
    for (const id of ["a", "b", "c", "d"]) await register(services, id);
    clock.advance(20_000);
    await services.registry.heartbeat("b", null, anonymousCaller());
    await services.registry.heartbeat("c", null, anonymousCaller());
    await services.registry.heartbeat("d", null, anonymousCaller());
    clock.advance(15_000); // a: 35 s without a heartbeat, b–d: 15 s

    expect(await services.expiry.sweep()).toEqual({ leader: true, expired: 1, held: 0 });
    expect((await services.discovery.get("a"))?.status).toBe("OFFLINE");
    expect((await services.discovery.get("b"))?.status).toBe("ONLINE");
    // The status change reaches the watcher through the events, after sweep() returns.
    await eventually(() =>
      expect(
        changes.map((change) => [change.service.id, change.status, change.reason]),
      ).toContainEqual(["a", "OFFLINE", "heartbeat expired"]),
    );
    const history = await services.registry.history("a", { first: 5 });
    expect(history[0]).toMatchObject({
      previousStatus: "ONLINE",
      status: "OFFLINE",
      reason: "heartbeat expired",
    });

    await services.registry.heartbeat("a", null, anonymousCaller());
    expect((await services.discovery.get("a"))?.status).toBe("ONLINE");
    expect((await services.expiry.sweep()).expired).toBe(0);
  });

  it("never expires MAINTENANCE", async () => {
    await register(services, "m");
    await services.registry.updateStatus("m", "MAINTENANCE", anonymousCaller());
    clock.advance(3_600_000);
    expect((await services.expiry.sweep()).expired).toBe(0);
    expect((await services.discovery.get("m"))?.status).toBe("MAINTENANCE");
  });

  it("holds expiry when most services go silent at once, and says so until they return", async () => {
    for (const id of ["a", "b", "c", "d", "e"]) await register(services, id);
    clock.advance(31_000); // every heartbeat overdue: the gateway's network, not five services
    expect(await services.expiry.sweep()).toEqual({ leader: true, expired: 0, held: 5 });
    expect(services.expiry.selfPreservation()).toMatchObject({ active: true, held: 5 });
    expect((await services.discovery.list({}, {})).nodes.every((s) => s.status === "ONLINE")).toBe(
      true,
    );

    for (const id of ["a", "b", "c", "d"])
      await services.registry.heartbeat(id, null, anonymousCaller());
    expect(await services.expiry.sweep()).toEqual({ leader: true, expired: 1, held: 0 });
    expect(services.expiry.selfPreservation().active).toBe(false);
    expect((await services.discovery.get("e"))?.status).toBe("OFFLINE");
  });

  it("lets only the lease holder sweep", async () => {
    const leases = createMemoryLeaseStore({ clock });
    const store = createMemoryRegistryStore();
    const first = await servicesAt(clock, leases, store);
    const second = await servicesAt(clock, leases, store);
    await register(first, "x");
    clock.advance(60_000);
    expect((await first.expiry.sweep()).leader).toBe(true);
    expect((await second.expiry.sweep()).leader).toBe(false);
    await first.expiry.stop();
    expect((await second.expiry.sweep()).leader).toBe(true);
  });
});

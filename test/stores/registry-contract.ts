import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { JsonValue } from "../../src/domain/json.js";
import { type HealthCheck, type ServiceRecord, serviceStatuses } from "../../src/domain/service.js";
import { statusAfterHeartbeat } from "../../src/domain/status.js";
import type { RegistryStore } from "../../src/stores/registry.js";

export type StoreHarness = { store: RegistryStore; dispose(): Promise<void> };

/** A probe result after `failures` failed probes in a row. */
function failingCheck(serviceId: string, failures: number): HealthCheck {
  return {
    serviceId,
    status: "OFFLINE",
    reachable: false,
    httpStatus: null,
    latencyMs: null,
    checkedAt: "2026-02-01T09:59:00.000Z",
    error: "ECONNREFUSED",
    body: null,
    consecutiveFailures: failures,
    consecutiveSuccesses: 0,
  };
}

let sequence = 0;

export function serviceRecord(overrides: Partial<ServiceRecord> = {}): ServiceRecord {
  sequence += 1;
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, sequence)).toISOString();
  return {
    id: `svc-${sequence}`,
    name: `service ${sequence}`,
    type: "PLANNING_SYSTEM",
    version: "1.0.0",
    baseUrl: "http://planner.internal:8000",
    healthCheckUrl: "http://planner.internal:8000/health",
    endpoints: [{ path: "/plans", method: "POST", description: "", requiredPermissions: [] }],
    capabilities: ["planning"],
    tags: ["eu"],
    metadata: { region: "eu-west-1", limits: { rpm: 100 } },
    heartbeatIntervalSeconds: 30,
    ttlSeconds: 90,
    probeIntervalSeconds: null,
    graphql: null,
    owner: null,
    status: "ONLINE",
    lastHeartbeat: at,
    registeredAt: at,
    updatedAt: at,
    health: null,
    ...overrides,
  };
}

const ids = (records: ServiceRecord[]) => records.map((record) => record.id).sort();

/** One suite, run against every RegistryStore implementation. */
export function registryStoreContract(name: string, create: () => Promise<StoreHarness>) {
  describe(`RegistryStore contract: ${name}`, () => {
    let harness: StoreHarness;
    let store: RegistryStore;

    beforeEach(async () => {
      harness = await create();
      store = harness.store;
    });
    afterEach(() => harness.dispose());

    async function insert(record: ServiceRecord) {
      const result = await store.put(record, null);
      expect(result.ok).toBe(true);
      return record;
    }

    it("stores a new record and reads it back whole, at version 1", async () => {
      const record = await insert(serviceRecord({ owner: "abc", tags: ["eu", "gpu"] }));
      const stored = await store.get(record.id);
      expect(stored).toEqual({ record, version: 1 });
      expect(await store.get("missing")).toBeNull();
    });

    it("keeps a declared GraphQL API, through get, find and a heartbeat", async () => {
      const graphql = { path: "/api/graphql", kind: "PLAIN" } as const;
      const record = await insert(serviceRecord({ graphql }));
      expect((await store.get(record.id))?.record.graphql).toEqual(graphql);
      expect((await store.find({ type: record.type }))[0]?.graphql).toEqual(graphql);
      const beat = await store.heartbeat({
        id: record.id,
        at: "2026-02-01T10:00:00.000Z",
        status: null,
        callerOwner: null,
        callerIsAdmin: false,
        unownedIsOpen: true,
      });
      expect(beat).toMatchObject({ outcome: "ok", record: { graphql } });
    });

    it("refuses a write whose expected version is stale, and changes nothing", async () => {
      const record = await insert(serviceRecord());
      expect(await store.put({ ...record, name: "first" }, 1)).toMatchObject({ ok: true });
      const stale = await store.put({ ...record, name: "second" }, 1);
      expect(stale).toEqual({ ok: false, reason: "conflict" });
      expect((await store.get(record.id))?.record.name).toBe("first");
      expect(await store.put(serviceRecord({ id: record.id }), null)).toEqual({
        ok: false,
        reason: "conflict",
      });
    });

    it("finds by type, status, capability and tags, each narrowing the result", async () => {
      const a = await insert(serviceRecord({ tags: ["eu", "gpu"], capabilities: ["plan"] }));
      const b = await insert(serviceRecord({ status: "DEGRADED", tags: ["eu"] }));
      const c = await insert(serviceRecord({ type: "AGENT_ORCHESTRATOR", tags: ["us"] }));
      const d = await insert(serviceRecord({ status: "OFFLINE", capabilities: ["plan"] }));

      expect(ids(await store.find({}))).toEqual(ids([a, b, c, d]));
      expect(ids(await store.find({ type: "PLANNING_SYSTEM" }))).toEqual(ids([a, b, d]));
      expect(ids(await store.find({ statuses: ["ONLINE", "DEGRADED"] }))).toEqual(ids([a, b, c]));
      expect(ids(await store.find({ capability: "plan" }))).toEqual(ids([a, d]));
      expect(ids(await store.find({ tags: ["eu", "gpu"] }))).toEqual(ids([a]));
      expect(
        ids(await store.find({ type: "PLANNING_SYSTEM", tags: ["eu"], statuses: ["DEGRADED"] })),
      ).toEqual(ids([b]));
      expect(await store.find({ type: "NO_SUCH_TYPE" })).toEqual([]);
    });

    it("moves a service between indexes when its type, tags or capabilities change", async () => {
      const record = await insert(serviceRecord({ tags: ["eu"], capabilities: ["plan"] }));
      await store.put(
        { ...record, type: "AGENT_ORCHESTRATOR", tags: ["us"], capabilities: ["execute"] },
        1,
      );
      expect(await store.find({ type: "PLANNING_SYSTEM" })).toEqual([]);
      expect(await store.find({ tags: ["eu"] })).toEqual([]);
      expect(await store.find({ capability: "plan" })).toEqual([]);
      expect(ids(await store.find({ type: "AGENT_ORCHESTRATOR", tags: ["us"] }))).toEqual([
        record.id,
      ]);
    });

    it("removes a service with every index entry, and says when there was nothing", async () => {
      const record = await insert(serviceRecord({ owner: "owner-key" }));
      const removed = await store.remove(record.id);
      expect(removed).toMatchObject({ ok: true, removed: record });
      expect(await store.get(record.id)).toBeNull();
      expect(await store.find({})).toEqual([]);
      expect(await store.find({ type: record.type })).toEqual([]);
      expect(await store.find({ statuses: ["ONLINE"] })).toEqual([]);
      expect(await store.remove(record.id)).toEqual({ ok: false, reason: "not_found" });
    });

    it("removes only the expected version when one is given", async () => {
      const record = await insert(serviceRecord());
      await store.put({ ...record, name: "changed meanwhile" }, 1);
      expect(await store.remove(record.id, 1)).toEqual({ ok: false, reason: "conflict" });
      expect((await store.get(record.id))?.record.name).toBe("changed meanwhile");
      expect(await store.remove(record.id, 2)).toMatchObject({ ok: true });
    });

    it("keeps metadata of any depth intact through every write", async () => {
      let deep: JsonValue = "bottom";
      for (let i = 0; i < 1500; i++) deep = [deep];
      const record = await insert(serviceRecord({ metadata: { deep }, tags: ["x"] }));
      await store.put({ ...record, tags: ["y"] }, 1);
      expect((await store.get(record.id))?.record.metadata).toEqual({ deep });
      expect(ids(await store.find({ tags: ["y"] }))).toEqual([record.id]);
      expect(await store.find({ tags: ["x"] })).toEqual([]);
      expect(await store.remove(record.id)).toMatchObject({ ok: true });
      expect(await store.find({})).toEqual([]);
    });

    it("matches no service for an empty list of statuses", async () => {
      await insert(serviceRecord());
      expect(await store.find({ statuses: [] })).toEqual([]);
    });

    it("counts a revision for every change, and only for changes", async () => {
      const start = await store.revision();
      const record = await insert(serviceRecord());
      await store.put({ ...record, name: "renamed" }, 1);
      await store.heartbeat({
        id: record.id,
        at: new Date().toISOString(),
        status: null,
        callerOwner: null,
        callerIsAdmin: false,
        unownedIsOpen: true,
      });
      await store.remove(record.id);
      await store.remove(record.id);
      expect(await store.revision()).toBe(start + 3);
    });

    describe("heartbeat", () => {
      const beat = (
        id: string,
        overrides: Partial<Parameters<RegistryStore["heartbeat"]>[0]> = {},
      ) =>
        store.heartbeat({
          id,
          at: "2026-02-01T10:00:00.000Z",
          status: null,
          callerOwner: null,
          callerIsAdmin: false,
          unownedIsOpen: true,
          ...overrides,
        });

      it("refreshes lastHeartbeat without a revision when the status stays", async () => {
        const record = await insert(serviceRecord());
        const result = await beat(record.id);
        expect(result).toMatchObject({ outcome: "ok", previousStatus: "ONLINE", revision: null });
        const stored = await store.get(record.id);
        expect(stored?.record.lastHeartbeat).toBe("2026-02-01T10:00:00.000Z");
        expect(stored?.version).toBe(2);
      });

      it("brings an OFFLINE service back ONLINE, re-indexed, with a revision", async () => {
        const record = await insert(serviceRecord({ status: "OFFLINE" }));
        const before = await store.revision();
        const result = await beat(record.id);
        expect(result).toMatchObject({
          outcome: "ok",
          previousStatus: "OFFLINE",
          revision: before + 1,
        });
        expect(ids(await store.find({ statuses: ["ONLINE"] }))).toEqual([record.id]);
        expect(await store.find({ statuses: ["OFFLINE"] })).toEqual([]);
      });

      it("leaves a service its probes failed OFFLINE: the probes bring it back", async () => {
        const record = await insert(serviceRecord({ status: "OFFLINE" }));
        await store.saveHealth(failingCheck(record.id, 3));
        expect(await beat(record.id)).toMatchObject({ outcome: "ok", revision: null });
        expect((await store.get(record.id))?.record.status).toBe("OFFLINE");
      });

      it("keeps MAINTENANCE and DEGRADED unless the service reports a status", async () => {
        const maintenance = await insert(serviceRecord({ status: "MAINTENANCE" }));
        const degraded = await insert(serviceRecord({ status: "DEGRADED" }));
        expect((await beat(maintenance.id)).outcome).toBe("ok");
        expect((await beat(degraded.id)).outcome).toBe("ok");
        expect((await store.get(maintenance.id))?.record.status).toBe("MAINTENANCE");
        expect((await store.get(degraded.id))?.record.status).toBe("DEGRADED");

        const reported = await beat(degraded.id, { status: "ONLINE" });
        expect(reported).toMatchObject({ outcome: "ok", record: { status: "ONLINE" } });
        expect(ids(await store.find({ statuses: ["DEGRADED"] }))).toEqual([]);
      });

      it("accepts heartbeats for an owned service only from its owner or an admin", async () => {
        const record = await insert(serviceRecord({ owner: "owner-key" }));
        expect(await beat(record.id, { callerOwner: "someone-else" })).toEqual({
          outcome: "forbidden",
        });
        expect(await beat(record.id)).toEqual({ outcome: "forbidden" });
        expect((await store.get(record.id))?.record.lastHeartbeat).toBe(record.lastHeartbeat);
        expect((await beat(record.id, { callerOwner: "owner-key" })).outcome).toBe("ok");
        expect((await beat(record.id, { callerIsAdmin: true })).outcome).toBe("ok");
      });

      it("accepts heartbeats for a service without an owner from anyone only in open mode", async () => {
        const record = await insert(serviceRecord({ owner: null }));
        const tokensMode = { unownedIsOpen: false, callerOwner: "a-service-token" };
        expect(await beat(record.id, tokensMode)).toEqual({ outcome: "forbidden" });
        expect((await store.get(record.id))?.record.lastHeartbeat).toBe(record.lastHeartbeat);
        expect((await beat(record.id, { ...tokensMode, callerIsAdmin: true })).outcome).toBe("ok");
        expect((await beat(record.id, { callerOwner: "anyone" })).outcome).toBe("ok");
      });

      it("reports an unknown id", async () => {
        expect(await beat("missing")).toEqual({ outcome: "not_found" });
      });

      it("leaves every status where statusAfterHeartbeat() says, for every input", async () => {
        // The Redis store applies the rule in Lua; this holds both stores to the one rule.
        for (const current of serviceStatuses) {
          for (const reported of [null, ...serviceStatuses]) {
            for (const probeFailures of [0, 2]) {
              const record = await insert(serviceRecord({ status: current }));
              if (probeFailures > 0) await store.saveHealth(failingCheck(record.id, probeFailures));
              const expected = statusAfterHeartbeat(current, reported, probeFailures);
              const result = await beat(record.id, { status: reported });
              const input = { current, reported, probeFailures };
              expect({ input, result }).toMatchObject({
                input,
                result: { outcome: "ok", previousStatus: current, record: { status: expected } },
              });
              expect({ input, stored: (await store.get(record.id))?.record.status }).toEqual({
                input,
                stored: expected,
              });
              expect(ids(await store.find({ statuses: [expected] }))).toContain(record.id);
            }
          }
        }
      });
    });

    it("keeps the latest health check, under a version when given, never for a removed service", async () => {
      const record = await insert(serviceRecord());
      const check = {
        serviceId: record.id,
        status: "ONLINE" as const,
        reachable: true,
        httpStatus: 200,
        latencyMs: 12.5,
        checkedAt: "2026-02-01T10:00:00.000Z",
        error: null,
        body: { status: "healthy" },
        consecutiveFailures: 0,
        consecutiveSuccesses: 3,
      };
      expect(await store.saveHealth(check)).toBe("saved");
      expect((await store.get(record.id))?.record.health).toEqual(check);
      expect(await store.saveHealth({ ...check, latencyMs: 1 }, 1)).toBe("conflict");
      expect((await store.get(record.id))?.record.health?.latencyMs).toBe(12.5);
      expect(await store.saveHealth({ ...check, latencyMs: 2 }, 2)).toBe("saved");
      await store.remove(record.id);
      expect(await store.saveHealth(check)).toBe("missing");
    });

    it("keeps a ring of the newest health checks per service, dropped with the service", async () => {
      const [record, other] = [await insert(serviceRecord()), await insert(serviceRecord())];
      const check = (latencyMs: number): HealthCheck => ({
        ...failingCheck(record.id, 0),
        status: "ONLINE",
        reachable: true,
        httpStatus: 200,
        latencyMs,
        error: null,
      });
      for (let latency = 1; latency <= 5; latency++)
        await store.appendHealthCheck(check(latency), 3);
      await store.appendHealthCheck({ ...check(99), serviceId: other.id }, 3);
      const latencies = async (id: string, limit: number) =>
        (await store.recentHealthChecks(id, limit)).map((kept) => kept.latencyMs);
      expect(await latencies(record.id, 10)).toEqual([5, 4, 3]);
      expect(await latencies(record.id, 2)).toEqual([5, 4]);
      expect(await latencies(record.id, 0)).toEqual([]);
      expect(await store.recentHealthChecks(record.id, 1)).toEqual([check(5)]);
      await store.remove(record.id);
      expect(await latencies(record.id, 10)).toEqual([]);
      expect(await latencies(other.id, 10)).toEqual([99]);
      expect(await latencies("never-registered", 10)).toEqual([]);
    });

    it("keeps the newest registry changes for catching up, oldest first", async () => {
      const record = serviceRecord();
      for (let revision = 1; revision <= 5; revision++) {
        await store.appendChange(
          { change: "UPDATED", service: record, revision, at: record.updatedAt },
          3,
        );
      }
      const since1 = await store.changesSince(1, 10);
      expect(since1.oldestKept).toBe(3);
      expect(since1.events.map((event) => event.revision)).toEqual([3, 4, 5]);
      expect(since1.events[0]?.service).toEqual(record);
      expect((await store.changesSince(3, 1)).events.map((event) => event.revision)).toEqual([4]);
      expect((await store.changesSince(5, 10)).events).toEqual([]);
    });

    it("hands out increasing counter values per name", async () => {
      const first = await store.nextCounter("round-robin:A");
      expect(await store.nextCounter("round-robin:A")).toBe(first + 1);
      expect(await store.nextCounter("round-robin:B")).toBe(1);
    });

    it("never lets a caller change stored state through a returned record", async () => {
      const record = await insert(serviceRecord());
      const [found] = (await store.find({})) as [ServiceRecord];
      try {
        (found as { name: string }).name = "mutated";
        (found.tags as string[]).push("mutated");
      } catch {
        // A frozen record refusing the write is one way to keep the store intact.
      }
      expect((await store.get(record.id))?.record).toEqual(record);
    });

    it("never shows a half-written service while writers race", async () => {
      const record = await insert(serviceRecord({ type: "TYPE_A", tags: ["a"] }));
      let version = 1;
      const writer = (async () => {
        for (let i = 0; i < 40; i++) {
          const next =
            i % 2 === 0 ? { type: "TYPE_B", tags: ["b"] } : { type: "TYPE_A", tags: ["a"] };
          const result = await store.put({ ...record, ...next }, version);
          if (result.ok) version += 1;
        }
      })();
      const readers = Array.from({ length: 40 }, async () => {
        for (const [type, tag] of [
          ["TYPE_A", "a"],
          ["TYPE_B", "b"],
        ] as const) {
          for (const found of await store.find({ type })) {
            expect(found.type).toBe(type);
            expect(found.tags).toEqual([tag]);
          }
        }
      });
      await Promise.all([writer, ...readers]);
      const all = await store.find({});
      expect(all).toHaveLength(1);
      expect(
        (await store.find({ type: "TYPE_A" })).length +
          (await store.find({ type: "TYPE_B" })).length,
      ).toBe(1);
    });
  });
}

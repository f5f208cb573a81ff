import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createRegistryRepository, type RegistryRepository } from "../../src/db/registry.js";
import type { ServiceRecord, StatusChange } from "../../src/domain/service.js";
import { openTestDatabase, postgresIsAvailable, type TestDatabase } from "../helpers/database.js";
import { serviceRecord } from "../stores/registry-contract.js";

const postgres = await postgresIsAvailable();

const change = (
  service: ServiceRecord,
  previous: StatusChange["previousStatus"],
  at: string,
): StatusChange => ({
  service,
  previousStatus: previous,
  status: service.status,
  reason: "test",
  at,
});

for (const kind of ["pglite", "postgres"] as const) {
  describe.runIf(kind === "pglite" || postgres)(`registry repository on ${kind}`, () => {
    let test: TestDatabase;
    let repository: RegistryRepository;

    const save = (record: ServiceRecord, statusChange: StatusChange | null) =>
      repository.saveMany([{ record, change: statusChange }]);

    beforeAll(async () => {
      test = await openTestDatabase(kind);
      repository = createRegistryRepository(test.database.db);
    });
    afterAll(() => test.dispose());
    beforeEach(() => test.truncate());

    it("applies its migrations, and applying them again changes nothing", async () => {
      expect(await test.database.isMigrated()).toBe(true);
      await test.database.migrate();
      expect(await test.database.isMigrated()).toBe(true);
    });

    it("saves a registration whole and loads it back", async () => {
      const record = serviceRecord({
        owner: "owner-key",
        metadata: { nested: { deep: [1, "two", null] } },
      });
      await save(record, change(record, null, record.registeredAt));
      expect(await repository.loadAll()).toEqual([record]);
    });

    it("keeps a declared GraphQL API; rows from before it declare none", async () => {
      const record = serviceRecord({ graphql: { path: "/graphql", kind: "FEDERATION" } });
      await save(record, change(record, null, record.registeredAt));
      expect(await repository.loadAll()).toEqual([record]);
      expect((await repository.history(record.id, { first: 1 }))[0]?.service).toEqual(record);

      // What a gateway before migration 0007 left: no column value, no field in the history.
      await test.database.db.execute(sql`UPDATE services SET graphql = NULL`);
      await test.database.db.execute(
        sql`UPDATE service_status_events SET service = service - 'graphql'`,
      );
      expect(await repository.getMany([record.id])).toEqual([{ ...record, graphql: null }]);
      expect((await repository.history(record.id, { first: 1 }))[0]?.service.graphql).toBeNull();
    });

    it("upserts by id, and records a transition only when given one", async () => {
      const record = serviceRecord();
      await save(record, change(record, null, "2026-03-01T10:00:00.000Z"));
      const renamed = { ...record, name: "renamed", status: "MAINTENANCE" as const };
      await save(renamed, change(renamed, "ONLINE", "2026-03-01T10:05:00.000Z"));
      await save({ ...renamed, version: "2.0.0" }, null);
      expect(await repository.loadAll()).toEqual([{ ...renamed, version: "2.0.0" }]);
      const history = await repository.history(record.id, { first: 10 });
      expect(history.map((event) => [event.previousStatus, event.status])).toEqual([
        ["ONLINE", "MAINTENANCE"],
        [null, "ONLINE"],
      ]);
      expect(history[0]?.service.name).toBe("renamed");
    });

    it("writes a batch in one go, the later record winning when an id repeats", async () => {
      const a = serviceRecord();
      const b = serviceRecord();
      await repository.saveMany([
        { record: a, change: change(a, null, "2026-03-01T10:00:00.000Z") },
        { record: b, change: null },
        { record: { ...a, name: "second write" }, change: null },
      ]);
      const byId = new Map((await repository.loadAll()).map((record) => [record.id, record]));
      expect(byId.get(a.id)?.name).toBe("second write");
      expect(byId.get(b.id)).toEqual(b);
      expect(await repository.history(a.id, { first: 5 })).toHaveLength(1);
    });

    it("keeps history after removal, and pages it newest first from a time", async () => {
      const record = serviceRecord();
      await save(record, change(record, null, "2026-03-01T10:00:00.000Z"));
      const offline = { ...record, status: "OFFLINE" as const };
      await save(offline, change(offline, "ONLINE", "2026-03-01T11:00:00.000Z"));
      const closing = {
        ...change(offline, "OFFLINE", "2026-03-01T12:00:00.000Z"),
        reason: "unregistered",
      };
      expect(await repository.remove(record.id, "2025-01-01T00:00:00.000Z", closing)).toBe(
        "changed",
      );
      expect(await repository.remove(record.id, offline.updatedAt, closing)).toBe("removed");
      expect(await repository.remove(record.id, offline.updatedAt, closing)).toBe("missing");
      expect(await repository.loadAll()).toEqual([]);
      const all = await repository.history(record.id, { first: 10 });
      expect(all.map((event) => event.at)).toEqual([
        "2026-03-01T12:00:00.000Z",
        "2026-03-01T11:00:00.000Z",
        "2026-03-01T10:00:00.000Z",
      ]);
      expect(await repository.history(record.id, { first: 1 })).toHaveLength(1);
      const since = await repository.history(record.id, {
        first: 10,
        since: "2026-03-01T10:30:00.000Z",
      });
      expect(since).toHaveLength(2);
    });

    it("records a transition found by a heartbeat without overwriting the registration", async () => {
      const record = serviceRecord({ status: "OFFLINE" });
      await save(record, null);
      const newer = { ...record, version: "9.9.9" };
      await save(newer, null);
      const revived = {
        ...record,
        status: "ONLINE" as const,
        lastHeartbeat: "2026-03-02T00:00:00.000Z",
      };
      await repository.recordTransition(change(revived, "OFFLINE", revived.lastHeartbeat));
      expect(await repository.loadAll()).toEqual([
        { ...newer, status: "ONLINE", lastHeartbeat: "2026-03-02T00:00:00.000Z" },
      ]);
      expect(await repository.history(record.id, { first: 5 })).toHaveLength(1);
    });

    it("writes heartbeat times in one batch, never moving one backwards", async () => {
      const a = serviceRecord({ lastHeartbeat: "2026-03-01T10:00:00.000Z" });
      const b = serviceRecord({ lastHeartbeat: "2026-03-01T10:00:00.000Z" });
      await save(a, null);
      await save(b, null);
      await repository.recordHeartbeats([
        { id: a.id, at: "2026-03-01T10:01:00.000Z" },
        { id: b.id, at: "2026-03-01T09:00:00.000Z" },
        { id: "unknown", at: "2026-03-01T10:01:00.000Z" },
      ]);
      const byId = new Map(
        (await repository.loadAll()).map((record) => [record.id, record.lastHeartbeat]),
      );
      expect(byId.get(a.id)).toBe("2026-03-01T10:01:00.000Z");
      expect(byId.get(b.id)).toBe("2026-03-01T10:00:00.000Z");
    });
  });
}

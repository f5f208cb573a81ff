import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuditRepository, createAuditRepository } from "../../src/db/audit.js";
import type { AuditEntry } from "../../src/domain/audit.js";
import { GatewayError } from "../../src/domain/errors.js";
import { createAuditTrail } from "../../src/services/audit.js";
import { createMemoryLeaseStore } from "../../src/stores/lease.js";
import { manualClock } from "../helpers/clock.js";
import {
  migratedPglite,
  openTestDatabase,
  postgresIsAvailable,
  type TestDatabase,
} from "../helpers/database.js";
import { eventually } from "../helpers/wait.js";

const postgres = await postgresIsAvailable();

const entry = (at: string, targets: string[], name: string | null = "admin"): AuditEntry => ({
  at,
  actor: {
    tokenId: name === null ? null : `config:${name}`,
    name,
    role: name === null ? null : "admin",
    address: "10.0.0.7",
  },
  transport: "graphql",
  operation: "updateServiceStatus",
  targets,
  result: "ok",
  requestId: null,
});

for (const kind of ["pglite", "postgres"] as const) {
  describe.runIf(kind === "pglite" || postgres)(`audit repository on ${kind}`, () => {
    let test: TestDatabase;
    let repository: AuditRepository;
    beforeAll(async () => {
      test = await openTestDatabase(kind);
      repository = createAuditRepository(test.database.db);
    });
    afterAll(() => test.dispose());

    it("pages newest first, by actor and by target", async () => {
      const at = "2030-01-01T00:00:00.000Z";
      await repository.insertMany([
        entry(at, ["a", "b"]),
        entry(at, ["b"], "ops"),
        entry(at, ["c"], null),
      ]);
      const all = await repository.page({ beforeId: null, limit: 10, actor: null, target: null });
      expect(all.map((row) => row.targets)).toEqual([["c"], ["b"], ["a", "b"]]);
      const older = await repository.page({
        beforeId: all[0]?.id ?? 0,
        limit: 1,
        actor: null,
        target: null,
      });
      expect(older.map((row) => row.targets)).toEqual([["b"]]);
      const byTarget = await repository.page({
        beforeId: null,
        limit: 10,
        actor: null,
        target: "b",
      });
      expect(byTarget).toHaveLength(2);
      for (const actor of ["ops", "config:ops"]) {
        const byActor = await repository.page({ beforeId: null, limit: 10, actor, target: null });
        expect(byActor.map((row) => row.targets)).toEqual([["b"]]);
      }
      const anonymous = await repository.page({
        beforeId: null,
        limit: 10,
        actor: "10.0.0.7",
        target: "c",
      });
      expect(anonymous.map((row) => row.actor.tokenId)).toEqual([null]);
    });

    it("deletes what is older than a time, across more than one batch", async () => {
      const old = "2001-01-01T00:00:00.000Z";
      await repository.insertMany(Array.from({ length: 5001 }, () => entry(old, ["old"])));
      await repository.insertMany([entry("2031-01-01T00:00:00.000Z", ["new"])]);
      expect(await repository.deleteOlderThan("2002-01-01T00:00:00.000Z")).toBe(5001);
      const left = await repository.page({ beforeId: null, limit: 10, actor: null, target: "old" });
      expect(left).toEqual([]);
      const kept = await repository.page({ beforeId: null, limit: 10, actor: null, target: "new" });
      expect(kept).toHaveLength(1);
    });
  });
}

describe("audit trail through a database outage", () => {
  it("holds entries while inserts fail and writes every one when they work again", async () => {
    const database = await migratedPglite();
    const real = createAuditRepository(database.db);
    let away = true;
    let refused = 0;
    const repository: AuditRepository = {
      ...real,
      insertMany: async (entries) => {
        if (away) {
          refused += 1;
          throw new GatewayError("SERVICE_UNAVAILABLE", "database away", {
            dependency: "database",
          });
        }
        return real.insertMany(entries);
      },
    };
    const trail = createAuditTrail({
      repository,
      leases: createMemoryLeaseStore(),
      clock: manualClock(),
      log: pino({ level: "silent" }),
      maxPageSize: 500,
      retentionDays: 30,
      retryIntervalMs: 20,
    });
    trail.start();
    try {
      for (let n = 0; n < 50; n += 1) {
        const { at: _stampedByTheTrail, ...event } = entry("", [`outage-${n}`]);
        trail.record({ ...event, requestId: `r-${n}` });
      }
      await eventually(() => expect(refused).toBeGreaterThanOrEqual(2));
      expect(trail.held).toBe(50);
      away = false;
      await eventually(() => expect(trail.held).toBe(0));
      const page = await trail.list({ first: 100 });
      expect(page.nodes.map((row) => row.requestId)).toEqual(
        Array.from({ length: 50 }, (_, n) => `r-${49 - n}`),
      );
    } finally {
      await trail.stop();
      await database.close();
    }
  });
});

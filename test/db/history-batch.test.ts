import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createRegistryRepository, type RegistryRepository } from "../../src/db/registry.js";
import type { ServiceRecord, StatusChange } from "../../src/domain/service.js";
import { openTestDatabase, postgresIsAvailable, type TestDatabase } from "../helpers/database.js";
import { serviceRecord } from "../stores/registry-contract.js";

const postgres = await postgresIsAvailable();

/** Transitions of `service`, one an hour from 10:00, alternating ONLINE and DEGRADED. */
function transitions(service: ServiceRecord, count: number): StatusChange[] {
  return Array.from({ length: count }, (_, i) => ({
    service: { ...service, status: i % 2 === 0 ? "ONLINE" : "DEGRADED" },
    previousStatus: i === 0 ? null : i % 2 === 0 ? "DEGRADED" : "ONLINE",
    status: i % 2 === 0 ? "ONLINE" : "DEGRADED",
    reason: `change ${i}`,
    at: new Date(Date.UTC(2026, 2, 1, 10 + i)).toISOString(),
  }));
}

for (const kind of ["pglite", "postgres"] as const) {
  describe.runIf(kind === "pglite" || postgres)(`status history read together on ${kind}`, () => {
    let test: TestDatabase;
    let repository: RegistryRepository;

    beforeAll(async () => {
      test = await openTestDatabase(kind);
      repository = createRegistryRepository(test.database.db);
    });
    afterAll(() => test.dispose());
    beforeEach(() => test.truncate());

    async function seed(count: number, events: number): Promise<ServiceRecord[]> {
      const records = Array.from({ length: count }, () => serviceRecord());
      await repository.saveMany(
        records.flatMap((record) =>
          transitions(record, events).map((change) => ({ record, change })),
        ),
      );
      return records;
    }

    it("answers reads made at once each with its own service's newest transitions", async () => {
      const [a, b, c] = (await seed(3, 4)) as [ServiceRecord, ServiceRecord, ServiceRecord];
      const [ofA, ofB, ofC, sinceB, none, unknown] = await Promise.all([
        repository.history(a.id, { first: 2 }),
        repository.history(b.id, { first: 10 }),
        repository.history(c.id, { first: 2 }),
        repository.history(b.id, { first: 10, since: "2026-03-01T12:00:00.000Z" }),
        repository.history(c.id, { first: 0 }),
        repository.history("never-registered", { first: 5 }),
      ]);
      expect(ofA.map((event) => [event.service.id, event.reason])).toEqual([
        [a.id, "change 3"],
        [a.id, "change 2"],
      ]);
      expect(ofB.map((event) => event.at)).toEqual([
        "2026-03-01T13:00:00.000Z",
        "2026-03-01T12:00:00.000Z",
        "2026-03-01T11:00:00.000Z",
        "2026-03-01T10:00:00.000Z",
      ]);
      expect(ofB[3]).toMatchObject({ previousStatus: null, status: "ONLINE" });
      expect(ofC.map((event) => event.service.id)).toEqual([c.id, c.id]);
      expect(sinceB.map((event) => event.reason)).toEqual(["change 3", "change 2"]);
      expect(none).toEqual([]);
      expect(unknown).toEqual([]);
    });

    it("reads the history of more services at once than fit in one statement", async () => {
      const records = await seed(620, 2);
      const histories = await Promise.all(
        records.map((record) => repository.history(record.id, { first: 1 })),
      );
      expect(histories.map((history) => history.map((event) => event.service.id))).toEqual(
        records.map((record) => [record.id]),
      );
      expect(histories.every(([event]) => event?.reason === "change 1")).toBe(true);
    });
  });
}

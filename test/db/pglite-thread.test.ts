import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Database, openDatabase } from "../../src/db/client.js";
import { guardDatabase } from "../../src/db/errors.js";

/*
 * Embedded PGlite on a data directory runs on a worker thread: the same database to
 * drizzle and the repositories, while its WebAssembly work leaves the gateway's thread
 * free.
 */
describe("embedded PGlite on its own thread", () => {
  const dir = mkdtempSync(join(tmpdir(), "sig-pglite-thread-"));
  let database: Database;

  beforeAll(async () => {
    database = await openDatabase({ dataDir: join(dir, "data") });
    await database.migrate();
    await database.db.execute(sql`CREATE TABLE probe_rows (id int PRIMARY KEY, at timestamptz)`);
  });
  afterAll(async () => {
    await database.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  it("commits a transaction, rolls one back on an error, and says which SQLSTATE", async () => {
    await database.db.transaction(async (tx) => {
      await tx.execute(sql`INSERT INTO probe_rows VALUES (1, '2026-01-02T03:04:05Z')`);
    });
    const duplicate = database.db.transaction(async (tx) => {
      await tx.execute(sql`INSERT INTO probe_rows VALUES (2, now())`);
      await tx.execute(sql`INSERT INTO probe_rows VALUES (1, now())`);
    });
    // A query the database refused is the query's fault (rethrown), not an outage.
    await expect(guardDatabase(() => duplicate)).rejects.toMatchObject({
      cause: { code: "23505" },
    });
    const rows = await database.db.execute(sql`SELECT id, at FROM probe_rows ORDER BY id`);
    // Timestamps come back as PostgreSQL's text, as drizzle's in-process driver keeps them.
    expect((rows as unknown as { rows: unknown[] }).rows).toEqual([
      { id: 1, at: "2026-01-02 03:04:05+00" },
    ]);
  });

  it("runs concurrent transactions one after another, each whole", async () => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        database.db.transaction(async (tx) => {
          await tx.execute(sql`INSERT INTO probe_rows VALUES (${100 + i}, now())`);
          await tx.execute(sql`UPDATE probe_rows SET at = now() WHERE id = ${100 + i}`);
        }),
      ),
    );
    const count = await database.db.execute(
      sql`SELECT count(*)::int AS n FROM probe_rows WHERE id >= 100`,
    );
    expect((count as unknown as { rows: { n: number }[] }).rows[0]?.n).toBe(20);
  });

  it("keeps the gateway's thread free while a long query runs", async () => {
    let longestGapMs = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      longestGapMs = Math.max(longestGapMs, now - last);
      last = now;
    }, 5);
    const started = performance.now();
    await database.db.execute(
      sql`SELECT count(*) FROM generate_series(1, 3000000) a, generate_series(1, 3) b`,
    );
    const queryMs = performance.now() - started;
    clearInterval(ticker);
    // The gap still open when the query ended counts: a thread that never got to run
    // its timer has no tick to measure it with.
    longestGapMs = Math.max(longestGapMs, performance.now() - last);
    // In-process, the event loop stood still for the whole query.
    expect(queryMs).toBeGreaterThan(300);
    expect(longestGapMs).toBeLessThan(queryMs / 2);
  });

  it("answers SERVICE_UNAVAILABLE once the thread is gone", async () => {
    await database.close();
    await expect(guardDatabase(() => database.ping())).rejects.toMatchObject({
      code: "SERVICE_UNAVAILABLE",
    });
  });
});

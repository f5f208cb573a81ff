import { randomUUID } from "node:crypto";
import { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import pg from "pg";
import { type Database, openDatabase } from "../../src/db/client.js";

/**
 * The PostgreSQL server the backend suites use: DATABASE_URL when set (CI sets it, and
 * then a server that does not answer fails the suite), else a local default that may
 * be absent, in which case the PostgreSQL suites skip and say so.
 */
const postgresUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const required = process.env.DATABASE_URL !== undefined;

export async function postgresIsAvailable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return true;
  } catch (error) {
    if (required)
      throw new Error(
        `DATABASE_URL=${postgresUrl} is set but PostgreSQL does not answer: ${error}`,
      );
    console.warn(
      `PostgreSQL suites skipped: no server at ${postgresUrl} (set DATABASE_URL to require one).`,
    );
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** A database of its own on the test server, dropped by the returned function. */
export async function createScratchDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `sig_test_${randomUUID().replaceAll("-", "")}`;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

export type TestDatabase = {
  database: Database;
  truncate(): Promise<void>;
  dispose(): Promise<void>;
};

/** A migrated database of the given kind; `truncate` empties it between tests. */
export async function openTestDatabase(kind: "postgres" | "pglite"): Promise<TestDatabase> {
  const scratch = kind === "postgres" ? await createScratchDatabase() : null;
  const database = await openDatabase(scratch ? { url: scratch.url } : { dataDir: "memory://" });
  await database.migrate();
  return {
    database,
    async truncate() {
      await database.db.execute(
        sql`TRUNCATE services, service_status_events, circuit_breaker_events, workflow_steps, workflow_executions, workflow_definitions RESTART IDENTITY`,
      );
    },
    async dispose() {
      await database.close();
      await scratch?.drop();
    },
  };
}

let template: Promise<PGlite> | null = null;

/**
 * A fresh, migrated in-memory PGlite. Creating and migrating one takes seconds, so each
 * test worker does it once and hands out clones (a fraction of that).
 */
export async function migratedPglite(): Promise<Database> {
  template ??= (async () => {
    const pglite = await PGlite.create();
    await (await openDatabase({ pglite })).migrate();
    return pglite;
  })();
  return openDatabase({ pglite: (await (await template).clone()) as PGlite });
}

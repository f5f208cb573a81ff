import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { PGlite } from "@electric-sql/pglite";
import { sql } from "drizzle-orm";
import { drizzle as drizzleNodePostgres } from "drizzle-orm/node-postgres";
import { migrate as migrateNodePostgres } from "drizzle-orm/node-postgres/migrator";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import pg from "pg";
import type { Logger } from "pino";
import { openPgliteThread, type PgliteThread } from "./pglite-thread.js";
import * as schema from "./schema.js";

/** The same drizzle API over node-postgres or PGlite. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export type Database = {
  db: Db;
  kind: "postgres" | "pglite";
  /** Applies pending migrations; safe to run from several replicas at once. */
  migrate(): Promise<void>;
  /** True once every migration in drizzle/ has been applied. */
  isMigrated(): Promise<boolean>;
  /** Throws when the database does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
};

export type DatabaseOptions =
  /** node-postgres pool on a postgres:// URL. */
  | { url: string }
  /** Embedded PGlite persisted in a directory, or `memory://` for a throwaway one. */
  | { dataDir: string }
  /** An open PGlite, e.g. a clone of an already migrated one. */
  | { pglite: PGlite };

/** Resolves the same way from src/db and dist/db: drizzle/ sits beside both. */
const migrationsFolder = fileURLToPath(new URL("../../drizzle", import.meta.url));

/** Serialises migrations across replicas on one PostgreSQL (any constant; "sig" in hex). */
const MIGRATION_LOCK_KEY = 0x736967;

export async function openDatabase(options: DatabaseOptions, log?: Logger): Promise<Database> {
  const expected = journalSize();
  if ("url" in options) return openPostgres(options.url, expected, log);
  if ("pglite" in options) return wrapPglite(options.pglite, expected);
  if (options.dataDir.startsWith("memory://")) {
    return wrapPglite(await PGlite.create(options.dataDir), expected);
  }
  return wrapPglite(await openPgliteDirectory(options.dataDir, log), expected);
}

/**
 * Opens PGlite on a directory, on a thread of its own (pglite-thread.ts), creating the
 * cluster the first time. Creating it grows the WebAssembly heap to ~850 MB, which is
 * not handed back while the process lives, so a fresh cluster is created in a
 * short-lived child process: the gateway then opens an existing one, at ~0.5 s and
 * ~390 MB, on its first start as on every later one.
 */
async function openPgliteDirectory(dataDir: string, log: Logger | undefined) {
  await ensurePgliteCluster(dataDir);
  // PostgreSQL's default 128 MB of shared buffers is most of PGlite's footprint; the
  // embedded registry is small, and the OS still caches its files. 281 → 166 MB RSS.
  return openPgliteThread({ dataDir, postgresqlconf: "shared_buffers = 16MB" }, log);
}

/**
 * Creates the embedded cluster in `dataDir` unless one is there. A caller that knows a
 * gateway is about to open a new directory (the demo, while it builds) may create it
 * beforehand: the gateway then starts as it does on every later start.
 */
export async function ensurePgliteCluster(dataDir: string): Promise<void> {
  if (!existsSync(join(dataDir, "PG_VERSION"))) await createPgliteCluster(dataDir);
}

/**
 * Creates the cluster beside its final place and renames it in, so a creation cut
 * short never leaves a half-made directory that would later be opened as a whole one.
 */
async function createPgliteCluster(dataDir: string): Promise<void> {
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    throw new Error(
      `DATA_DIR ${dataDir} holds files but no database; point it at an empty or new directory`,
    );
  }
  const staging = `${dataDir.replace(/\/+$/, "")}.creating-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(dirname(staging), { recursive: true });
  const module = import.meta.resolve("@electric-sql/pglite");
  const script = `const { PGlite } = await import(${JSON.stringify(module)});
    await (await PGlite.create(${JSON.stringify(staging)})).close();`;
  await promisify(execFile)(process.execPath, ["--input-type=module", "--eval", script], {
    timeout: 120_000,
  });
  // An empty directory may stand where the cluster goes (checked above).
  if (existsSync(dataDir)) rmdirSync(dataDir);
  renameSync(staging, dataDir);
}

async function openPostgres(
  url: string,
  expectedMigrations: number,
  log: Logger | undefined,
): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: 5000,
    // A hung server must fail writes, not hold them (and every write queued behind) forever.
    statement_timeout: 10_000,
    query_timeout: 15_000,
    keepAlive: true,
  });
  // An idle client that loses its server emits on the pool; a client checked out (for a
  // transaction, a migration) has no pool listener while it is out, and an unhandled
  // 'error' would end the process. Its pending query fails on its own and reaches the
  // caller as SERVICE_UNAVAILABLE (guardDatabase); the listener only keeps the process.
  pool.on("error", (error) => log?.warn({ err: error }, "idle PostgreSQL connection lost"));
  pool.on("connect", (client) => {
    client.on("error", (error) => log?.debug({ err: error }, "PostgreSQL connection lost"));
  });
  const db = drizzleNodePostgres(pool, { schema }) as unknown as Db;
  return {
    db,
    kind: "postgres",
    async migrate() {
      // One connection holds an advisory lock for the whole run, so a second replica
      // waits, then finds every migration applied and does nothing.
      const client = await pool.connect();
      try {
        await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
        await migrateNodePostgres(drizzleNodePostgres(client), { migrationsFolder });
      } finally {
        await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => {});
        client.release();
      }
    },
    isMigrated: () => migrationsApplied(db, expectedMigrations),
    async ping() {
      await pool.query("SELECT 1");
    },
    async close() {
      await pool.end();
    },
  };
}

function wrapPglite(client: PGlite | PgliteThread, expectedMigrations: number): Database {
  // Drizzle's PGlite driver calls query and transaction only, which the thread's client
  // answers as PGlite does; its type is PGlite's class, hence the cast.
  const pglite = client as PGlite;
  const db = drizzlePglite(pglite, { schema }) as unknown as Db;
  return {
    db,
    kind: "pglite",
    // PGlite belongs to one process, so there is no other replica to wait for.
    migrate: () => migratePglite(drizzlePglite(pglite), { migrationsFolder }),
    isMigrated: () => migrationsApplied(db, expectedMigrations),
    async ping() {
      await client.query("SELECT 1");
    },
    async close() {
      await client.close();
    },
  };
}

/** Compares drizzle's record of applied migrations with the journal shipped in drizzle/. */
async function migrationsApplied(db: Db, expected: number): Promise<boolean> {
  try {
    const result = await db.execute(
      sql`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`,
    );
    const rows = (result as unknown as { rows: { n: number }[] }).rows;
    return (rows[0]?.n ?? 0) >= expected;
  } catch {
    return false;
  }
}

function journalSize(): number {
  const journal = JSON.parse(readFileSync(`${migrationsFolder}/meta/_journal.json`, "utf8")) as {
    entries: unknown[];
  };
  return journal.entries.length;
}

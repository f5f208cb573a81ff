import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { AuditRepository } from "../db/audit.js";
import {
  type AuditEntry,
  type AuditEvent,
  isRoutineLiveness,
  type StoredAuditEntry,
} from "../domain/audit.js";
import { badInput } from "../domain/errors.js";
import type { Clock } from "../lib/clock.js";
import { cursorCodec } from "../lib/cursor.js";
import { every } from "../lib/interval-loop.js";
import { pageSize } from "../lib/page-size.js";
import { createWriteBehind } from "../lib/write-behind.js";
import type { LeaseStore } from "../stores/lease.js";
import type { Page } from "./pagination.js";

export type AuditTrailOptions = {
  repository: AuditRepository;
  leases: LeaseStore;
  clock: Clock;
  log: Logger;
  maxPageSize: number;
  /** AUDIT_RETENTION_DAYS: entries older than this are deleted. */
  retentionDays: number;
  /** How often old entries are deleted. Default an hour. */
  retentionIntervalMs?: number;
  /** Entries held while the database is away; beyond this the oldest are dropped. */
  maxHeld?: number;
  /** How often held entries are tried again. Default 1,000 ms. */
  retryIntervalMs?: number;
};

export type AuditQueryArgs = {
  first?: number | null;
  after?: string | null;
  actor?: string | null;
  target?: string | null;
};

/** A page of the log. No total: counting a log of millions of rows on every page costs a scan. */
export type AuditPage = Omit<Page<StoredAuditEntry>, "totalCount">;

const DAY_MS = 24 * 60 * 60 * 1000;
const RETENTION_LEASE = "audit-retention";
/** Rows in one INSERT: 10 parameters each, well inside PostgreSQL's 65,535. */
const WRITE_BATCH = 500;

const auditCursor = cursorCodec("audit");

export const encodeAuditCursor = (id: number) => auditCursor.encode(String(id));

/**
 * The audit trail. `record` never waits for the database nor fails the request: entries
 * are written behind it (lib/write-behind.ts), as many per INSERT as have queued up while
 * the previous one ran, so a burst of heartbeats costs a few statements. While the
 * database is away they are held, up to `maxHeld`, and written when it is back.
 *
 * Retention runs once at start and every `retentionIntervalMs` on one replica, the holder
 * of a lease, so replicas do not race each other deleting the same rows.
 */
export function createAuditTrail({
  repository,
  leases,
  clock,
  log,
  maxPageSize,
  retentionDays,
  retentionIntervalMs = 60 * 60 * 1000,
  maxHeld = 100_000,
  retryIntervalMs = 1000,
}: AuditTrailOptions) {
  const holder = randomUUID();
  const writes = createWriteBehind<AuditEntry>({
    write: (entries) => repository.insertMany(entries),
    batchSize: WRITE_BATCH,
    name: "audit entries",
    log,
    maxHeld,
    retryIntervalMs,
  });

  /** Deletes what is past retention if this replica holds the lease; how many rows went. */
  async function deleteExpired(): Promise<number> {
    // Held across runs, so the same replica keeps the work; another takes over once it
    // lapses, when the holder has died.
    if (!(await leases.acquire(RETENTION_LEASE, holder, retentionIntervalMs * 3))) return 0;
    const cutoff = new Date(clock.now() - retentionDays * DAY_MS).toISOString();
    const deleted = await repository.deleteOlderThan(cutoff);
    if (deleted > 0) log.info({ deleted, cutoff }, "audit entries past retention deleted");
    return deleted;
  }

  const retention = every(retentionIntervalMs, deleteExpired, { log, name: "audit retention" });
  let firstRun: Promise<unknown> | null = null;

  return {
    /** Queues an entry, stamped now; returns at once whatever the database does. */
    record(event: AuditEvent): void {
      if (isRoutineLiveness(event)) return;
      writes.add({ ...event, at: new Date(clock.now()).toISOString() });
    },

    async list({ first, after, actor, target }: AuditQueryArgs): Promise<AuditPage> {
      const size = pageSize(first, { fallback: 50, min: 0, max: maxPageSize });
      const rows = await repository.page({
        beforeId: after ? idOf(after) : null,
        limit: size + 1,
        actor: actor ?? null,
        target: target ?? null,
      });
      const nodes = rows.slice(0, size);
      const last = nodes.at(-1);
      return {
        nodes,
        hasNextPage: rows.length > size,
        endCursor: last ? encodeAuditCursor(last.id) : null,
      };
    },

    deleteExpired,

    /** Writes what is queued now (tests, and the last act of stop). */
    flush: () => writes.flush(),

    get held(): number {
      return writes.held;
    },

    start(): void {
      writes.start();
      // Not awaited: a large first deletion must not hold the gateway's start.
      firstRun = deleteExpired().catch((error: unknown) =>
        log.warn({ err: error }, "audit retention failed; retrying at the next interval"),
      );
      retention.start();
    },

    async stop(): Promise<void> {
      await firstRun;
      await retention.stop();
      await leases.release(RETENTION_LEASE, holder).catch(() => {});
      await writes.stop();
      if (writes.held > 0) {
        log.error(
          { entries: writes.held },
          "stopping with audit entries the database did not take",
        );
      }
    },
  };
}

function idOf(cursor: string): number {
  const id = Number(auditCursor.decode(cursor));
  if (!Number.isSafeInteger(id) || id < 1)
    throw badInput("after", "is not a cursor returned by this API");
  return id;
}

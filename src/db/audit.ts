import { and, desc, eq, inArray, lt, or, type SQL, sql } from "drizzle-orm";
import type { AuditEntry, StoredAuditEntry } from "../domain/audit.js";
import type { Db } from "./client.js";
import { guardDatabase } from "./errors.js";
import { auditLog } from "./schema.js";
import { iso } from "./timestamps.js";

export type AuditQuery = {
  /** Entries older than (with an id below) this one; null from the newest. */
  beforeId: number | null;
  /** Rows to read. */
  limit: number;
  /** A token id or name, or the address of an anonymous caller. */
  actor: string | null;
  /** An id among the entry's targets. */
  target: string | null;
};

/**
 * Rows deleted per statement by `deleteOlderThan`: a month of a busy gateway's heartbeats
 * is millions of rows, and one statement for all of them would hold its locks and its
 * transaction for as long as it takes.
 */
const DELETE_BATCH = 5000;

/** The audit log: written in batches behind requests, read newest first. */
export function createAuditRepository(db: Db) {
  return {
    /** One multi-row INSERT: all of the entries or, when it fails, none of them. */
    insertMany: (entries: readonly AuditEntry[]) =>
      guardDatabase(async () => {
        if (entries.length === 0) return;
        await db.insert(auditLog).values(
          entries.map((entry) => ({
            at: entry.at,
            actorTokenId: entry.actor.tokenId,
            actorName: entry.actor.name,
            actorRole: entry.actor.role,
            actorAddress: entry.actor.address,
            transport: entry.transport,
            operation: entry.operation,
            targets: entry.targets,
            result: entry.result,
            requestId: entry.requestId,
          })),
        );
      }),

    /** Newest first (by id, the order they were written in), keyset-paged. */
    page: ({ beforeId, limit, actor, target }: AuditQuery) =>
      guardDatabase(async (): Promise<StoredAuditEntry[]> => {
        const conditions: SQL[] = [];
        if (beforeId !== null) conditions.push(lt(auditLog.id, beforeId));
        if (actor !== null) {
          const byActor = or(
            eq(auditLog.actorTokenId, actor),
            eq(auditLog.actorName, actor),
            eq(auditLog.actorAddress, actor),
          );
          if (byActor) conditions.push(byActor);
        }
        if (target !== null) {
          // Containment, so the GIN index on targets answers it.
          conditions.push(sql`${auditLog.targets} @> ${JSON.stringify([target])}::jsonb`);
        }
        const rows = await db
          .select()
          .from(auditLog)
          .where(and(...conditions))
          .orderBy(desc(auditLog.id))
          .limit(limit);
        return rows.map(toEntry);
      }),

    /** Deletes entries recorded before `cutoff`, a batch per statement; how many went. */
    deleteOlderThan: (cutoff: string) =>
      guardDatabase(async (): Promise<number> => {
        let deleted = 0;
        for (;;) {
          const batch = db
            .select({ id: auditLog.id })
            .from(auditLog)
            .where(lt(auditLog.at, cutoff))
            .limit(DELETE_BATCH);
          const gone = await db
            .delete(auditLog)
            .where(inArray(auditLog.id, batch))
            .returning({ id: auditLog.id });
          deleted += gone.length;
          if (gone.length < DELETE_BATCH) return deleted;
        }
      }),
  };
}

export type AuditRepository = ReturnType<typeof createAuditRepository>;

function toEntry(row: typeof auditLog.$inferSelect): StoredAuditEntry {
  return {
    id: row.id,
    at: iso(row.at),
    actor: {
      tokenId: row.actorTokenId,
      name: row.actorName,
      role: row.actorRole,
      address: row.actorAddress,
    },
    transport: row.transport === "rest" ? "rest" : "graphql",
    operation: row.operation,
    targets: row.targets,
    result: row.result,
    requestId: row.requestId,
  };
}

import DataLoader from "dataloader";
import { and, desc, eq, getTableColumns, gte, inArray, lte, sql } from "drizzle-orm";
import {
  type ServiceRecord,
  type ServiceStatus,
  type StatusChange,
  withCurrentFields,
} from "../domain/service.js";
import type { Db } from "./client.js";
import { guardDatabase } from "./errors.js";
import { serviceStatusEvents, services } from "./schema.js";
import { iso } from "./timestamps.js";

type HistoryQuery = { since?: string | null; first: number };

export type DurableWrite = { record: ServiceRecord; change: StatusChange | null };

/**
 * The durable registry: registrations and their status history. Every write that
 * changes a status records the transition in the same transaction.
 */
export function createRegistryRepository(db: Db) {
  return {
    /**
     * Upserts many registrations, and records their transitions, in one transaction
     * (group commit). When an id appears twice the later record wins. A transition
     * already recorded (the same service, time and status, e.g. from a retried write)
     * is not recorded twice.
     */
    saveMany: (entries: readonly DurableWrite[]) =>
      guardDatabase(async () => {
        if (entries.length === 0) return;
        const latest = new Map(entries.map(({ record }) => [record.id, toRow(record)]));
        const events = entries.flatMap(({ change }) => (change ? [toEventRow(change)] : []));
        await db.transaction(async (tx) => {
          await tx
            .insert(services)
            .values([...latest.values()])
            .onConflictDoUpdate({ target: services.id, set: fromExcluded });
          if (events.length > 0) {
            await tx.insert(serviceStatusEvents).values(events).onConflictDoNothing();
          }
        });
      }),

    /**
     * Removes the registration if it is still the one last updated at `updatedAt`; its
     * history stays, closed by `change`. "changed" when a newer write is there (the
     * caller re-reads and decides again), "missing" when there is no row at all.
     */
    remove: (id: string, updatedAt: string, change: StatusChange) =>
      guardDatabase(() =>
        db.transaction(async (tx): Promise<"removed" | "changed" | "missing"> => {
          const removed = await tx
            .delete(services)
            .where(and(eq(services.id, id), eq(services.updatedAt, updatedAt)))
            .returning({ id: services.id });
          if (removed.length === 0) {
            const [still] = await tx
              .select({ id: services.id })
              .from(services)
              .where(eq(services.id, id));
            return still ? "changed" : "missing";
          }
          await tx.insert(serviceStatusEvents).values(toEventRow(change)).onConflictDoNothing();
          return "removed";
        }),
      ),

    /**
     * Records a transition found on the hot path (a heartbeat reviving a service). It
     * sets the status only if nothing was registered or set by hand since it happened,
     * and never moves the heartbeat time backwards.
     */
    recordTransition: (change: StatusChange) =>
      guardDatabase(() =>
        db.transaction(async (tx) => {
          await tx
            .update(services)
            .set({
              lastKnownStatus: change.status,
              lastHeartbeat: sql`GREATEST(${services.lastHeartbeat}, ${change.service.lastHeartbeat}::timestamptz)`,
            })
            .where(and(eq(services.id, change.service.id), lte(services.updatedAt, change.at)));
          await tx.insert(serviceStatusEvents).values(toEventRow(change)).onConflictDoNothing();
        }),
      ),

    /**
     * Writes heartbeat times in a few statements (they are flushed in batches, not one
     * write per heartbeat), under PostgreSQL's limit on parameters; a time never moves
     * backwards.
     */
    recordHeartbeats: (beats: readonly { id: string; at: string }[]) =>
      guardDatabase(async () => {
        for (let start = 0; start < beats.length; start += HEARTBEATS_PER_STATEMENT) {
          const chunk = beats.slice(start, start + HEARTBEATS_PER_STATEMENT);
          const values = sql.join(
            chunk.map((beat) => sql`(${beat.id}, ${beat.at}::timestamptz)`),
            sql`, `,
          );
          await db.execute(sql`
            UPDATE ${services} AS s SET last_heartbeat = v.at
            FROM (VALUES ${values}) AS v(id, at)
            WHERE s.id = v.id AND s.last_heartbeat < v.at`);
        }
      }),

    /** Every registered service, to rebuild an empty live store. */
    loadAll: () => guardDatabase(async () => (await db.select().from(services)).map(fromRow)),

    /** The durable records of these ids, in their order; null where there is none. */
    getMany: (ids: readonly string[]) =>
      guardDatabase(async (): Promise<(ServiceRecord | null)[]> => {
        if (ids.length === 0) return [];
        const rows = await db
          .select()
          .from(services)
          .where(inArray(services.id, [...ids]));
        const byId = new Map(rows.map((row) => [row.id, fromRow(row)]));
        return ids.map((id) => byId.get(id) ?? null);
      }),

    /** Transitions of one service, newest first; reads made together share a statement. */
    history: batchedHistory(db),
  };
}

/** Two parameters a heartbeat; PostgreSQL takes at most 65,535 a statement. */
const HEARTBEATS_PER_STATEMENT = 1000;

export type RegistryRepository = ReturnType<typeof createRegistryRepository>;

type ServiceRow = typeof services.$inferInsert;

function toRow(record: ServiceRecord): ServiceRow {
  return {
    id: record.id,
    name: record.name,
    type: record.type,
    version: record.version,
    baseUrl: record.baseUrl,
    healthCheckUrl: record.healthCheckUrl,
    endpoints: record.endpoints,
    capabilities: record.capabilities,
    tags: record.tags,
    metadata: record.metadata,
    heartbeatIntervalSeconds: record.heartbeatIntervalSeconds,
    ttlSeconds: record.ttlSeconds,
    probeIntervalSeconds: record.probeIntervalSeconds,
    graphql: record.graphql,
    owner: record.owner,
    lastKnownStatus: record.status,
    lastHeartbeat: record.lastHeartbeat,
    registeredAt: record.registeredAt,
    updatedAt: record.updatedAt,
  };
}

/** On conflict, every column but the key takes the value of the row being inserted. */
const fromExcluded = Object.fromEntries(
  Object.entries(getTableColumns(services))
    .filter(([key]) => key !== "id")
    .map(([key, column]) => [key, sql.raw(`excluded."${column.name}"`)]),
);

function fromRow(row: typeof services.$inferSelect): ServiceRecord {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    version: row.version,
    baseUrl: row.baseUrl,
    healthCheckUrl: row.healthCheckUrl,
    endpoints: row.endpoints,
    capabilities: row.capabilities,
    tags: row.tags,
    metadata: row.metadata,
    heartbeatIntervalSeconds: row.heartbeatIntervalSeconds,
    ttlSeconds: row.ttlSeconds,
    probeIntervalSeconds: row.probeIntervalSeconds,
    graphql: row.graphql,
    owner: row.owner,
    status: row.lastKnownStatus as ServiceStatus,
    lastHeartbeat: iso(row.lastHeartbeat),
    registeredAt: iso(row.registeredAt),
    updatedAt: iso(row.updatedAt),
    // Probe results are live state; the next probe fills them in.
    health: null,
  };
}

function toEventRow(change: StatusChange): typeof serviceStatusEvents.$inferInsert {
  return {
    serviceId: change.service.id,
    fromStatus: change.previousStatus,
    toStatus: change.status,
    reason: change.reason,
    at: change.at,
    service: change.service,
  };
}

/** One read of a service's history, as `history` is asked for it. */
type HistoryRead = { serviceId: string } & HistoryQuery;

/** Service ids in one statement: one parameter each, far below PostgreSQL's 65,535. */
const HISTORY_READS_PER_STATEMENT = 500;

/**
 * `history`, with the reads asked for in one tick (a page of services, each with its
 * `statusHistory`) sent as one statement per distinct query instead of one per service.
 * No caching: each read sees the database as it is.
 */
function batchedHistory(db: Db) {
  const loader = new DataLoader<HistoryRead, StatusChange[]>(
    async (reads) => {
      const byQuery = new Map<string, HistoryRead[]>();
      for (const read of reads) {
        const shape = `${read.first}\n${read.since ?? ""}`;
        byQuery.set(shape, [...(byQuery.get(shape) ?? []), read]);
      }
      const answers = new Map<HistoryRead, StatusChange[] | Error>();
      await Promise.all(
        [...byQuery.values()].map(async (group) => {
          const [{ since = null, first } = { first: 0 }] = group;
          try {
            const found = await historyOfMany(db, [...new Set(group.map((r) => r.serviceId))], {
              since,
              first,
            });
            for (const read of group) answers.set(read, found.get(read.serviceId) ?? []);
          } catch (error) {
            for (const read of group) answers.set(read, error as Error);
          }
        }),
      );
      return reads.map((read) => answers.get(read) ?? []);
    },
    { cache: false, maxBatchSize: HISTORY_READS_PER_STATEMENT },
  );
  return (serviceId: string, query: HistoryQuery): Promise<StatusChange[]> =>
    loader.load({ serviceId, ...query });
}

/**
 * The newest `first` transitions of each service, newest first. A lateral join reads
 * each service's rows through the (service_id, at) index, so a service with a long
 * history costs `first` rows, not all of them.
 */
function historyOfMany(
  db: Db,
  serviceIds: readonly string[],
  query: HistoryQuery,
): Promise<Map<string, StatusChange[]>> {
  return guardDatabase(async () => {
    const wanted = sql`(VALUES ${sql.join(
      serviceIds.map((id) => sql`(${id})`),
      sql`, `,
    )}) AS wanted(service_id)`;
    const latest = db
      .select()
      .from(serviceStatusEvents)
      .where(
        and(
          sql`${serviceStatusEvents.serviceId} = wanted.service_id`,
          query.since ? gte(serviceStatusEvents.at, query.since) : undefined,
        ),
      )
      .orderBy(desc(serviceStatusEvents.at), desc(serviceStatusEvents.id))
      .limit(query.first)
      .as("latest");
    const rows = await db
      .select({
        serviceId: latest.serviceId,
        fromStatus: latest.fromStatus,
        toStatus: latest.toStatus,
        reason: latest.reason,
        at: latest.at,
        service: latest.service,
      })
      .from(wanted)
      .crossJoinLateral(latest)
      .orderBy(desc(latest.at), desc(latest.id));
    const found = new Map<string, StatusChange[]>();
    for (const row of rows) {
      const list = found.get(row.serviceId) ?? [];
      list.push({
        // Rows from before a field existed keep the service as it was written then.
        service: withCurrentFields(row.service),
        previousStatus: row.fromStatus as ServiceStatus | null,
        status: row.toStatus as ServiceStatus,
        reason: row.reason,
        at: iso(row.at),
      });
      found.set(row.serviceId, list);
    }
    return found;
  });
}

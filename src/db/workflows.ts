import DataLoader from "dataloader";
import { and, asc, desc, eq, inArray, lt, sql } from "drizzle-orm";
import { GatewayError } from "../domain/errors.js";
import type { JsonObject, JsonValue } from "../domain/json.js";
import type { WorkflowExecution, WorkflowStatus, WorkflowStepState } from "../domain/workflow.js";
import { type Clock, systemClock } from "../lib/clock.js";
import type { Db } from "./client.js";
import { guardDatabase } from "./errors.js";
import { workflowDefinitions, workflowExecutions, workflowSteps } from "./schema.js";
import { iso, isoOrNull } from "./timestamps.js";

export type ExecutionListQuery = {
  workflowType?: string | null;
  status?: WorkflowStatus | null;
  first: number;
  /** The id of the last execution of the previous page. */
  after?: string | null;
};

/**
 * Workflow definitions, executions and their steps. The clock dates new definitions;
 * leases, deadlines and end times are the database's own now().
 */
export function createWorkflowRepository(db: Db, clock: Clock = systemClock) {
  return {
    /** The active (newest) version of every type. */
    activeDefinitions: () =>
      guardDatabase(async () =>
        db
          .selectDistinctOn([workflowDefinitions.type])
          .from(workflowDefinitions)
          .where(eq(workflowDefinitions.active, true))
          .orderBy(workflowDefinitions.type, desc(workflowDefinitions.version)),
      ),

    definition: (type: string, version: number) =>
      guardDatabase(async () => {
        const [row] = await db
          .select()
          .from(workflowDefinitions)
          .where(and(eq(workflowDefinitions.type, type), eq(workflowDefinitions.version, version)));
        return row ?? null;
      }),

    /**
     * Stores a definition as the next version of its type, unless the newest version is
     * the same document (then that version is returned). Two writers racing get distinct
     * versions: the loser's insert conflicts and it tries again.
     */
    saveDefinition: (type: string, definition: JsonObject) =>
      guardDatabase(async (): Promise<{ version: number; created: boolean }> => {
        for (let round = 0; round < 5; round++) {
          const [latest] = await db
            .select({
              version: workflowDefinitions.version,
              // jsonb equality: the same document whatever the order of its keys.
              same: sql<boolean>`${workflowDefinitions.definition} = ${JSON.stringify(definition)}::jsonb`,
            })
            .from(workflowDefinitions)
            .where(eq(workflowDefinitions.type, type))
            .orderBy(desc(workflowDefinitions.version))
            .limit(1);
          if (latest?.same) return { version: latest.version, created: false };
          const version = (latest?.version ?? 0) + 1;
          const inserted = await db
            .insert(workflowDefinitions)
            .values({
              type,
              version,
              definition,
              active: true,
              createdAt: new Date(clock.now()).toISOString(),
            })
            .onConflictDoNothing()
            .returning({ version: workflowDefinitions.version });
          if (inserted.length > 0) return { version, created: true };
        }
        throw new Error(`could not store a new version of ${type}`);
      }),

    /**
     * Inserts an execution; when its idempotency key is taken (for its type), returns that
     * execution instead. An id already taken otherwise is a CONFLICT.
     */
    createExecution: (execution: WorkflowExecution) =>
      guardDatabase(async (): Promise<{ execution: WorkflowExecution; created: boolean }> => {
        const inserted = await db
          .insert(workflowExecutions)
          .values(toExecutionRow(execution))
          .onConflictDoNothing()
          .returning();
        if (inserted[0]) return { execution: fromExecutionRow(inserted[0]), created: true };
        // The idempotency key is taken (that execution is the answer), or the id is.
        if (execution.idempotencyKey !== null) {
          const [same] = await db
            .select()
            .from(workflowExecutions)
            .where(
              and(
                eq(workflowExecutions.workflowType, execution.workflowType),
                eq(workflowExecutions.idempotencyKey, execution.idempotencyKey),
              ),
            );
          if (same) return { execution: fromExecutionRow(same), created: false };
        }
        // Asked again with the same id (and no other key): the same execution.
        const [byId] = await db
          .select()
          .from(workflowExecutions)
          .where(eq(workflowExecutions.id, execution.id));
        if (
          byId &&
          byId.workflowType === execution.workflowType &&
          (byId.idempotencyKey ?? null) === execution.idempotencyKey
        ) {
          return { execution: fromExecutionRow(byId), created: false };
        }
        throw new GatewayError(
          "CONFLICT",
          `Workflow execution id ${execution.id} is taken by another execution.`,
          { field: "input.id", id: execution.id },
        );
      }),

    execution: (id: string) =>
      guardDatabase(async () => {
        const [row] = await db
          .select()
          .from(workflowExecutions)
          .where(eq(workflowExecutions.id, id));
        return row ? fromExecutionRow(row) : null;
      }),

    executions: (query: ExecutionListQuery) =>
      guardDatabase(async () => {
        const rows = await db
          .select()
          .from(workflowExecutions)
          .where(
            and(
              query.workflowType
                ? eq(workflowExecutions.workflowType, query.workflowType)
                : undefined,
              query.status ? eq(workflowExecutions.status, query.status) : undefined,
              query.after
                ? sql`(${workflowExecutions.startedAt}, ${workflowExecutions.id}) < (SELECT started_at, id FROM workflow_executions WHERE id = ${query.after})`
                : undefined,
            ),
          )
          .orderBy(desc(workflowExecutions.startedAt), desc(workflowExecutions.id))
          .limit(query.first);
        return rows.map(fromExecutionRow);
      }),

    /** An execution's steps; reads made together (a page of executions) share a statement. */
    steps: batchedSteps(db),

    /**
     * Takes up to `limit` executions that nobody drives (new, or whose driver's lease ran
     * out), oldest first, for `owner` until `leaseMs` from now. FOR UPDATE SKIP LOCKED keeps
     * two replicas claiming at once from taking the same one.
     */
    claim: (owner: string, leaseMs: number, limit: number) =>
      guardDatabase(async () => {
        if (limit <= 0) return [];
        const result = await db.execute(sql`
          UPDATE workflow_executions AS e
          SET lease_owner = ${owner},
              lease_expires_at = now() + ${leaseMs} * interval '1 millisecond',
              status = CASE WHEN e.status = 'PENDING' THEN 'RUNNING' ELSE e.status END,
              updated_at = now()
          WHERE e.id IN (
            SELECT id FROM workflow_executions
            WHERE status IN ('PENDING', 'RUNNING')
              AND (lease_expires_at IS NULL OR lease_expires_at < now())
            ORDER BY started_at
            LIMIT ${limit}
            FOR UPDATE SKIP LOCKED
          )
          RETURNING e.id`);
        // node-postgres and PGlite both answer with `rows`.
        const ids = ((result as { rows?: { id: string }[] }).rows ?? []).map((row) => row.id);
        if (ids.length === 0) return [];
        const rows = await db
          .select()
          .from(workflowExecutions)
          .where(inArray(workflowExecutions.id, ids));
        return rows.map(fromExecutionRow);
      }),

    /** Extends the leases `owner` still holds; the ids it no longer drives are returned. */
    renew: (owner: string, ids: readonly string[], leaseMs: number) =>
      guardDatabase(async (): Promise<string[]> => {
        if (ids.length === 0) return [];
        const renewed = await db
          .update(workflowExecutions)
          .set({
            leaseExpiresAt: sql`now() + ${leaseMs} * interval '1 millisecond'`,
          })
          .where(
            and(
              inArray(workflowExecutions.id, [...ids]),
              eq(workflowExecutions.leaseOwner, owner),
              eq(workflowExecutions.status, "RUNNING"),
            ),
          )
          .returning({ id: workflowExecutions.id });
        const kept = new Set(renewed.map((row) => row.id));
        return ids.filter((id) => !kept.has(id));
      }),

    /** Writes a step's state (before and after it runs), if `owner` still drives it. */
    saveStep: (owner: string, step: WorkflowStepState) =>
      guardDatabase(async (): Promise<boolean> => {
        return db.transaction(async (tx) => {
          const [held] = await tx
            .select({ id: workflowExecutions.id })
            .from(workflowExecutions)
            .where(
              and(
                eq(workflowExecutions.id, step.executionId),
                eq(workflowExecutions.leaseOwner, owner),
                eq(workflowExecutions.status, "RUNNING"),
              ),
            )
            .for("update");
          if (!held) return false;
          const row = toStepRow(step);
          await tx
            .insert(workflowSteps)
            .values(row)
            .onConflictDoUpdate({
              target: [workflowSteps.executionId, workflowSteps.stepId],
              set: row,
            });
          return true;
        });
      }),

    /** Ends an execution, once: only its driver, and only while it is RUNNING. */
    finish: (
      owner: string,
      id: string,
      end: { status: WorkflowStatus; result: JsonValue | null; errors: string[] },
    ) =>
      guardDatabase(() =>
        db.transaction(async (tx) => {
          const [row] = await tx
            .update(workflowExecutions)
            .set({
              status: end.status,
              result: storable(end.result),
              errors: storable(end.errors),
              ...endedNow(),
            })
            .where(
              and(
                eq(workflowExecutions.id, id),
                eq(workflowExecutions.leaseOwner, owner),
                eq(workflowExecutions.status, "RUNNING"),
              ),
            )
            .returning();
          if (row && end.status !== "COMPLETED")
            await settleSteps(tx, [id], end.errors[0] ?? "ended");
          return row ? fromExecutionRow(row) : null;
        }),
      ),

    /** Cancels an execution that has not ended; null when it had. */
    cancel: (id: string) =>
      guardDatabase(() =>
        db.transaction(async (tx) => {
          const [row] = await tx
            .update(workflowExecutions)
            .set({
              status: "CANCELLED",
              errors: sql`${workflowExecutions.errors} || '["cancelled"]'::jsonb`,
              ...endedNow(),
            })
            .where(
              and(
                eq(workflowExecutions.id, id),
                inArray(workflowExecutions.status, ["PENDING", "RUNNING"]),
              ),
            )
            .returning();
          if (row) await settleSteps(tx, [id], "cancelled");
          return row ? fromExecutionRow(row) : null;
        }),
      ),

    /** Gives up `owner`'s leases at once (a clean shutdown), so another replica resumes them. */
    release: (owner: string, ids: readonly string[]) =>
      guardDatabase(async () => {
        if (ids.length === 0) return;
        await db
          .update(workflowExecutions)
          .set({ leaseOwner: null, leaseExpiresAt: null })
          .where(
            and(inArray(workflowExecutions.id, [...ids]), eq(workflowExecutions.leaseOwner, owner)),
          );
      }),

    /** Fails executions past their deadline that nobody drives (their driver died). */
    failOverdue: () =>
      guardDatabase(() =>
        db.transaction(async (tx) => {
          const rows = await tx
            .update(workflowExecutions)
            .set({
              status: "FAILED",
              errors: sql`${workflowExecutions.errors} || '["execution timed out"]'::jsonb`,
              ...endedNow(),
            })
            .where(
              and(
                inArray(workflowExecutions.status, ["PENDING", "RUNNING"]),
                lt(workflowExecutions.deadlineAt, sql`now()`),
                sql`(${workflowExecutions.leaseExpiresAt} IS NULL OR ${workflowExecutions.leaseExpiresAt} < now())`,
              ),
            )
            .returning();
          await settleSteps(
            tx,
            rows.map((row) => row.id),
            "execution timed out",
          );
          return rows.map(fromExecutionRow);
        }),
      ),
  };
}

export type WorkflowRepository = ReturnType<typeof createWorkflowRepository>;

/**
 * What a service answered, made storable: PostgreSQL text and jsonb take no NUL and no
 * lone surrogate, and one in an answer must not make a step unrecordable.
 */
function storable<T>(value: T): T {
  const clean = (text: string) => text.replaceAll("\u0000", "").replace(LONE_SURROGATE, "\uFFFD");
  const walk = (item: unknown): unknown => {
    if (typeof item === "string") return clean(item);
    if (Array.isArray(item)) return item.map(walk);
    if (item !== null && typeof item === "object") {
      return Object.fromEntries(
        Object.entries(item).map(([key, inner]) => [clean(key), walk(inner)]),
      );
    }
    return item;
  };
  return walk(value) as T;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** What every ending of an execution sets besides its status: when, how long, no lease. */
function endedNow() {
  return {
    finishedAt: sql`now()`,
    executionTimeMs: sql`extract(epoch from (now() - ${workflowExecutions.startedAt})) * 1000`,
    leaseOwner: null,
    leaseExpiresAt: null,
    updatedAt: sql`now()`,
  };
}

/** Steps still running when their execution ended (cancelled, timed out) end with it. */
async function settleSteps(db: Db | Tx, ids: readonly string[], why: string): Promise<void> {
  if (ids.length === 0) return;
  await db
    .update(workflowSteps)
    .set({ status: "CANCELLED", error: why, finishedAt: sql`now()` })
    .where(
      and(
        inArray(workflowSteps.executionId, [...ids]),
        inArray(workflowSteps.status, ["PENDING", "RUNNING"]),
      ),
    );
}

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
type ExecutionRow = typeof workflowExecutions.$inferSelect;
type StepRow = typeof workflowSteps.$inferSelect;

function toExecutionRow(execution: WorkflowExecution): typeof workflowExecutions.$inferInsert {
  return {
    id: execution.id,
    workflowType: execution.workflowType,
    definitionVersion: execution.definitionVersion,
    status: execution.status,
    data: storable(execution.data),
    options: storable(execution.options),
    result: storable(execution.result),
    errors: storable(execution.errors),
    idempotencyKey: execution.idempotencyKey,
    startedAt: execution.startedAt,
    finishedAt: execution.finishedAt,
    executionTimeMs: execution.executionTimeMs,
    deadlineAt: execution.deadlineAt,
    updatedAt: execution.updatedAt,
  };
}

function fromExecutionRow(row: ExecutionRow): WorkflowExecution {
  return {
    id: row.id,
    workflowType: row.workflowType,
    definitionVersion: row.definitionVersion,
    status: row.status as WorkflowStatus,
    data: row.data,
    options: row.options,
    result: row.result ?? null,
    errors: row.errors,
    idempotencyKey: row.idempotencyKey,
    startedAt: iso(row.startedAt),
    finishedAt: isoOrNull(row.finishedAt),
    executionTimeMs: row.executionTimeMs,
    deadlineAt: isoOrNull(row.deadlineAt),
    updatedAt: iso(row.updatedAt),
  };
}

function toStepRow(step: WorkflowStepState): typeof workflowSteps.$inferInsert {
  return {
    executionId: step.executionId,
    stepId: step.stepId,
    name: step.name,
    serviceType: step.serviceType,
    serviceId: step.serviceId,
    status: step.status,
    attempt: step.attempt,
    startedAt: step.startedAt,
    finishedAt: step.finishedAt,
    durationMs: step.durationMs,
    output: step.output === null ? null : storable(step.output),
    error: step.error === null ? null : storable(step.error),
    calls: storable(step.calls),
  };
}

function fromStepRow(row: StepRow): WorkflowStepState {
  return {
    executionId: row.executionId,
    stepId: row.stepId,
    name: row.name,
    serviceType: row.serviceType,
    serviceId: row.serviceId,
    status: row.status as WorkflowStatus,
    attempt: row.attempt,
    startedAt: isoOrNull(row.startedAt),
    finishedAt: isoOrNull(row.finishedAt),
    durationMs: row.durationMs,
    output: row.output ?? null,
    error: row.error,
    calls: row.calls,
  };
}

/** Executions whose steps one statement reads: one parameter each. */
const STEP_READS_PER_STATEMENT = 500;

/**
 * `steps`, with the reads asked for in one tick (`workflowExecutions { steps }`) sent as
 * one statement instead of one per execution. No caching: each read sees the database
 * as it is.
 */
function batchedSteps(db: Db) {
  const loader = new DataLoader<string, WorkflowStepState[]>(
    (executionIds) =>
      guardDatabase(async () => {
        const rows = await db
          .select()
          .from(workflowSteps)
          .where(inArray(workflowSteps.executionId, [...executionIds]))
          .orderBy(asc(workflowSteps.startedAt), asc(workflowSteps.stepId));
        const byExecution = new Map<string, WorkflowStepState[]>();
        for (const row of rows) {
          const steps = byExecution.get(row.executionId) ?? [];
          steps.push(fromStepRow(row));
          byExecution.set(row.executionId, steps);
        }
        return executionIds.map((id) => byExecution.get(id) ?? []);
      }),
    { cache: false, maxBatchSize: STEP_READS_PER_STATEMENT },
  );
  return (executionId: string): Promise<WorkflowStepState[]> => loader.load(executionId);
}

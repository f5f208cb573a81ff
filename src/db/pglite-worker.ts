import { parentPort, workerData } from "node:worker_threads";
import { PGlite, type Transaction, types } from "@electric-sql/pglite";
import {
  serializeError,
  type WorkerOptions,
  type WorkerReply,
  type WorkerRequest,
  type WorkerStarted,
} from "./pglite-protocol.js";

/*
 * Embedded PGlite on a thread of its own: PostgreSQL compiled to WebAssembly runs every
 * query synchronously on the thread that calls it, so on the gateway's thread a burst of
 * registrations held heartbeats, discovery and subscription deliveries behind it. Here
 * it blocks only this thread; the gateway's waits for a message.
 */

const port = parentPort;
if (!port) throw new Error("pglite-worker runs as a worker thread");
const options = workerData as WorkerOptions;

/** The parsers drizzle gives PGlite: dates, times and intervals stay PostgreSQL's text. */
const keepText = (value: string) => value;
const RAW_DATES = Object.fromEntries(
  [
    types.TIMESTAMP,
    types.TIMESTAMPTZ,
    types.INTERVAL,
    types.DATE,
    1231,
    1115,
    1185,
    1187,
    1182,
  ].map((oid) => [oid, keepText]),
);

type Open = { transaction: Transaction; end: (commit: boolean) => void };
const transactions = new Map<number, Open>();
/** Each open transaction's outcome: settled once PGlite has committed or rolled it back. */
const outcomes = new Map<number, Promise<void>>();
let nextTransaction = 1;
/** Rejected inside PGlite's transaction callback to have it roll back; not an error. */
const ROLLBACK = Symbol("rollback");

function reply(message: WorkerReply): void {
  port?.postMessage(message);
}

async function main(): Promise<void> {
  let db: PGlite;
  try {
    db = await PGlite.create(options.dataDir, { postgresqlconf: options.postgresqlconf });
  } catch (error) {
    port?.postMessage({ started: false, error: serializeError(error) } satisfies WorkerStarted);
    return;
  }
  port?.postMessage({ started: true } satisfies WorkerStarted);

  const target = (transaction: number | null) => {
    if (transaction === null) return db;
    const open = transactions.get(transaction);
    if (!open) throw new Error(`transaction ${transaction} is not open`);
    return open.transaction;
  };

  async function handle(request: WorkerRequest): Promise<unknown> {
    switch (request.kind) {
      case "query": {
        const result = await target(request.transaction).query(request.sql, request.params, {
          rowMode: request.rowMode,
          ...(request.rawDates ? { parsers: RAW_DATES } : {}),
        });
        return { rows: result.rows, fields: result.fields, affectedRows: result.affectedRows };
      }
      case "exec":
        return (await target(request.transaction).exec(request.sql)).map((result) => ({
          rows: result.rows,
          fields: result.fields,
          affectedRows: result.affectedRows,
        }));
      case "begin":
        return begin(db);
      case "end": {
        const open = transactions.get(request.transaction);
        if (!open) throw new Error(`transaction ${request.transaction} is not open`);
        open.end(request.commit);
        await outcomes.get(request.transaction);
        return null;
      }
      case "close":
        await db.close();
        // Answered before the thread ends: the gateway waits for this, then for the exit.
        setImmediate(() => process.exit(0));
        return null;
    }
  }

  port?.on("message", (request: WorkerRequest) => {
    handle(request).then(
      (value) => reply({ id: request.id, ok: true, value }),
      (error: unknown) => reply({ id: request.id, ok: false, error: serializeError(error) }),
    );
  });
}

/**
 * Opens a transaction that stays open across messages: PGlite's callback waits for the
 * "end" message. PGlite runs one transaction at a time and queues every other query
 * behind it, as a single PostgreSQL connection would.
 */
function begin(db: PGlite): Promise<number> {
  const id = nextTransaction++;
  return new Promise<number>((started, failed) => {
    const outcome = db
      .transaction(async (transaction) => {
        const commit = await new Promise<boolean>((end) => {
          transactions.set(id, { transaction, end });
          started(id);
        });
        if (!commit) throw ROLLBACK;
      })
      .then(
        () => undefined,
        (error: unknown) => {
          if (error !== ROLLBACK) throw error;
        },
      )
      .finally(() => {
        transactions.delete(id);
        outcomes.delete(id);
      });
    outcomes.set(id, outcome);
    // A transaction that could not begin fails the "begin" message; one that began
    // and then failed to commit fails its "end" message instead.
    outcome.catch(failed);
  });
}

void main();

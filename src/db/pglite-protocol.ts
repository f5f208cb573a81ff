/**
 * Messages between the gateway's thread and the thread that runs embedded PGlite
 * (pglite-worker.ts). Only what drizzle asks of a PGlite client crosses: queries (in or
 * out of a transaction), a transaction's start and end, and closing.
 */
export type WorkerRequest =
  | {
      id: number;
      kind: "query";
      sql: string;
      params: unknown[];
      rowMode: "array" | "object";
      /** Drizzle's parsers keep dates, times and intervals as PostgreSQL's text. */
      rawDates: boolean;
      transaction: number | null;
    }
  | { id: number; kind: "exec"; sql: string; transaction: number | null }
  | { id: number; kind: "begin" }
  | { id: number; kind: "end"; transaction: number; commit: boolean }
  | { id: number; kind: "close" };

export type WorkerReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: SerializedError };

/** A database error as the other thread rebuilds it: its SQLSTATE `code` decides its fate. */
export type SerializedError = {
  name: string;
  message: string;
  fields: Record<string, string | number | undefined>;
};

/** What the worker says once its database is open, or why it is not. */
export type WorkerStarted = { started: true } | { started: false; error: SerializedError };

/** The worker's options, as workerData. */
export type WorkerOptions = { dataDir: string; postgresqlconf: string };

/** The fields of PostgreSQL's error response that callers read (guardDatabase: `code`). */
const ERROR_FIELDS = [
  "code",
  "severity",
  "detail",
  "hint",
  "position",
  "schema",
  "table",
  "column",
  "dataType",
  "constraint",
  "routine",
] as const;

export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: "Error", message: String(error), fields: {} };
  const fields: SerializedError["fields"] = {};
  for (const field of ERROR_FIELDS) {
    const value = (error as unknown as Record<string, unknown>)[field];
    if (typeof value === "string" || typeof value === "number") fields[field] = value;
  }
  return { name: error.name, message: error.message, fields };
}

export function deserializeError(error: SerializedError): Error {
  const rebuilt = Object.assign(new Error(error.message), error.fields);
  rebuilt.name = error.name;
  return rebuilt;
}

import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import {
  deserializeError,
  type WorkerOptions,
  type WorkerReply,
  type WorkerRequest,
  type WorkerStarted,
} from "./pglite-protocol.js";

/** A result as PGlite gives it, copied across the threads. */
type ThreadResults = {
  rows: unknown[];
  fields: { name: string; dataTypeID: number }[];
  affectedRows?: number;
};

type QueryOptions = { rowMode?: "array" | "object"; parsers?: object };

/** What drizzle and the gateway ask of a PGlite client, in a transaction or out of one. */
type ThreadQueries = {
  query(sql: string, params?: unknown[], options?: QueryOptions): Promise<ThreadResults>;
  exec(sql: string): Promise<ThreadResults[]>;
};

export type PgliteThread = ThreadQueries & {
  transaction<T>(run: (transaction: ThreadQueries) => Promise<T>): Promise<T>;
  close(): Promise<void>;
};

/** Sent when the thread is gone: no SQLSTATE, so guardDatabase says SERVICE_UNAVAILABLE. */
const THREAD_GONE = "the embedded database's thread has stopped";

/**
 * Embedded PGlite on a worker thread (pglite-worker.ts), behind the part of PGlite's API
 * that drizzle's PGlite driver calls: the WebAssembly work runs off the gateway's thread,
 * which only copies each query and its rows across.
 */
export async function openPgliteThread(
  options: WorkerOptions,
  log?: Logger,
): Promise<PgliteThread> {
  const worker = new Worker(workerFile(), { workerData: options });
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let nextId = 1;
  let gone: Error | null = null;

  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error) => {
      worker.off("exit", exited);
      reject(error);
    };
    const exited = (code: number) => failed(new Error(`${THREAD_GONE} (exit ${code})`));
    worker.once("message", (message: WorkerStarted) => {
      worker.off("error", failed);
      worker.off("exit", exited);
      if (message.started) resolve();
      else reject(deserializeError(message.error));
    });
    worker.once("error", failed);
    worker.once("exit", exited);
  });

  worker.on("message", (message: WorkerReply) => {
    const waiting = pending.get(message.id);
    if (!waiting) return;
    pending.delete(message.id);
    if (message.ok) waiting.resolve(message.value);
    else waiting.reject(deserializeError(message.error));
  });
  worker.on("error", (error) => log?.error({ err: error }, "embedded database thread failed"));
  worker.once("exit", (code) => {
    gone = new Error(`${THREAD_GONE} (exit ${code})`);
    for (const waiting of pending.values()) waiting.reject(gone);
    pending.clear();
  });

  // A request without its id: each kind's own fields.
  type Outgoing = WorkerRequest extends infer R
    ? R extends { id: number }
      ? Omit<R, "id">
      : never
    : never;
  function send<T>(request: Outgoing): Promise<T> {
    if (gone) return Promise.reject(gone);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      worker.postMessage({ ...request, id });
    });
  }

  const queriesIn = (transaction: number | null): ThreadQueries => ({
    query: (sql, params = [], queryOptions = {}) =>
      send<ThreadResults>({
        kind: "query",
        sql,
        params,
        rowMode: queryOptions.rowMode ?? "object",
        // Drizzle's only parsers keep dates as text (its PGlite session); the thread
        // applies the same ones, as functions cannot be sent.
        rawDates: queryOptions.parsers !== undefined,
        transaction,
      }),
    exec: (sql) => send<ThreadResults[]>({ kind: "exec", sql, transaction }),
  });

  return {
    ...queriesIn(null),
    async transaction<T>(run: (transaction: ThreadQueries) => Promise<T>): Promise<T> {
      const transaction = await send<number>({ kind: "begin" });
      let result: T;
      try {
        result = await run(queriesIn(transaction));
      } catch (error) {
        await send({ kind: "end", transaction, commit: false }).catch(() => {});
        throw error;
      }
      await send({ kind: "end", transaction, commit: true });
      return result;
    },
    async close() {
      if (gone) return;
      const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
      await send({ kind: "close" }).catch(() => {});
      await exited;
    },
  };
}

/**
 * The worker beside this module: compiled in dist/. Under tsx or vitest it is TypeScript,
 * which a worker cannot load by itself (an `--import tsx` in its execArgv is not applied
 * to it): a bootstrap registers tsx's loader (a development dependency) in the worker
 * first, then imports it.
 */
function workerFile(): URL {
  if (!import.meta.url.endsWith(".ts")) return new URL("./pglite-worker.js", import.meta.url);
  const worker = new URL("./pglite-worker.ts", import.meta.url).href;
  // tsx's ESM API: package.json maps "tsx/esm/api" to index.cjs for require, index.mjs
  // for import, side by side; only the ESM one registers in a worker.
  const api = pathToFileURL(
    createRequire(import.meta.url)
      .resolve("tsx/esm/api")
      .replace(/\.cjs$/, ".mjs"),
  ).href;
  const bootstrap = `import { register } from ${JSON.stringify(api)}; register(); await import(${JSON.stringify(worker)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`);
}

/**
 * Start-up and idle memory of `node dist/main.js`, as an operator runs it:
 *   npm run bench:startup
 * For the embedded default (memory store + PGlite in DATA_DIR) and for Redis + PostgreSQL,
 * the first start (an empty data directory, a new database) and later starts (the same
 * one again): the time from spawn to the first `/health/ready` 200, the `startupMs` the
 * gateway logs (from its process start, module loading included), and the resident memory
 * once idle. Each figure is the median of BENCH_STARTS starts (default 5).
 *
 *   BENCH_STARTS   starts per figure (default 5)
 *   REDIS_URL, DATABASE_URL   the Redis + PostgreSQL mode (defaults on 127.0.0.1)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import pg from "pg";

const STARTS = Number(process.env.BENCH_STARTS ?? 5);
/** How long a started gateway sits idle before its memory is read. */
const IDLE_MS = 3000;
const root = fileURLToPath(new URL("..", import.meta.url));
const main = join(root, "dist/main.js");
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const postgresUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

type Start = { readyMs: number; startupMs: number; rssMb: number };

/** One start: spawn, poll readiness, read the logged startupMs, idle, read RSS, SIGTERM. */
async function startOnce(env: Record<string, string>): Promise<Start> {
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [main], {
    env: {
      PATH: process.env.PATH ?? "",
      SERVICE_HOST: "127.0.0.1",
      SERVICE_PORT: "0",
      LOG_LEVEL: "info",
      LOG_FORMAT: "json",
      NODE_ENV: "production",
      ADMIN_TOKEN: "bench-startup-token-0123456789",
      ...env,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const { port, startupMs } = await listening(child);
    const readyMs = await readyAfter(port, spawnedAt);
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    return { readyMs, startupMs, rssMb: rssOf(child.pid as number) };
  } finally {
    await stop(child);
  }
}

function listening(child: ChildProcess): Promise<{ port: number; startupMs: number }> {
  return new Promise((resolve, reject) => {
    let port = 0;
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on("line", (text) => {
      let line: { msg?: string; port?: number; startupMs?: number };
      try {
        line = JSON.parse(text);
      } catch {
        return;
      }
      if (line.msg === "port bound; starting") port = line.port ?? 0;
      if (line.msg === "service integration gateway listening") {
        resolve({ port, startupMs: line.startupMs ?? Number.NaN });
      }
    });
    child.once("exit", (code) =>
      reject(new Error(`the gateway exited (${code}) before it was ready`)),
    );
  });
}

/** Polls /health/ready (it answers 503 while starting) until a 200. */
async function readyAfter(port: number, spawnedAt: number): Promise<number> {
  for (;;) {
    const response = await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => null);
    await response?.body?.cancel();
    if (response?.status === 200) return performance.now() - spawnedAt;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

function report(name: string, starts: Start[], target: string) {
  const ready = median(starts.map((start) => start.readyMs));
  const logged = median(starts.map((start) => start.startupMs));
  const rss = median(starts.map((start) => start.rssMb));
  console.log(
    `${name.padEnd(34)} ready ${(ready / 1000).toFixed(2).padStart(5)} s  startupMs ${String(Math.round(logged)).padStart(5)}  idle RSS ${rss.toFixed(0).padStart(4)} MB  ${target}`,
  );
}

async function adminQuery(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** The keys one mode's gateways left in the shared Redis. */
async function dropKeys(prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

async function embedded(): Promise<void> {
  const first: Start[] = [];
  const later: Start[] = [];
  for (let i = 0; i < STARTS; i++) {
    const dir = mkdtempSync(join(tmpdir(), "sig-bench-startup-"));
    try {
      first.push(await startOnce({ DATA_DIR: join(dir, "data") }));
      // The same directory again, for the later starts.
      if (i === 0) {
        for (let j = 0; j < STARTS; j++)
          later.push(await startOnce({ DATA_DIR: join(dir, "data") }));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  report("embedded, first start", first, "");
  report("embedded, later starts", later, "(targets: ready ≤ 1.5 s, idle RSS ≤ 220 MB)");
}

async function redisAndPostgres(): Promise<void> {
  const first: Start[] = [];
  const later: Start[] = [];
  for (let i = 0; i < STARTS; i++) {
    const name = `sig_bench_startup_${process.pid}_${i}`;
    await adminQuery(`CREATE DATABASE ${name}`);
    const env = {
      REDIS_URL: redisUrl,
      DATABASE_URL: withDatabase(postgresUrl, name),
      REDIS_KEY_PREFIX: `sig:bench-startup:${process.pid}:${i}:`,
    };
    try {
      first.push(await startOnce(env));
      if (i === 0) for (let j = 0; j < STARTS; j++) later.push(await startOnce(env));
    } finally {
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await dropKeys(env.REDIS_KEY_PREFIX);
    }
  }
  report("Redis + PostgreSQL, first start", first, "");
  report("Redis + PostgreSQL, later starts", later, "(target: ready ≤ 1 s)");
}

if (!existsSync(main)) throw new Error(`${main} is missing: npm run build first`);
console.log(
  `bench:startup: node dist/main.js, median of ${STARTS} starts, RSS after ${IDLE_MS / 1000} s idle (${new Date().toISOString().slice(0, 10)})`,
);
await embedded();
await redisAndPostgres();

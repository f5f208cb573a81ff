import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { spawnGatewayMain } from "../helpers/process.js";

type LogLine = { msg?: string; port?: number; url?: string; level?: number };

/**
 * The gateway as its own process (src/main.ts through tsx), as an operator runs it: its
 * log lines are read as they come, its stderr kept, its exit observed. It is only ever
 * killed by its own pid.
 */
export type GatewayProcess = {
  child: ChildProcess;
  /** The base URL, once the port is bound (before the gateway is ready). */
  url: string;
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True while the process runs. */
  running(): boolean;
  stderr(): string;
  /** Resolves at the first log line with this message (already seen or still to come). */
  logged(message: string): Promise<LogLine>;
  /** Log lines at error level or above, seen so far. */
  errors(): LogLine[];
  stop(signal?: NodeJS.Signals): Promise<void>;
};

/** Starts it and resolves once its port is bound, or rejects with its stderr if it exits. */
export async function spawnGateway(env: Record<string, string>): Promise<GatewayProcess> {
  const child = spawnRaw(env);
  const seen: LogLine[] = [];
  const waiters: { message: string; resolve: (line: LogLine) => void }[] = [];
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      return;
    }
    seen.push(line);
    for (const waiter of waiters.filter((w) => w.message === line.msg)) waiter.resolve(line);
  });
  const logged = (message: string) =>
    new Promise<LogLine>((resolve, reject) => {
      const earlier = seen.find((line) => line.msg === message);
      if (earlier) return resolve(earlier);
      waiters.push({ message, resolve });
      void exited.then(({ code, signal }) =>
        reject(new Error(`gateway exited (${code ?? signal}) before "${message}": ${stderr}`)),
      );
    });
  const bound = await logged("port bound; starting");
  return {
    child,
    url: `http://127.0.0.1:${bound.port}`,
    exited,
    running: () => child.exitCode === null && child.signalCode === null,
    stderr: () => stderr,
    logged,
    errors: () => seen.filter((line) => (line.level ?? 0) >= 50),
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}

/** The bare process, for starts expected to fail before they bind anything. */
export function spawnRaw(env: Record<string, string>): ChildProcess {
  return spawnGatewayMain(env, "pipe");
}

/** One GraphQL request; network failures are returned as `{ network: message }`. */
export async function graphqlAt(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<
  | { data?: Record<string, unknown> | null; errors?: { extensions?: { code?: string } }[] }
  | { network: string }
> {
  try {
    const response = await fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", ...headers },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(15_000),
    });
    return (await response.json()) as { data?: Record<string, unknown> | null };
  } catch (error) {
    return { network: String(error) };
  }
}

export async function readinessOf(url: string): Promise<{ status: number; body: string }> {
  try {
    const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(5000) });
    return { status: response.status, body: await response.text() };
  } catch (error) {
    return { status: 0, body: String(error) };
  }
}

/** Milliseconds until readiness answers 200 (polled every 20 ms), or throws at the bound. */
export async function msUntilReady(url: string, boundMs = 30_000): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < boundMs) {
    if ((await readinessOf(url)).status === 200) return performance.now() - started;
    // Readiness has no event to wait on from outside the process: polling is the probe.
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${url} not ready within ${boundMs} ms`);
}

/** Server and load processes for the benches, pinned to their cores where taskset exists. */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
export const pinning = hasTaskset();

function hasTaskset(): boolean {
  try {
    execFileSync("taskset", ["-c", "0", "true"]);
    return true;
  } catch {
    return false;
  }
}

export function pinned(core: number, args: string[]): [string, string[]] {
  const node = [process.execPath, "--import", "tsx", ...args];
  return pinning ? ["taskset", ["-c", String(core), ...node]] : [node[0] as string, node.slice(1)];
}

export type RunningServer = { port: number; process: ChildProcess };

export async function startServer(script: string, args: string[] = []): Promise<RunningServer> {
  const [command, argv] = pinned(0, [here(script), ...args]);
  const child = spawn(command, argv, {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, NODE_ENV: "production" },
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  for await (const line of lines) {
    const ready = (JSON.parse(line) as { ready?: number }).ready;
    if (ready) return { port: ready, process: child };
  }
  throw new Error(`${script} exited before it was ready`);
}

export async function stopServer(server: RunningServer): Promise<void> {
  const exited = new Promise((resolve) => server.process.once("exit", resolve));
  server.process.kill("SIGTERM");
  await exited;
}

/** Runs a script pinned to `core` with one JSON argument, and parses its last output line. */
export async function runJson<T>(core: number, script: string, argument: unknown): Promise<T> {
  const [command, argv] = pinned(core, [here(script), JSON.stringify(argument)]);
  const child = spawn(command, argv, { stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  await new Promise((resolve) => child.once("exit", resolve));
  return JSON.parse(output.trim().split("\n").at(-1) ?? "{}") as T;
}

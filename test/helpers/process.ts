import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { STANDARD_ADMIN_TOKEN, tokensMode } from "./gateway.js";

export type GatewayProcess = { url: string; process: ChildProcess };

/**
 * The gateway as its own process (src/main.ts through tsx), on a free port, with the
 * environment given besides the basics; resolves once it listens. Tests kill it outright
 * (SIGKILL) to see what replicas do about a crash.
 */
export async function startGatewayProcess(env: Record<string, string>): Promise<GatewayProcess> {
  const child = spawnGatewayMain(env, "inherit");
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  for await (const line of lines) {
    const entry = JSON.parse(line) as { msg?: string; url?: string };
    if (entry.msg === "service integration gateway listening" && entry.url) {
      // Keep reading, so the child never blocks on a full pipe.
      lines.on("line", () => {});
      return { url: entry.url.replace(/\/graphql$/, ""), process: child };
    }
  }
  throw new Error("the gateway exited before it listened");
}

/**
 * `node --import tsx src/main.ts` on a free loopback port, probes and GraphiQL off, with
 * `env` besides; stdout is piped (JSON log lines), stderr as asked.
 */
export function spawnGatewayMain(
  env: Record<string, string>,
  stderr: "inherit" | "pipe",
): ChildProcess {
  const main = fileURLToPath(new URL("../../src/main.ts", import.meta.url));
  return spawn(process.execPath, ["--import", "tsx", main], {
    env: {
      PATH: process.env.PATH,
      SERVICE_PORT: "0",
      SERVICE_HOST: "127.0.0.1",
      PROBES: "false",
      GRAPHIQL: "false",
      LOG_LEVEL: "info",
      // npm run test:tokens: the process is in tokens mode as startGateway's gateways are.
      ...(tokensMode ? { ADMIN_TOKEN: STANDARD_ADMIN_TOKEN } : {}),
      ...env,
    },
    stdio: ["ignore", "pipe", stderr],
  });
}

import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  type GatewayProcess,
  graphqlAt,
  msUntilReady,
  spawnGateway,
  spawnRaw,
} from "./gateway-process.js";

/** Runs a start expected to fail at once: its exit code and what it printed. */
async function failedStart(env: Record<string, string>) {
  const child: ChildProcess = spawnRaw(env);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { code, stdout, stderr };
}

const REGISTER = `mutation ($input: RegisterServiceInput!) { registerService(input: $input) { id } }`;
const register = (url: string, id: string) =>
  graphqlAt(url, REGISTER, {
    input: { id, name: id, type: "kept", version: "1.0.0", baseUrl: "http://kept.test" },
  });

describe("the embedded data directory and the port", () => {
  const root = mkdtempSync(join(tmpdir(), "sig-faults-data-"));
  const dataDir = join(root, "data");
  const gateways: GatewayProcess[] = [];

  afterAll(async () => {
    await Promise.all(gateways.map((gateway) => gateway.stop("SIGKILL")));
    rmSync(root, { recursive: true, force: true });
  });

  it("lets one process own a data directory, refuses a busy port before opening anything, and takes over a dead holder's lock", async () => {
    const holder = await spawnGateway({ DATA_DIR: dataDir });
    gateways.push(holder);
    await msUntilReady(holder.url);
    expect(await register(holder.url, "kept-1")).toEqual({
      data: { registerService: { id: "kept-1" } },
    });

    // A second gateway on the same directory: one line, naming it and the holder's pid.
    const second = await failedStart({ DATA_DIR: dataDir });
    expect(second.code).toBe(1);
    expect(second.stderr.trim().split("\n")).toEqual([
      expect.stringContaining(`DATA_DIR ${dataDir} is in use by process ${holder.child.pid}`),
    ]);
    expect(second.stdout).toBe("");

    // A busy port: one line, before any database is opened or created.
    const otherDir = join(root, "other");
    const port = new URL(holder.url).port;
    const busy = await failedStart({ DATA_DIR: otherDir, SERVICE_PORT: port });
    expect(busy.code).toBe(1);
    expect(busy.stderr.trim().split("\n")).toEqual([
      `port ${port} on 127.0.0.1 is in use by another process; set SERVICE_PORT`,
    ]);
    expect(existsSync(otherDir)).toBe(false);
    expect(existsSync(`${otherDir}.lock`)).toBe(false);

    // The holder was never disturbed.
    expect(await register(holder.url, "kept-2")).toEqual({
      data: { registerService: { id: "kept-2" } },
    });

    // Killed outright, it leaves its lock behind; the next start takes it over and
    // finds everything the holder acknowledged.
    await holder.stop("SIGKILL");
    expect(existsSync(`${dataDir}.lock`)).toBe(true);
    const next = await spawnGateway({ DATA_DIR: dataDir });
    gateways.push(next);
    await msUntilReady(next.url);
    const listed = await graphqlAt(
      next.url,
      `{ services(filter: { type: "KEPT" }) { nodes { id } } }`,
    );
    expect(listed).toEqual({ data: { services: { nodes: [{ id: "kept-1" }, { id: "kept-2" }] } } });

    // A clean stop removes the lock.
    await next.stop();
    expect((await next.exited).code).toBe(0);
    expect(existsSync(`${dataDir}.lock`)).toBe(false);
  });
});

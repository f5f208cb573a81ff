import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const logger = new URL("../src/logger.ts", import.meta.url).href;

/** One line about a request, logged by a logger of that format in a process of its own. */
async function logged(logFormat: "json" | "pretty"): Promise<string> {
  const script = `
    import { createLogger } from ${JSON.stringify(logger)};
    const log = createLogger({ serviceName: "logger-test", logLevel: "info", logFormat: ${JSON.stringify(logFormat)} });
    log.info({ requestId: "req-123", headers: { authorization: "Bearer secret-token" } }, "something happened");
  `;
  const { stdout } = await run(
    process.execPath,
    ["--import", "tsx", "--input-type=module", "--eval", script],
    // Not a terminal: a piped stdout, where pretty has no colours.
    { env: { PATH: process.env.PATH }, timeout: 20_000 },
  );
  return stdout;
}

describe("createLogger", () => {
  it("writes one JSON object a line with LOG_FORMAT=json", async () => {
    const lines = (await logged("json")).trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({
      level: 30,
      name: "logger-test",
      requestId: "req-123",
      headers: { authorization: "[Redacted]" },
      msg: "something happened",
    });
  });

  it("writes lines for a person with LOG_FORMAT=pretty, the request id and redaction kept", async () => {
    const output = await logged("pretty");
    expect(() => JSON.parse(output.trim().split("\n")[0] ?? "")).toThrow();
    expect(output).toMatch(/INFO.*\(logger-test\): something happened/);
    expect(output).toMatch(/requestId: "req-123"/);
    expect(output).toContain("[Redacted]");
    expect(output).not.toContain("secret-token");
    expect(output).not.toContain("\u001b[");
  });
});

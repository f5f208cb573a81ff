import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, type Dispatcher, Pool } from "undici";
import { afterAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type GatewayProcess, startGatewayProcess } from "../helpers/process.js";

/*
 * SIGTERM under load: the gateway as its own process, 50 keep-alive connections sending
 * requests back to back, an SSE subscription and a graphql-ws socket open. Nothing that
 * reached the gateway may go unanswered: the only failure allowed is a refused connection
 * (no byte of the request was sent), once the listener has closed.
 */

const CONNECTIONS = 50;
const SHUTDOWN_TIMEOUT_SECONDS = 10;
/** main.ts forces the exit 5 s past the shutdown timeout; a clean one is well within. */
const EXIT_WITHIN_MS = SHUTDOWN_TIMEOUT_SECONDS * 1000 + 5000;
/** Answers before the signal, so every connection is open and busy when it comes. */
const WARM_UP_ANSWERS = 2000;
/** Bounds of the load, whatever happens to the gateway. */
const MAX_REQUESTS = 200_000;
const MAX_LOAD_MS = 60_000;

const SUBSCRIPTION = "subscription { registryChanged { change } }";
const REGISTER = `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`;

type Outcome =
  | {
      kind: "answered";
      status: number;
      connectionClose: boolean;
      graphqlErrors: boolean;
      startedAt: number;
      endedAt: number;
    }
  | { kind: "refused"; startedAt: number; endedAt: number }
  | { kind: "failed"; code: string; message: string; startedAt: number; endedAt: number };

/** A GraphQL query, a registration (upsert of one id per loop) or the liveness probe. */
function requestFor(loop: number, n: number): Dispatcher.RequestOptions {
  const json = { "content-type": "application/json", accept: "application/json" };
  switch (n % 3) {
    case 0:
      return {
        method: "POST",
        path: "/graphql",
        headers: json,
        body: JSON.stringify({ query: "{ services(first: 5) { totalCount } }" }),
      };
    case 1:
      return {
        method: "POST",
        path: "/graphql",
        headers: json,
        body: JSON.stringify({
          query: REGISTER,
          variables: {
            input: {
              id: `drain-${loop}`,
              name: "drain load",
              type: "drain_load",
              version: "1.0.0",
              baseUrl: "http://drain.test",
            },
          },
        }),
      };
    default:
      return { method: "GET", path: "/health/alive" };
  }
}

function errorCode(error: unknown): string {
  const { code, cause } = error as { code?: string; cause?: { code?: string } };
  return code ?? cause?.code ?? "UNKNOWN";
}

/** One event, resolved the first time `settle` is called. */
function signal() {
  let settle: () => void = () => {};
  const happened = new Promise<void>((resolve) => {
    settle = resolve;
  });
  return { happened, settle };
}

describe("SIGTERM under 50 keep-alive connections", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "sig-faults-drain-"));
  let gateway: GatewayProcess | undefined;
  const closers: (() => unknown)[] = [];

  afterAll(async () => {
    for (const close of closers) await close();
    if (gateway && gateway.process.exitCode === null && gateway.process.signalCode === null) {
      gateway.process.kill("SIGKILL");
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("answers every request that reached it, ends SSE and WebSockets cleanly, exits 0", async () => {
    gateway = await startGatewayProcess({
      DATA_DIR: dataDir,
      SHUTDOWN_TIMEOUT_SECONDS: String(SHUTDOWN_TIMEOUT_SECONDS),
    });
    const child = gateway.process;
    const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
      child.once("exit", (code) => resolve({ code, at: performance.now() })),
    );

    const pool = new Pool(gateway.url, { connections: CONNECTIONS, pipelining: 1 });
    const sseClient = new Client(gateway.url);
    closers.push(
      () => pool.destroy(),
      () => sseClient.destroy(),
    );

    // An SSE subscription, read to its end.
    const sseEvent = signal();
    const sse = await sseClient.request({
      method: "POST",
      path: "/graphql",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ query: SUBSCRIPTION }),
    });
    const sseEnded = (async () => {
      let text = "";
      try {
        for await (const chunk of sse.body) {
          text += String(chunk);
          if (text.includes("event: next")) sseEvent.settle();
        }
        return { clean: true, text, error: null };
      } catch (error) {
        return { clean: false, text, error: String(error) };
      }
    })();

    // A graphql-ws socket with the same subscription.
    const wsEvent = signal();
    const socket = new WebSocket(`${gateway.url.replace("http", "ws")}/graphql`, [
      "graphql-transport-ws",
    ]);
    closers.push(() => socket.terminate());
    const wsClosed = new Promise<number>((resolve) => socket.once("close", resolve));
    socket.on("error", () => {});
    socket.once("open", () => socket.send(JSON.stringify({ type: "connection_init" })));
    socket.on("message", (raw) => {
      const message = JSON.parse(String(raw)) as { type: string };
      if (message.type === "connection_ack") {
        socket.send(
          JSON.stringify({ id: "1", type: "subscribe", payload: { query: SUBSCRIPTION } }),
        );
      }
      if (message.type === "next") wsEvent.settle();
    });

    // The load: one loop per connection, each sending its next request on an answer.
    const outcomes: Outcome[] = [];
    const warmedUp = signal();
    let answered = 0;
    const loadStarted = performance.now();
    const loadOver = () =>
      outcomes.length >= MAX_REQUESTS || performance.now() - loadStarted > MAX_LOAD_MS;
    async function loop(index: number): Promise<void> {
      for (let n = 0; !loadOver(); n++) {
        const startedAt = performance.now();
        try {
          const response = await pool.request(requestFor(index, n));
          const text = await response.body.text();
          outcomes.push({
            kind: "answered",
            status: response.statusCode,
            connectionClose: response.headers.connection === "close",
            graphqlErrors: text.includes('"errors"'),
            startedAt,
            endedAt: performance.now(),
          });
          if (++answered === WARM_UP_ANSWERS) warmedUp.settle();
        } catch (error) {
          const code = errorCode(error);
          const endedAt = performance.now();
          if (code === "ECONNREFUSED") {
            outcomes.push({ kind: "refused", startedAt, endedAt });
            return;
          }
          outcomes.push({ kind: "failed", code, message: String(error), startedAt, endedAt });
        }
      }
    }
    const loops = Array.from({ length: CONNECTIONS }, (_, index) => loop(index));

    await Promise.all([warmedUp.happened, sseEvent.happened, wsEvent.happened]);
    const connectedAtSignal = pool.stats.connected;
    const signalledAt = performance.now();
    child.kill("SIGTERM");

    await Promise.all(loops);
    const exit = await exited;
    const sseResult = await sseEnded;
    const wsCloseCode = await wsClosed;

    const answers = outcomes.filter((o) => o.kind === "answered");
    const refused = outcomes.filter((o) => o.kind === "refused");
    const failed = outcomes.filter((o) => o.kind === "failed");
    const inFlightAtSignal = outcomes.filter(
      (o) => o.startedAt < signalledAt && o.endedAt > signalledAt,
    );
    const firstRefusal = Math.min(...refused.map((o) => o.endedAt));
    const report = {
      sent: outcomes.length,
      answered: answers.length,
      answeredAfterSignal: answers.filter((o) => o.endedAt > signalledAt).length,
      answeredWithConnectionClose: answers.filter((o) => o.connectionClose).length,
      inFlightAtSignal: inFlightAtSignal.length,
      refusedAfterClose: refused.length,
      unanswered: failed.length,
      unansweredCodes: [...new Set(failed.map((o) => o.code))],
      connectedAtSignal,
      listenerClosedWithinMs: Math.round(firstRefusal - signalledAt),
      exitCode: exit.code,
      exitMs: Math.round(exit.at - signalledAt),
      sseEndedCleanly: sseResult.clean,
      wsCloseCode,
    };
    console.log(`sigterm-drain: ${JSON.stringify(report)}`);

    expect(report.unanswered, JSON.stringify(failed.slice(0, 5))).toBe(0);
    expect(answers.every((o) => o.status === 200 && !o.graphqlErrors)).toBe(true);
    expect(inFlightAtSignal.length).toBeGreaterThan(0);
    expect(inFlightAtSignal.every((o) => o.kind === "answered" && o.status === 200)).toBe(true);
    // The loops only end on a refusal: the listener closed, and every one saw it.
    expect(refused.length).toBe(CONNECTIONS);
    // Each keep-alive connection was told to close by its last answer before it closed.
    expect(connectedAtSignal).toBe(CONNECTIONS);
    expect(report.answeredWithConnectionClose).toBe(CONNECTIONS);
    expect(sseResult).toMatchObject({ clean: true, error: null });
    expect(sseResult.text).toContain("event: complete");
    expect(wsCloseCode).toBe(1001);
    expect(exit.code).toBe(0);
    expect(report.exitMs).toBeLessThan(EXIT_WITHIN_MS);
  });
});

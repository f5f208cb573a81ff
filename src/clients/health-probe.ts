import { Agent } from "undici";
import type { JsonValue } from "../domain/json.js";
import type { ProbeVerdict } from "../domain/status.js";
import { type ReadableBody, readUpTo } from "../lib/bounded-body.js";
import { exceededJsonLimit, type JsonLimits } from "../lib/json-bounds.js";
import type { AddressPolicy } from "./address-guard.js";

/** What a probe found, before any hysteresis. */

export type ProbeResult = {
  verdict: ProbeVerdict;
  reachable: boolean;
  httpStatus: number | null;
  latencyMs: number | null;
  error: string | null;
  body: JsonValue | null;
};

export type HealthProbeOptions = {
  /** Which hosts may be probed: the same policy as calls, so a probe reaches no further. */
  addressPolicy: AddressPolicy;
  /** Whole-probe deadline: connect, headers and body. Default 2,000 ms. */
  timeoutMs?: number;
  /** Sockets kept per service origin; probes of one service never need more. */
  connectionsPerOrigin?: number;
};

/** Bodies larger than this are not read further: a health answer is small. */
const MAX_BODY_BYTES = 64 * 1024;

// "healthy", "ok", "up", "pass" and anything else a 2xx carries count as healthy.
const DEGRADED = new Set(["degraded", "warn", "warning"]);
const FAILING = new Set(["unhealthy", "down", "fail", "failing", "critical"]);

/**
 * Active health checks over one keep-alive undici Agent (no client per call). The body
 * is read, not only the status code: the services of this system answer HTTP 200 with
 * `{"status":"unhealthy"}` when they are not well.
 */
export function createHealthProbe({
  addressPolicy,
  timeoutMs = 2000,
  connectionsPerOrigin = 2,
}: HealthProbeOptions) {
  const agent = new Agent({
    connections: connectionsPerOrigin,
    connect: { lookup: addressPolicy.lookup },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connectTimeout: timeoutMs,
  });

  return {
    async probe(url: string): Promise<ProbeResult> {
      const started = performance.now();
      try {
        const refusal = addressPolicy.forbiddenHost(new URL(url).hostname);
        if (refusal) throw new Error(`${refusal.message}; not probed`);
        const response = await agent.request({
          origin: new URL(url).origin,
          path: pathOf(url),
          method: "GET",
          headers: { accept: "application/json", "user-agent": "service-integration-gateway" },
          signal: AbortSignal.timeout(timeoutMs),
        });
        const text = await readLimited(response.body);
        const latencyMs = performance.now() - started;
        const body = parseJson(text);
        const verdict = verdictOf(response.statusCode, body);
        return {
          verdict,
          reachable: true,
          httpStatus: response.statusCode,
          latencyMs,
          error: verdict === "failing" ? failureText(response.statusCode, body) : null,
          body: shown(body),
        };
      } catch (error) {
        return {
          verdict: "failing",
          reachable: false,
          httpStatus: null,
          latencyMs: null,
          error: describe(error, timeoutMs),
          body: null,
        };
      }
    },

    /** Idempotent: a gateway stopped twice must not fail on its second stop. */
    async close(): Promise<void> {
      if (!agent.closed && !agent.destroyed) await agent.close();
    },
  };
}

export type HealthProbe = ReturnType<typeof createHealthProbe>;

function pathOf(url: string): string {
  const parsed = new URL(url);
  return `${parsed.pathname}${parsed.search}`;
}

async function readLimited(body: ReadableBody): Promise<string> {
  return (await readUpTo(body, MAX_BODY_BYTES)).bytes.toString("utf8");
}

function parseJson(text: string): JsonValue | null {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return text === "" ? null : text;
  }
}

/** Largest probe answer kept and shown (Service.health.body), as deep as any JSON input. */
const SHOWN_LIMITS: JsonLimits = { maxDepth: 32, maxBytes: 4096 };

/**
 * Only a small JSON document is kept: a health answer is one, and a URL registered to
 * point elsewhere (an internal page, say) should not be readable through the gateway.
 */
function shown(body: JsonValue | null): JsonValue | null {
  if (body === null || typeof body !== "object") return null;
  // Measured, not serialised: 64 KiB of "[[[[" would overflow JSON.stringify's stack.
  return exceededJsonLimit(body, SHOWN_LIMITS) === null ? body : null;
}

/** Non-2xx fails; a 2xx decides by the body's `status`, healthy when it says nothing. */
function verdictOf(httpStatus: number, body: JsonValue | null): ProbeVerdict {
  if (httpStatus < 200 || httpStatus >= 300) return "failing";
  const said =
    body !== null && typeof body === "object" && !Array.isArray(body) ? body.status : undefined;
  if (typeof said !== "string") return "healthy";
  const status = said.toLowerCase();
  if (FAILING.has(status)) return "failing";
  if (DEGRADED.has(status)) return "degraded";
  return "healthy";
}

function failureText(httpStatus: number, body: JsonValue | null): string {
  if (httpStatus < 200 || httpStatus >= 300) return `HTTP ${httpStatus}`;
  const said = body !== null && typeof body === "object" && !Array.isArray(body) ? body.status : "";
  return `reported ${JSON.stringify(said)}`;
}

function describe(error: unknown, timeoutMs: number): string {
  if (error instanceof Error) {
    if (error.name === "TimeoutError" || error.name.includes("Timeout")) {
      return `no answer within ${timeoutMs} ms`;
    }
    const code = (error as Error & { code?: string }).code;
    return code ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

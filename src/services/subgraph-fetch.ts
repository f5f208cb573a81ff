import { Headers, Response } from "@whatwg-node/fetch";
import { failureOf, isNetworkFailure } from "../clients/call-failure.js";
import type { ServiceClient } from "../clients/service-client.js";
import type { CircuitState } from "../domain/breaker.js";
import { GatewayError, isGatewayError } from "../domain/errors.js";
import { DEFAULT_STRATEGY, type ServiceRecord } from "../domain/service.js";
import { childTraceparent } from "../lib/traceparent.js";
import type { Discovery } from "./discovery.js";

export type SubgraphOperation = "query" | "mutation" | "subscription";

/** One fetch the federated planner wants made to a type's subgraph. */
export type SubgraphRequest = {
  type: string;
  operation: SubgraphOperation;
  method: string;
  /** The query string the planner put on the subgraph URL ("" or "?query=…"). */
  search: string;
  /** What the planner sends (content-type, accept). */
  headers: Record<string, string>;
  body: string | null;
  /** Ends the fetch when the federated operation ends (a subscription completed). */
  signal?: AbortSignal | null;
  requestId: string;
  traceparent: string | null;
  /** The caller's headers on the forwarding allow-list. */
  forwarded: Record<string, string>;
};

/** What a fetch did, for `extensions.explain` and the metrics. */
export type SubgraphFetchRecord = {
  type: string;
  /** The instance that answered (or last failed); null when none was selectable. */
  instanceId: string | null;
  /** Requests sent, over every instance tried. */
  attempts: number;
  /** Instances tried, in order. */
  instances: string[];
  /** The answering instance's breaker after the fetch. */
  breakerState: CircuitState | null;
  /** True when it serves the composed SDL of its type; false: a fallback (rolling deploy). */
  sdlMatched: boolean | null;
  durationMs: number;
  /** "ok", or the code of the error the fields got. */
  outcome: string;
};

export type SubgraphFetchDeps = {
  discovery: Pick<Discovery, "select">;
  client: Pick<ServiceClient, "call" | "open">;
  breakerStateOf: (serviceId: string) => CircuitState;
  /** The version whose SDL the serving supergraph composed for a type. */
  composedVersionOf: (type: string) => string | null;
  /** The selection strategy a type's instances ask for; round robin when null. */
  strategyOf: (type: string) => string | null;
  /** Instances one fetch may try. Default 3. */
  maxInstancesTried?: number;
};

/**
 * Sends a subgraph fetch to one instance of its type, through the gateway's own client:
 * discovery picks it (the type's strategy, skipping OFFLINE, MAINTENANCE and breakers
 * that refuse), preferring instances whose version serves the composed SDL; the
 * instance's breaker, bulkhead and deadline apply. A fetch refused before it was sent
 * goes to the next instance; a query (never a mutation) also does when the instance
 * could not be reached, dropped the connection or answered 5xx. When no instance can
 * answer, the fetch answers a GraphQL error naming the type, so only that type's fields
 * fail.
 */
export function createSubgraphFetch(deps: SubgraphFetchDeps) {
  const maxTried = deps.maxInstancesTried ?? 3;

  async function fetchSubgraph(
    request: SubgraphRequest,
  ): Promise<{ response: Response; record: SubgraphFetchRecord }> {
    const started = performance.now();
    const composed = deps.composedVersionOf(request.type);
    const servesComposed = (service: ServiceRecord) =>
      composed === null || service.version === composed;
    const tried: string[] = [];
    let attempts = 0;
    let lastError: GatewayError | null = null;
    let last: ServiceRecord | null = null;
    const record = (outcome: string, instance: ServiceRecord | null): SubgraphFetchRecord => ({
      type: request.type,
      instanceId: instance?.id ?? null,
      attempts,
      instances: tried,
      breakerState: instance ? deps.breakerStateOf(instance.id) : null,
      sdlMatched: instance ? servesComposed(instance) : null,
      durationMs: performance.now() - started,
      outcome,
    });

    while (tried.length < maxTried) {
      const instance = await deps.discovery.select(
        request.type,
        deps.strategyOf(request.type) ?? DEFAULT_STRATEGY,
        new Set(tried),
        { only: (service) => service.graphql !== null, prefer: servesComposed },
      );
      if (!instance) break;
      tried.push(instance.id);
      last = instance;
      try {
        const response = await send(instance, request);
        attempts += response.attempts;
        return { response: response.response, record: record("ok", instance) };
      } catch (error) {
        if (!isGatewayError(error)) throw error;
        attempts += Number(error.details.attempts ?? 0);
        lastError = error;
        if (request.signal?.aborted || !mayTryAnother(error, request.operation)) break;
      }
    }
    const error = unavailable(request.type, lastError, tried);
    const outcome = error.code;
    return {
      response: errorResponse(error, request.type, last),
      record: record(outcome, last),
    };
  }

  async function send(
    instance: ServiceRecord,
    request: SubgraphRequest,
  ): Promise<{ response: Response; attempts: number }> {
    const path = `${instance.graphql?.path ?? "/graphql"}${request.search}`;
    const call = {
      serviceId: instance.id,
      baseUrl: instance.baseUrl,
      method: request.method,
      path,
      headers: {
        ...request.forwarded,
        ...request.headers,
        // Read as sent: a compressed body would need decoding here for nothing.
        "accept-encoding": "identity",
        "user-agent": "service-integration-gateway",
        "x-request-id": request.requestId,
        traceparent: childTraceparent(request.traceparent),
      },
      body: request.body,
      // Retries go to other instances (below), not to the same one after a backoff.
      idempotent: false,
    };
    if (wantsStream(request.headers)) {
      const outcome = await deps.client.open(call, request.signal ?? undefined);
      return {
        // whatwg-node's Response reads a Node stream as it is, without a web stream between.
        response: new Response(outcome.body as unknown as ReadableStream<Uint8Array>, {
          status: outcome.status,
          headers: headersOf(outcome.headers),
        }),
        attempts: 1,
      };
    }
    const outcome = await deps.client.call(call, request.signal ?? undefined);
    return {
      response: new Response(outcome.body.length > 0 ? viewOf(outcome.body) : null, {
        status: outcome.status,
        headers: headersOf(outcome.headers),
      }),
      attempts: outcome.attempts,
    };
  }

  return { fetch: fetchSubgraph };
}

export type SubgraphFetch = ReturnType<typeof createSubgraphFetch>;

/**
 * What the fields of a type get when no instance answered. No instance to try, or none
 * that could be reached, is SERVICE_UNAVAILABLE; an instance that answered (5xx, too
 * large) or timed out keeps its own code.
 */
function unavailable(type: string, last: GatewayError | null, tried: string[]): GatewayError {
  if (last === null) {
    return new GatewayError(
      "SERVICE_UNAVAILABLE",
      `No ${type} instance can answer: none is ONLINE or DEGRADED with its circuit breaker closed.`,
    );
  }
  if (!isNetworkFailure(failureOf(last))) return last;
  return new GatewayError(
    "SERVICE_UNAVAILABLE",
    `No ${type} instance could be reached (tried ${tried.join(", ")}): ${last.message}`,
    last.details,
  );
}

/**
 * Whether a failed fetch may go to another instance: always when nothing was sent (a
 * breaker or bulkhead refused it); for a query also when the instance failed it, since
 * running a query twice changes nothing. A mutation that may have run is never resent.
 */
function mayTryAnother(error: GatewayError, operation: SubgraphOperation): boolean {
  // A refusal only: for a mutation, a connection never made stays final, federation's rule
  // as it was (callService, in calls.ts, moves that one on too).
  if (failureOf(error) === "refused") return true;
  if (operation !== "query") return false;
  return error.code === "UPSTREAM_ERROR" || error.code === "SERVICE_UNAVAILABLE";
}

function wantsStream(headers: Record<string, string>): boolean {
  const accept = Object.entries(headers).find(([name]) => name.toLowerCase() === "accept")?.[1];
  return accept?.includes("text/event-stream") ?? false;
}

function headersOf(headers: Record<string, string | string[]>): Headers {
  const result = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    for (const item of Array.isArray(value) ? value : [value]) result.append(name, item);
  }
  return result;
}

/**
 * A subgraph answer in GraphQL's shape, so the planner puts the error on exactly the
 * fields this type owns and returns the rest of the data.
 */
function errorResponse(error: GatewayError, type: string, instance: ServiceRecord | null) {
  return Response.json({
    data: null,
    errors: [
      {
        message: error.message,
        extensions: {
          code: error.code,
          serviceType: type,
          ...(instance ? { serviceId: instance.id } : {}),
          ...(error.details.breakerState ? { breakerState: error.details.breakerState } : {}),
        },
      },
    ],
  });
}

/** The bytes of a Buffer as a plain Uint8Array, without copying them. */
function viewOf(buffer: Buffer): Uint8Array<ArrayBuffer> {
  return new Uint8Array(buffer.buffer as ArrayBuffer, buffer.byteOffset, buffer.byteLength);
}

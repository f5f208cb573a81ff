import { EventEmitter } from "node:events";
import type { Readable } from "node:stream";
import {
  type BulkheadPolicy,
  bulkhead,
  DelegateBackoff,
  handleWhen,
  isBrokenCircuitError,
  isBulkheadRejectedError,
  type RetryPolicy,
  retry,
  TaskCancelledError,
} from "cockatiel";
import { Agent } from "undici";
import { type CallPolicySettings, defaultCallPolicy } from "../domain/call-policy.js";
import { GatewayError } from "../domain/errors.js";
import { type ReadableBody, readUpTo } from "../lib/bounded-body.js";
import { type Clock, systemClock } from "../lib/clock.js";
import { type AddressPolicy, AddressRefusedError } from "./address-guard.js";
import {
  CircuitOpenError,
  type InstanceBreaker,
  type Refusal,
  refusalMessage,
} from "./circuit-breaker.js";

/** A request to one instance, validated and authorised already. */
export type OutgoingCall = {
  serviceId: string;
  baseUrl: string;
  method: string;
  /** Path and query string, relative to baseUrl, starting with "/". */
  path: string;
  headers: Record<string, string>;
  body: string | null;
  /** Retried on network errors, timeouts and 5xx; only idempotent calls are. */
  idempotent: boolean;
};

export type UpstreamResponse = {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
};

export type CallOutcome = UpstreamResponse & {
  attempts: number;
  durationMs: number;
};

/** An answer read as it arrives (an event stream): its head now, its body as it comes. */
export type StreamingOutcome = {
  status: number;
  headers: Record<string, string | string[]>;
  body: Readable;
  durationMs: number;
};

/** Headers of one hop only: never passed on, either way. */
export const HOP_BY_HOP_HEADERS = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** A 5xx answer: a failure to the breaker, retried when the call is idempotent. */
class UpstreamStatusError extends Error {
  constructor(
    readonly response: UpstreamResponse,
    readonly retryAfterMs: number | null,
  ) {
    super(`HTTP ${response.status}`);
    this.name = "UpstreamStatusError";
  }
}

/** The service answered with more than we read; not the service failing, not retried. */
class ResponseTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`response body larger than ${limit} bytes`);
    this.name = "ResponseTooLargeError";
  }
}

type InstancePolicy = {
  bulkhead: BulkheadPolicy;
  retry: RetryPolicy;
};

/**
 * One attempt's deadline: at `timeoutMs` the caller gets a TaskCancelledError and the
 * request is aborted (undici takes an EventEmitter as its abort signal). cockatiel's
 * TimeoutPolicy does the same with an AbortController, derived signals and listeners at
 * ~10 µs a call, a quarter of a whole call on loopback; this costs under 1 µs
 * (`npm run bench:calls`).
 */
function withDeadline<T>(timeoutMs: number, attempt: (abort: EventEmitter) => Promise<T>) {
  const abort = new EventEmitter();
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new TaskCancelledError(`Operation timed out after ${timeoutMs}ms`));
      abort.emit("abort");
    }, timeoutMs);
    attempt(abort).then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * Calls to registered services, every one through the policies of its instance, built
 * once and reused: bulkhead → retry (idempotent calls only) → circuit breaker →
 * deadline → one keep-alive undici Agent. The breaker sits inside the retry, so each
 * attempt counts, and a refusal is a BrokenCircuitError that the retry never waits on; a
 * breaker already refusing is answered before the bulkhead. A 4xx is the service's
 * answer, returned as it is, and never a failure.
 */
export function createServiceClient({
  settings = defaultCallPolicy,
  breakerOf,
  addressPolicy,
  random = Math.random,
  clock = systemClock,
}: {
  settings?: CallPolicySettings;
  breakerOf: (serviceId: string) => InstanceBreaker;
  /** Which hosts may be called (address-guard.ts): literals here, names at connect time. */
  addressPolicy: AddressPolicy;
  random?: () => number;
  /** What a `Retry-After` date is measured from. */
  clock?: Clock;
}) {
  const agent = new Agent({
    connections: settings.maxConcurrent,
    connect: { lookup: addressPolicy.lookup },
    keepAliveTimeout: 30_000,
    // Our timeout policy aborts the request; undici's own (300 s) would only be later.
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  const policies = new Map<string, InstancePolicy>();
  // Per client, not per module: what a base URL's host is refused for depends on the policy.
  const targets = new Map<string, Target>();

  /** The origin and path prefix of a base URL, parsed once per URL rather than per call. */
  function targetOf(baseUrl: string): Target {
    let target = targets.get(baseUrl);
    if (!target) {
      const url = new URL(baseUrl);
      target = {
        origin: url.origin,
        pathPrefix: url.pathname.replace(/\/+$/, ""),
        refusedBecause: addressPolicy.forbiddenHost(url.hostname)?.message ?? null,
      };
      // Base URLs change rarely; a bounded cache keeps a churning registry from growing it.
      if (targets.size >= 10_000) targets.clear();
      targets.set(baseUrl, target);
    }
    return target;
  }

  const backoff = new DelegateBackoff<{ attempt: number; result: unknown }>(
    ({ attempt, result }) => {
      const asked = retryAfterOf(result);
      if (asked !== null) return asked;
      const ceiling = Math.min(
        settings.retryMaxDelayMs,
        settings.retryBaseDelayMs * 2 ** (attempt - 1),
      );
      return ceiling / 2 + (random() * ceiling) / 2;
    },
  );

  function policyOf(serviceId: string): InstancePolicy {
    let policy = policies.get(serviceId);
    if (!policy) {
      policy = {
        bulkhead: bulkhead(settings.maxConcurrent, settings.maxQueued),
        retry: retry(
          // A failure that opened the breaker is final: waiting on a backoff only to be
          // refused would make the caller wait for nothing.
          handleWhen(
            (error) => isRetryable(error, settings.timeoutMs) && breakerOf(serviceId).isCallable(),
          ),
          { maxAttempts: settings.maxAttempts - 1, backoff },
        ),
      };
      policies.set(serviceId, policy);
    }
    return policy;
  }

  /** The request on the wire, once the address policy allows its host; the head answered. */
  function request(call: OutgoingCall, signal: EventEmitter) {
    const base = targetOf(call.baseUrl);
    if (base.refusedBecause) throw new AddressRefusedError(base.refusedBecause);
    return agent.request({
      origin: base.origin,
      path: `${base.pathPrefix}${call.path}`,
      method: call.method as "GET",
      headers: call.headers,
      body: call.body,
      signal,
    });
  }

  async function send(call: OutgoingCall, signal: EventEmitter): Promise<UpstreamResponse> {
    const response = await request(call, signal);
    const failed = response.statusCode >= 500;
    const body = hasNoBody(call.method, response.statusCode)
      ? await response.body.dump().then(() => EMPTY)
      : await readLimited(
          response.body,
          settings.maxResponseBytes,
          response.headers["content-length"],
        ).catch((error: unknown) => {
          // A 5xx is a failure however much it says: its body is only kept when small.
          if (failed && error instanceof ResponseTooLargeError) return EMPTY;
          throw error;
        });
    const answer: UpstreamResponse = {
      status: response.statusCode,
      headers: endToEnd(response.headers),
      body,
    };
    if (failed) {
      throw new UpstreamStatusError(
        answer,
        parseRetryAfter(response.headers["retry-after"], clock.now()),
      );
    }
    return answer;
  }

  /** A request whose body is not read here: only a 5xx head is a failure, its body dropped. */
  async function sendStreaming(call: OutgoingCall, signal: EventEmitter) {
    const response = await request(call, signal);
    const headers = endToEnd(response.headers);
    if (response.statusCode >= 500) {
      await response.body.dump().catch(() => {});
      throw new UpstreamStatusError(
        { status: response.statusCode, headers, body: EMPTY },
        parseRetryAfter(response.headers["retry-after"], clock.now()),
      );
    }
    return { status: response.statusCode, headers, body: response.body as Readable };
  }

  async function throughBreaker<T>(
    breaker: InstanceBreaker,
    attempt: () => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    const admitted = breaker.admit();
    const permit = admitted instanceof Promise ? await admitted : admitted;
    try {
      const response = await attempt();
      breaker.succeeded(permit);
      return response;
    } catch (error) {
      if (
        error instanceof ResponseTooLargeError ||
        isUnsendable(error) ||
        isForbiddenTarget(error) ||
        // The caller gave up (its client went away): not the service failing.
        signal?.aborted
      ) {
        breaker.released(permit);
      } else breaker.failed(permit, describeFailure(error, settings.timeoutMs));
      throw error;
    }
  }

  return {
    /**
     * `signal` aborts the request when its caller gives up (the federated operation it
     * serves was cancelled): it is then neither a failure nor retried.
     */
    async call(call: OutgoingCall, signal?: AbortSignal): Promise<CallOutcome> {
      const breaker = breakerOf(call.serviceId);
      // Refused at once, before the bulkhead and the retry: an open breaker costs µs.
      const refusal = breaker.refusesNow();
      if (refusal) throw refusedError(call.serviceId, refusal, 0);
      const policy = policyOf(call.serviceId);
      const started = performance.now();
      // Requests actually sent: an attempt the breaker refused is not one.
      let attempts = 0;
      const once = () =>
        throughBreaker(
          breaker,
          () => {
            signal?.throwIfAborted();
            attempts += 1;
            return withDeadline(settings.timeoutMs, (abort) =>
              followingAbort(signal, abort, () => send(call, abort)),
            );
          },
          signal,
        );
      try {
        const response = await policy.bulkhead.execute(() =>
          call.idempotent ? policy.retry.execute(once) : once(),
        );
        return { ...response, attempts, durationMs: performance.now() - started };
      } catch (error) {
        throw callError(error, call.serviceId, attempts, settings, signal);
      }
    },

    /**
     * A request whose answer is read as it comes (a subscription's event stream). The
     * breaker and the deadline apply until the answer's head arrives; the body then
     * streams for as long as the service sends it, and `signal` ends it. Neither retried
     * nor held in the bulkhead: a stream would hold its slot for its whole life.
     */
    async open(call: OutgoingCall, signal?: AbortSignal): Promise<StreamingOutcome> {
      const breaker = breakerOf(call.serviceId);
      const refusal = breaker.refusesNow();
      if (refusal) throw refusedError(call.serviceId, refusal, 0);
      const started = performance.now();
      let attempts = 0;
      try {
        const response = await throughBreaker(
          breaker,
          () => {
            attempts += 1;
            // The stream keeps following the signal after its head: ending it ends the body.
            return withDeadline(settings.timeoutMs, (abort) => {
              const cancel = () => abort.emit("abort");
              if (signal?.aborted) cancel();
              signal?.addEventListener("abort", cancel, { once: true });
              return sendStreaming(call, abort);
            });
          },
          signal,
        );
        return { ...response, durationMs: performance.now() - started };
      } catch (error) {
        throw callError(error, call.serviceId, attempts, settings, signal);
      }
    },

    /** Drops the policies of an instance that is gone. */
    forget(serviceId: string): void {
      policies.delete(serviceId);
    },

    /** Idempotent: a gateway stopped twice must not fail on its second stop. */
    async close(): Promise<void> {
      if (!agent.closed && !agent.destroyed) await agent.close();
    },
  };
}

export type ServiceClient = ReturnType<typeof createServiceClient>;

/** Runs `attempt` with `abort` fired when `signal` aborts, and stops following it after. */
async function followingAbort<T>(
  signal: AbortSignal | undefined,
  abort: EventEmitter,
  attempt: () => Promise<T>,
): Promise<T> {
  if (!signal) return attempt();
  const cancel = () => abort.emit("abort");
  signal.addEventListener("abort", cancel, { once: true });
  try {
    return await attempt();
  } finally {
    signal.removeEventListener("abort", cancel);
  }
}

/** Network errors, timeouts and 5xx, unless the service asked for a wait longer than a call. */
function isRetryable(error: Error, timeoutMs: number): boolean {
  // Cancelled by its caller: nobody waits for another attempt.
  if (
    error.name === "AbortError" ||
    (error as Error & { code?: string }).code === "UND_ERR_ABORTED"
  ) {
    return false;
  }
  if (isBrokenCircuitError(error) || error instanceof ResponseTooLargeError) return false;
  if (isUnsendable(error) || isForbiddenTarget(error)) return false;
  if (error instanceof UpstreamStatusError) {
    return error.retryAfterMs === null || error.retryAfterMs <= timeoutMs;
  }
  return true;
}

function retryAfterOf(result: unknown): number | null {
  if (typeof result !== "object" || result === null || !("error" in result)) return null;
  return result.error instanceof UpstreamStatusError ? result.error.retryAfterMs : null;
}

/** `Retry-After` as milliseconds from now: delta-seconds or an HTTP date. */
function parseRetryAfter(header: string | string[] | undefined, now: number): number | null {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === "") return null;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

function endToEnd(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const kept: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP_HEADERS.has(name)) kept[name] = value;
  }
  return kept;
}

const EMPTY = Buffer.alloc(0);

/** Answers that carry no body, whatever their Content-Length says. */
function hasNoBody(method: string, status: number): boolean {
  return method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200);
}

/** A base URL parsed: where to send, and why its host is refused (null: it is not, yet). */
type Target = { origin: string; pathPrefix: string; refusedBecause: string | null };

async function readLimited(
  body: ReadableBody & { arrayBuffer(): Promise<ArrayBuffer> },
  limit: number,
  contentLength: string | string[] | undefined,
): Promise<Buffer> {
  // A declared length decides at once, and the body is read in one go.
  const declared = typeof contentLength === "string" ? Number(contentLength) : Number.NaN;
  if (Number.isInteger(declared)) {
    if (declared > limit) {
      // Destroying the stream makes it emit an error nobody else listens for.
      body.on("error", () => {});
      body.destroy();
      throw new ResponseTooLargeError(limit);
    }
    return Buffer.from(await body.arrayBuffer());
  }
  const { bytes, truncated } = await readUpTo(body, limit);
  if (truncated) throw new ResponseTooLargeError(limit);
  return bytes;
}

/**
 * undici refused to send the request as given (a header it does not accept, say): the
 * caller's doing, not the service's, so never a failure and never retried.
 */
function isUnsendable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "UND_ERR_INVALID_ARG" || code === "UND_ERR_NOT_SUPPORTED";
}

/**
 * A target the address policy refuses (link-local, or outside ALLOWED_SERVICE_HOSTS),
 * literal or resolved: refused, never retried, never a failure.
 */
function isForbiddenTarget(error: unknown): error is AddressRefusedError {
  return error instanceof AddressRefusedError;
}

/** cockatiel 3's isTaskCancelledError tests for the bulkhead's flag; the class is reliable. */
function timedOut(error: unknown): error is TaskCancelledError {
  return error instanceof TaskCancelledError;
}

function describeFailure(error: unknown, timeoutMs: number): string {
  if (timedOut(error)) return `no answer within ${timeoutMs} ms`;
  if (error instanceof UpstreamStatusError) return error.message;
  if (error instanceof Error) {
    const code = (error as Error & { code?: string }).code;
    return code ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

function refusedError(serviceId: string, refusal: Refusal, attempts: number): GatewayError {
  return new GatewayError("SERVICE_UNAVAILABLE", refusalMessage(serviceId, refusal.state), {
    serviceId,
    attempts,
    breakerState: refusal.state,
    retryAfterMs: refusal.retryAfterMs,
  });
}

/** The error a caller sees, naming the service and how many attempts were made. */
function callError(
  error: unknown,
  serviceId: string,
  attempts: number,
  settings: CallPolicySettings,
  signal?: AbortSignal,
): GatewayError {
  const details = { serviceId, attempts };
  if (signal?.aborted) {
    return new GatewayError(
      "SERVICE_UNAVAILABLE",
      `The call to ${serviceId} was cancelled: its caller gave up.`,
      { ...details, cancelled: true },
      { cause: error },
    );
  }
  if (error instanceof CircuitOpenError) return refusedError(serviceId, error, attempts);
  if (isBulkheadRejectedError(error)) {
    return new GatewayError(
      "SERVICE_UNAVAILABLE",
      `Too many calls to ${serviceId} are in flight; try again shortly.`,
      { ...details, maxConcurrent: settings.maxConcurrent, maxQueued: settings.maxQueued },
    );
  }
  if (timedOut(error)) {
    return new GatewayError(
      "TIMEOUT",
      `${serviceId} did not answer within ${settings.timeoutMs} ms.`,
      { ...details, timeoutMs: settings.timeoutMs },
      { cause: error },
    );
  }
  if (error instanceof UpstreamStatusError) {
    return new GatewayError(
      "UPSTREAM_ERROR",
      `${serviceId} answered HTTP ${error.response.status}${attempts > 1 ? ` after ${attempts} attempts` : ""}.`,
      { ...details, status: error.response.status, retryAfterMs: error.retryAfterMs },
    );
  }
  // Neither is retried, so neither was sent: no attempt was made.
  if (isForbiddenTarget(error)) {
    return new GatewayError(
      "FORBIDDEN",
      `${serviceId} is registered at an address the gateway does not call: ${error.message}.`,
      { serviceId, attempts: 0 },
    );
  }
  if (isUnsendable(error)) {
    return new GatewayError(
      "BAD_USER_INPUT",
      `The request to ${serviceId} could not be sent: ${(error as Error).message}`,
      { serviceId, attempts: 0, field: "input" },
    );
  }
  if (error instanceof ResponseTooLargeError) {
    return new GatewayError(
      "UPSTREAM_ERROR",
      `${serviceId} answered with more than ${error.limit} bytes.`,
      details,
    );
  }
  return new GatewayError(
    "UPSTREAM_ERROR",
    `${serviceId} could not be reached: ${describeFailure(error, settings.timeoutMs)}.`,
    details,
    { cause: error },
  );
}

import type { GatewayError } from "../domain/errors.js";

/**
 * Where a call through the service client failed, as its caller needs to know to decide
 * whether another instance may have it:
 *
 * - `refused`: a breaker or the bulkhead refused it; nothing was sent.
 * - `forbidden`: the address policy refused the instance's host; nothing was sent.
 * - `unconnected`: no connection could be made (refused, no such host, unreachable, the
 *   connect timed out); nothing was sent.
 * - `dropped`: the connection failed after the request was sent (reset, closed), with no
 *   answer: the service may have acted on it.
 * - `status`: the service answered 5xx (`details.status`).
 * - `timeout`: no answer within the deadline; it may have been sent.
 * - `other`: the caller's doing (a request undici would not send), a call its caller
 *   cancelled, an answer larger than the client reads.
 */
export type CallFailure =
  | "refused"
  | "forbidden"
  | "unconnected"
  | "dropped"
  | "status"
  | "timeout"
  | "other";

/** Node's and undici's codes for a connection that was never made. */
const CONNECT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/**
 * Reads the error `createServiceClient`'s `call` or `open` raised (`callError`): its code,
 * `details.attempts` (0 when nothing was sent), `details.status` (a 5xx) and its `cause`
 * (the network error, kept for exactly these).
 */
export function failureOf(error: GatewayError): CallFailure {
  const { details } = error;
  if (details.cancelled === true) return "other";
  if (details.attempts === 0 && error.code === "SERVICE_UNAVAILABLE") return "refused";
  if (details.attempts === 0 && error.code === "FORBIDDEN") return "forbidden";
  if (error.code === "TIMEOUT") return "timeout";
  if (error.code !== "UPSTREAM_ERROR") return "other";
  if (typeof details.status === "number") return "status";
  // A body too large has no cause; every other UPSTREAM_ERROR without a status does.
  if (error.cause === undefined) return "other";
  return neverConnected(error.cause) ? "unconnected" : "dropped";
}

/** True when nothing of the request can have reached the service. */
export function wasUnsent(failure: CallFailure): boolean {
  return failure === "refused" || failure === "forbidden" || failure === "unconnected";
}

/** The network failed the call (whether or not it was sent), rather than the service. */
export function isNetworkFailure(failure: CallFailure): boolean {
  return failure === "unconnected" || failure === "dropped";
}

function neverConnected(cause: unknown): boolean {
  // Several addresses tried (happy eyeballs): unsent only when every one failed to connect.
  if (cause instanceof AggregateError) {
    return cause.errors.length > 0 && cause.errors.every(neverConnected);
  }
  const { code, syscall } = (cause ?? {}) as { code?: unknown; syscall?: unknown };
  // Whatever the code (ETIMEDOUT, ECONNRESET), a failed connect or lookup sent nothing.
  if (syscall === "connect" || syscall === "getaddrinfo") return true;
  return typeof code === "string" && CONNECT_CODES.has(code);
}

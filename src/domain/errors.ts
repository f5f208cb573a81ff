/**
 * Expected failures carry a code that clients branch on (GraphQL `extensions.code`,
 * REST status). Anything that is not a GatewayError is a bug and gets masked.
 */
export type ErrorCode =
  | "BAD_USER_INPUT"
  | "NOT_FOUND"
  | "UNAUTHENTICATED"
  | "FORBIDDEN"
  | "CONFLICT"
  | "SERVICE_UNAVAILABLE"
  | "UPSTREAM_ERROR"
  | "TIMEOUT"
  | "RATE_LIMITED";

export class GatewayError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra fields for clients, e.g. `{ field: "input.baseUrl" }`. */
    readonly details: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "GatewayError";
  }
}

export function badInput(field: string, message: string): GatewayError {
  return new GatewayError("BAD_USER_INPUT", `${field}: ${message}`, { field });
}

export function notFound(message: string): GatewayError {
  return new GatewayError("NOT_FOUND", message);
}

export function isGatewayError(error: unknown): error is GatewayError {
  return error instanceof GatewayError;
}

/** HTTP status for the REST adapters. */
export const httpStatusOf: Record<ErrorCode, number> = {
  BAD_USER_INPUT: 422,
  NOT_FOUND: 404,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  CONFLICT: 409,
  SERVICE_UNAVAILABLE: 503,
  UPSTREAM_ERROR: 502,
  TIMEOUT: 504,
  RATE_LIMITED: 429,
};

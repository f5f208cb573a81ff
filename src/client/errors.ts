/**
 * Every failure the SDK reports. `code` is the gateway's `extensions.code` (NOT_FOUND,
 * BAD_USER_INPUT, FORBIDDEN, SERVICE_UNAVAILABLE, …) or, when no GraphQL answer came
 * back, one of the SDK's own: NETWORK_ERROR, TIMEOUT, HTTP_ERROR.
 */
export class GatewayClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The HTTP status of the answer; undefined when none came. */
    readonly httpStatus?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "GatewayClientError";
  }

  /** Whether asking again later may succeed: the gateway was unreachable, busy or failing. */
  get retryable(): boolean {
    return (
      this.code === "NETWORK_ERROR" ||
      this.code === "TIMEOUT" ||
      this.code === "SERVICE_UNAVAILABLE" ||
      this.code === "RATE_LIMITED" ||
      (this.httpStatus !== undefined && this.httpStatus >= 500)
    );
  }
}

export function isGatewayClientError(error: unknown): error is GatewayClientError {
  return error instanceof GatewayClientError;
}

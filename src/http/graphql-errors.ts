import { type ExecutionResult, GraphQLError } from "graphql";
import { type Plugin, maskError as yogaMaskError } from "graphql-yoga";
import type { Logger } from "pino";
import { isGatewayError } from "../domain/errors.js";
import type { GatewayContext } from "../schema/context.js";

const UNEXPECTED_ERROR_MESSAGE = "Unexpected error.";

/**
 * Expected errors (GatewayError) become GraphQL errors with `extensions.code` and their
 * details; anything else is logged with the request id and masked, so no internals leak.
 * Every error carries `extensions.requestId`, the id of the request's log lines and its
 * x-request-id header, so a user's error report leads to the logs: those of execution
 * here, those yoga answers before executing (a document that does not parse or
 * validate) as it processes the result.
 */
export function useGatewayErrors(): Plugin<GatewayContext, { requestId?: string }> {
  return {
    onExecute() {
      return {
        onExecuteDone({ result, args, setResult }) {
          if (!("errors" in result) || !result.errors?.length) return;
          const context = args.contextValue as GatewayContext;
          setResult({
            ...(result as ExecutionResult),
            errors: result.errors.map((error) =>
              withRequestId(present(error, context.requestId, context.log), context.requestId),
            ),
          });
        },
      };
    },
    onResultProcess({ result, setResult, serverContext }) {
      const requestId = serverContext.requestId;
      if (requestId === undefined || Array.isArray(result) || !("errors" in result)) return;
      const errors = (result as ExecutionResult).errors;
      if (!errors?.length || errors.every((error) => error.extensions?.requestId !== undefined)) {
        return;
      }
      setResult({
        ...(result as ExecutionResult),
        errors: errors.map((error) => withRequestId(error, requestId)),
      });
    },
  };
}

function withRequestId(error: GraphQLError, requestId: string): GraphQLError {
  if (error.extensions?.requestId !== undefined) return error;
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: { ...error.extensions, requestId },
  });
}

/**
 * graphql-js reports a variable that fails coercion (an unknown enum value, say) like
 * this, with ` at "input.metadata"` when the bad value sits inside the variable.
 */
const INVALID_VARIABLE =
  /^Variable "\$(\w+)" got invalid value.*? at "([^"]+)";|^Variable "\$(\w+)" got invalid value/s;

function present(error: GraphQLError, requestId: string, log: Logger): GraphQLError {
  const original = error.originalError;
  const invalidVariable = error.path === undefined ? INVALID_VARIABLE.exec(error.message) : null;
  if (invalidVariable) {
    return new GraphQLError(error.message, {
      nodes: error.nodes,
      extensions: {
        code: "BAD_USER_INPUT",
        field: `$${invalidVariable[2] ?? invalidVariable[3]}`,
      },
    });
  }
  if (original === undefined || original instanceof GraphQLError) return error;
  const location = {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
  };
  if (isGatewayError(original)) {
    return new GraphQLError(original.message, {
      ...location,
      extensions: { code: original.code, ...original.details },
    });
  }
  log.error({ err: original, requestId, path: error.path?.join(".") }, "unexpected error");
  return new GraphQLError(UNEXPECTED_ERROR_MESSAGE, {
    ...location,
    extensions: { code: "INTERNAL_SERVER_ERROR", requestId },
  });
}

/** Codes that mean the client asked for something it may not have, or got it wrong. */
const CLIENT_CODES = new Set<string>([
  "BAD_USER_INPUT",
  "NOT_FOUND",
  "UNAUTHENTICATED",
  "FORBIDDEN",
  "CONFLICT",
  "RATE_LIMITED",
]);

/**
 * How loudly to log an error: a client's mistake (a bad document, bad input, a refused
 * token) at info, an expected condition of a dependency (SERVICE_UNAVAILABLE, TIMEOUT,
 * UPSTREAM_ERROR) at warn, and only what nobody expected at error.
 */
export function logLevelOf(error: unknown): "info" | "warn" | "error" {
  let original = error;
  while (original instanceof GraphQLError && original.originalError !== undefined) {
    original = original.originalError;
  }
  if (isGatewayError(original)) return CLIENT_CODES.has(original.code) ? "info" : "warn";
  // A GraphQLError of its own (syntax, validation, coercion) is about the client's document.
  if (original instanceof GraphQLError) return "info";
  return "error";
}

/**
 * Yoga's logger on pino. Yoga logs every error it masks at error level, GatewayErrors
 * from subscriptions or context building included; those are sorted by logLevelOf.
 */
export function yogaLogger(log: Logger) {
  return {
    debug: (...args: unknown[]) => log.debug(args[0], ...(args.slice(1) as string[])),
    info: (...args: unknown[]) => log.info(args[0], ...(args.slice(1) as string[])),
    warn: (...args: unknown[]) => log.warn(args[0], ...(args.slice(1) as string[])),
    error: (...args: unknown[]) =>
      log[logLevelOf(args[0])](args[0], ...(args.slice(1) as string[])),
  };
}

/** Yoga's own masking, for errors raised outside execution (e.g. building the context). */
export function maskError(error: unknown, message: string, isDev?: boolean): Error {
  const original = error instanceof GraphQLError ? error.originalError : error;
  if (isGatewayError(original)) {
    return new GraphQLError(original.message, {
      extensions: { code: original.code, ...original.details },
    });
  }
  return yogaMaskError(error, message, isDev);
}

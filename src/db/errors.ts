import { GatewayError } from "../domain/errors.js";

/** SQLSTATE classes that mean "the database is not there", not "the query is wrong". */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0)/;
const SQLSTATE = /^[0-9A-Z]{5}$/;

/**
 * A database that does not answer (refused, dropped, timed out, shut down, closed)
 * becomes SERVICE_UNAVAILABLE, which callers may retry. An error the database raised
 * about a query is a bug: it is rethrown as it is, to be logged and masked.
 */
export async function guardDatabase<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    // Our own verdicts (a conflict found inside a transaction, say) pass through as they are.
    if (error instanceof GatewayError) throw error;
    if (!isDatabaseUnavailable(error)) throw error;
    throw new GatewayError(
      "SERVICE_UNAVAILABLE",
      "The registry database is unavailable; try again shortly.",
      { dependency: "database" },
      { cause: error },
    );
  }
}

/**
 * True for "the database is not there" (refused, dropped, timed out, starting up, shut
 * down), false for an error the database raised about a query.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const root = rootCause(error);
  const code =
    typeof root === "object" && root !== null ? (root as { code?: unknown }).code : undefined;
  return !(typeof code === "string" && SQLSTATE.test(code) && !UNAVAILABLE_SQLSTATE.test(code));
}

function rootCause(error: unknown): unknown {
  let current = error;
  while (current instanceof Error && current.cause !== undefined) current = current.cause;
  return current;
}

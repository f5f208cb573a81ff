import { failureOf, isNetworkFailure } from "../clients/call-failure.js";
import { isGatewayError } from "../domain/errors.js";
import type { JsonValue } from "../domain/json.js";
import type { RetryCondition } from "./definition.js";
import { render, type Template, type TemplateContext } from "./template.js";

/** A step failed for good: retrying it would not help (a terminal FAILED, a bad template). */
export class FinalStepFailure extends Error {}

/** Why the steps still running are stopped when one fails. */
export class SiblingFailed extends Error {
  constructor() {
    super("stopped: another step failed");
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Renders a template over an answer already had: if it fails (a JSONata error), calling
 * the service again would only repeat what the call did, so the step fails for good.
 */
export async function renderFinal(
  template: Template,
  scope: TemplateContext,
  field: string,
): Promise<JsonValue> {
  try {
    return await render(template, scope);
  } catch (error) {
    // JSONata throws plain objects with a message, not always Errors.
    const message = (error as { message?: string }).message ?? String(error);
    throw new FinalStepFailure(`${field}: ${message}`);
  }
}

/**
 * What a step's call failed with, in the words of `retry.on`: the status the service
 * answered, "network" or "timeout"; null for what no retry changes (a request the gateway
 * refuses, an answer of `success: false`, one larger than the gateway reads).
 */
export type CallFailureReason = number | "network" | "timeout" | null;

/** A step's call that failed: `reason` is what `retry.on` is matched against. */
export class StepCallFailure extends Error {
  constructor(
    message: string,
    readonly reason: CallFailureReason,
  ) {
    super(message);
  }
}

/** Why the gateway's call (calls.ts, `callAsGateway`) failed, for `retry.on`. */
export function reasonOf(error: unknown): CallFailureReason {
  // Not the gateway's own error (a fake service in tests, a bug): taken as a fault, as
  // every failure was before `retry.on`.
  if (!isGatewayError(error)) return "network";
  switch (error.code) {
    // No instance could take it now (none selectable, breakers open): later one may.
    case "SERVICE_UNAVAILABLE":
      return "network";
    case "TIMEOUT":
      return "timeout";
    case "UPSTREAM_ERROR":
      if (typeof error.details.status === "number") return error.details.status;
      return isNetworkFailure(failureOf(error)) ? "network" : null;
    default:
      return null;
  }
}

/** Whether `retry.on` lists what a call failed with. */
export function retriesOn(on: readonly RetryCondition[], reason: CallFailureReason): boolean {
  if (reason === null) return false;
  if (typeof reason === "number" && reason >= 500 && on.includes("5xx")) return true;
  return on.includes(reason);
}

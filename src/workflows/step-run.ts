import type { JsonValue } from "../domain/json.js";
import { type CompiledStep, DEFAULT_RETRY_ON } from "./definition.js";
import type { ExecutionState } from "./execution-state.js";
import { poll } from "./polling.js";
import { callService, callTemplates } from "./step-call.js";
import {
  FinalStepFailure,
  messageOf,
  renderFinal,
  retriesOn,
  SiblingFailed,
  StepCallFailure,
} from "./step-failures.js";
import type { StepKey } from "./step-key.js";
import type { TemplateContext } from "./template.js";
import { wait } from "./wait.js";

/** Longest wait between two attempts of a step. */
const MAX_BACKOFF_MS = 3_600_000;

/**
 * Runs one row, a step or one item of a forEach step, attempt after attempt (waiting
 * longer each time) until it completes, fails for good or runs out of attempts.
 * Resolves with its output; a row completed before a resume is not run again.
 */
export async function runRow(
  state: ExecutionState,
  step: CompiledStep,
  key: StepKey,
  scope: TemplateContext,
  stop: AbortSignal,
): Promise<JsonValue> {
  const row = state.rowFor(key, step);
  if (row.status === "COMPLETED") return row.output;
  // Failed for good before a resume (an item whose parent had not yet been told).
  if (row.status === "FAILED") {
    throw new Error(`step ${row.stepId} failed: ${row.error ?? "failed"}`);
  }
  const retry = step.step.retry ?? { maxAttempts: 1, backoffMs: 1000, on: DEFAULT_RETRY_ON };
  for (;;) {
    row.attempt += 1;
    row.status = "RUNNING";
    row.startedAt = new Date(state.now()).toISOString();
    row.finishedAt = null;
    row.error = null;
    await state.save(row);
    try {
      let response: JsonValue = null;
      if (step.step.serviceType !== undefined) {
        response = step.step.poll
          ? await poll(state, row, step, scope, stop)
          : await callService(
              state,
              row,
              step.step.serviceType,
              step.step.method,
              callTemplates(step),
              scope,
            );
      }
      row.output = step.output
        ? await renderFinal(step.output, { ...scope, response }, "output")
        : response;
      await state.finish(row, "COMPLETED", null);
      return row.output;
    } catch (error) {
      if (stop.aborted) {
        // Stopped because a sibling failed: said on the row. The step's own deadline is
        // said by withDeadline. Any other stop (a cancel, a lost lease, shutdown) writes
        // nothing more: the execution is not this run's to end.
        if (stop.reason instanceof SiblingFailed) {
          await state.finish(row, "CANCELLED", stop.reason.message);
        }
        throw stop.reason;
      }
      const message = messageOf(error);
      const final =
        error instanceof FinalStepFailure ||
        (error instanceof StepCallFailure && !retriesOn(retry.on, error.reason)) ||
        row.attempt >= retry.maxAttempts;
      if (final) {
        await state.finish(row, "FAILED", message);
        throw new Error(`step ${row.stepId} failed: ${message}`);
      }
      row.error = message;
      await state.save(row);
      await wait(Math.min(retry.backoffMs * 2 ** (row.attempt - 1), MAX_BACKOFF_MS), stop);
    }
  }
}

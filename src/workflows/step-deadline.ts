import type { JsonValue } from "../domain/json.js";
import type { CompiledStep } from "./definition.js";
import type { ExecutionState } from "./execution-state.js";
import { decodeStepKey } from "./step-key.js";

class StepTimeout extends Error {}

/**
 * Runs a step under its own deadline (`timeoutSeconds`), over all its attempts and polls.
 * At the deadline its waits (backoff, poll interval) end at once; a call in flight is let
 * finish (it has its own deadline), so whatever it did is recorded: a late success
 * completes the step, and can then be compensated like any other.
 */
export async function withDeadline(
  state: ExecutionState,
  step: CompiledStep,
  stop: AbortSignal,
  run: (inner: AbortSignal) => Promise<JsonValue>,
): Promise<JsonValue> {
  const seconds = step.step.timeoutSeconds;
  if (seconds === undefined) return run(stop);
  const inner = new AbortController();
  const onStop = () => inner.abort(stop.reason);
  stop.addEventListener("abort", onStop, { once: true });
  const timer = setTimeout(
    () => inner.abort(new StepTimeout(`step ${step.step.id} timed out after ${seconds} s`)),
    seconds * 1000,
  );
  try {
    return await run(inner.signal);
  } catch (error) {
    const reason = inner.signal.reason;
    if (inner.signal.aborted && reason instanceof StepTimeout && !stop.aborted) {
      await failRunningRows(state, step.step.id, reason.message);
      throw new Error(reason.message);
    }
    throw error;
  } finally {
    clearTimeout(timer);
    stop.removeEventListener("abort", onStop);
  }
}

/** The step's rows still running (itself, its items) were stopped by its deadline. */
async function failRunningRows(state: ExecutionState, stepId: string, why: string) {
  for (const row of state.rows.values()) {
    const key = decodeStepKey(row.stepId);
    const ofStep = key?.stepId === stepId && !key.compensation;
    if (ofStep && row.status === "RUNNING") await state.finish(row, "FAILED", why);
  }
}

import type { JsonValue } from "../domain/json.js";
import type { CompiledStep } from "./definition.js";
import type { ExecutionState } from "./execution-state.js";
import { runForEach } from "./for-each.js";
import { withDeadline } from "./step-deadline.js";
import { messageOf, SiblingFailed } from "./step-failures.js";
import { runRow } from "./step-run.js";

type Settled = { id: string; error: unknown; output: JsonValue };

/**
 * Runs the steps not completed yet, each as soon as every step it depends on completed,
 * independent ones in parallel. At the first failure the steps still running are stopped
 * and no more are started. Resolves with the failures (none when every step completed).
 */
export async function runSteps(state: ExecutionState): Promise<string[]> {
  const { compiled, signal } = state;
  const failures: string[] = [];
  const completed = new Set<string>();
  for (const step of compiled.steps) {
    const row = state.find({ stepId: step.step.id });
    if (row?.status === "COMPLETED") {
      completed.add(step.step.id);
      state.recordOutput(step.step.id, row.output);
    } else if (row?.status === "FAILED") {
      failures.push(`step ${step.step.id} failed: ${row.error ?? "unknown error"}`);
    }
  }
  const siblings = new AbortController();
  const onAbort = () => siblings.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const running = new Map<string, Promise<Settled>>();
    const waiting = new Set(compiled.steps.filter((s) => !completed.has(s.step.id)));
    for (;;) {
      if (failures.length === 0 && !signal.aborted) {
        for (const step of waiting) {
          if (!step.step.dependsOn.every((dependency) => completed.has(dependency))) continue;
          waiting.delete(step);
          running.set(step.step.id, settle(step, runStep(state, step, siblings.signal)));
        }
      }
      if (running.size === 0) break;
      const done = await Promise.race(running.values());
      running.delete(done.id);
      if (done.error === null) {
        completed.add(done.id);
        state.recordOutput(done.id, done.output);
      } else if (!signal.aborted) {
        if (failures.length === 0) siblings.abort(new SiblingFailed());
        if (!(done.error instanceof SiblingFailed)) failures.push(messageOf(done.error));
      }
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  return failures;
}

function runStep(state: ExecutionState, step: CompiledStep, stop: AbortSignal) {
  const items = step.forEach;
  return withDeadline(state, step, stop, (inner) =>
    items
      ? runForEach(state, step, items, inner)
      : runRow(state, step, { stepId: step.step.id }, state.context(), inner),
  );
}

/** A step's end as a value, so that one failing does not reject the race. */
function settle(step: CompiledStep, run: Promise<JsonValue>): Promise<Settled> {
  return run.then(
    (output) => ({ id: step.step.id, error: null, output }),
    (error: unknown) => ({ id: step.step.id, error: error ?? "failed", output: null }),
  );
}

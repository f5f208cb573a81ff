import type { JsonValue } from "../domain/json.js";
import type { WorkflowStepState } from "../domain/workflow.js";
import type { CompiledStep } from "./definition.js";
import type { ExecutionState } from "./execution-state.js";
import { callService, callTemplates } from "./step-call.js";
import { FinalStepFailure, renderFinal } from "./step-failures.js";
import type { Template, TemplateContext } from "./template.js";
import { wait } from "./wait.js";

/**
 * Calls a `poll` step until its `until` value is one it waits for (resolves with that
 * answer) or one it fails on, or until it runs out of polls or time (fails for good).
 */
export async function poll(
  state: ExecutionState,
  row: WorkflowStepState,
  step: CompiledStep,
  scope: TemplateContext,
  stop: AbortSignal,
): Promise<JsonValue> {
  const settings = step.step.poll as NonNullable<CompiledStep["step"]["poll"]>;
  const until = step.pollUntil as Template;
  const started = state.now();
  for (let attempt = 1; ; attempt++) {
    const response = await callService(
      state,
      row,
      step.step.serviceType as string,
      step.step.method,
      callTemplates(step),
      scope,
    );
    const value = await renderFinal(until, { ...scope, response }, "poll.until");
    const reached = (wanted: readonly (string | number | boolean)[]) =>
      wanted.some((terminal) => terminal === value);
    if (reached(settings.failOn)) {
      row.output = response;
      throw new FinalStepFailure(`ended ${JSON.stringify(value)}`);
    }
    if (reached(settings.in)) return response;
    // Each poll is written, so watchers see it going and a resume knows its calls.
    await state.save(row);
    const outOfAttempts = settings.maxAttempts !== undefined && attempt >= settings.maxAttempts;
    const outOfTime =
      settings.timeoutSeconds !== undefined &&
      state.now() + settings.intervalMs - started > settings.timeoutSeconds * 1000;
    if (outOfAttempts || outOfTime) {
      throw new FinalStepFailure(
        `still ${JSON.stringify(value)} after ${attempt} polls in ${Math.round((state.now() - started) / 1000)} s`,
      );
    }
    await wait(settings.intervalMs, stop);
  }
}

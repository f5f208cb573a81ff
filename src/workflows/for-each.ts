import type { JsonValue } from "../domain/json.js";
import type { CompiledStep } from "./definition.js";
import type { ExecutionState } from "./execution-state.js";
import { messageOf } from "./step-failures.js";
import { runRow } from "./step-run.js";
import { render, type Template } from "./template.js";

/**
 * Runs a forEach step: each item as a row of its own, `concurrency` at a time, under the
 * step's row, which completes with the items' outputs in order or fails with the first
 * item's failure (no item is started after it).
 */
export async function runForEach(
  state: ExecutionState,
  step: CompiledStep,
  itemsTemplate: Template,
  stop: AbortSignal,
): Promise<JsonValue> {
  const stepId = step.step.id;
  const parent = state.rowFor({ stepId }, step);
  if (parent.status === "COMPLETED") return parent.output;
  // JSONata gives one match as the value itself and none as nothing: both are lists.
  const rendered = await render(itemsTemplate, state.context());
  const items = Array.isArray(rendered) ? rendered : rendered === null ? [] : [rendered];
  parent.status = "RUNNING";
  parent.attempt += 1;
  parent.startedAt ??= new Date(state.now()).toISOString();
  await state.save(parent);
  const results: JsonValue[] = new Array(items.length).fill(null);
  let next = 0;
  let failure: unknown = null;
  const worker = async () => {
    while (failure === null && next < items.length && !stop.aborted) {
      const index = next++;
      try {
        const scope = state.context({ item: items[index], index });
        results[index] = await runRow(state, step, { stepId, item: index }, scope, stop);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  const concurrency = step.step.forEach?.concurrency ?? 4;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  if (stop.aborted) throw stop.reason;
  if (failure !== null) {
    await state.finish(parent, "FAILED", messageOf(failure));
    throw failure;
  }
  parent.output = results;
  await state.finish(parent, "COMPLETED", null);
  return results;
}

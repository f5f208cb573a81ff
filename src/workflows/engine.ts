import type { JsonValue } from "../domain/json.js";
import type { WorkflowExecution, WorkflowStepState } from "../domain/workflow.js";
import { compensate } from "./compensation.js";
import type { CompiledDefinition } from "./definition.js";
import { type EngineDeps, type ExecutionEnd, ExecutionState } from "./execution-state.js";
import { runSteps } from "./scheduling.js";
import { render } from "./template.js";

/**
 * Runs one execution of a compiled definition to its end, from whatever `recorded` says
 * already happened (a resumed execution skips completed steps and items). Independent
 * steps run in parallel; when one fails the others are stopped and every completed step
 * with a `compensate` call is undone, latest first. The signal stops everything (a
 * cancel, a lost lease, shutdown, the execution's deadline): the run then rejects with
 * the signal's reason and the caller decides what is recorded.
 */
export async function runExecution(
  execution: WorkflowExecution,
  compiled: CompiledDefinition,
  recorded: readonly WorkflowStepState[],
  deps: EngineDeps,
  signal: AbortSignal,
): Promise<ExecutionEnd> {
  const state = new ExecutionState(execution, compiled, recorded, deps, signal);
  const failures = await runSteps(state);
  if (signal.aborted) throw signal.reason;
  if (failures.length > 0) {
    const undone = await compensate(state);
    return {
      status: undone.ran > 0 && undone.errors.length === 0 ? "COMPENSATED" : "FAILED",
      result: null,
      errors: [...failures, ...undone.errors],
    };
  }
  const result = compiled.output ? await render(compiled.output, state.context()) : state.outputs;
  return { status: "COMPLETED", result: result as JsonValue, errors: [] };
}

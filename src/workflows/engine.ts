import type { JsonValue } from "../services/model.js";
import { compensate } from "./compensation.js";
import type { CompiledDefinition } from "./definition.js";
import { ExecutionState } from "./execution-state.js";
import type { WorkflowExecution, WorkflowStatus, WorkflowStepState } from "./model.js";
import { runSteps } from "./scheduling.js";
import { render } from "./template.js";

/** One call a step makes, to any selectable instance of a type. */
export type StepRequest = {
  serviceType: string;
  method: string;
  path: string;
  body: JsonValue | null;
  query: JsonValue | null;
  /** Sent as x-request-id: execution, step and attempt. */
  requestId: string;
};

export type StepResponse = {
  status: number;
  body: JsonValue;
  serviceId: string;
  attempts: number;
  durationMs: number;
};

export type EngineDeps = {
  /** Calls a service through discovery and the circuit-broken client. */
  call(request: StepRequest): Promise<StepResponse>;
  /** Writes a step's state; throws when this replica no longer drives the execution. */
  save(step: WorkflowStepState): Promise<void>;
  now?: () => number;
};

export type ExecutionEnd = { status: WorkflowStatus; result: JsonValue | null; errors: string[] };

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

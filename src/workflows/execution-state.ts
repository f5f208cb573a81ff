import type { JsonValue } from "../domain/json.js";
import type {
  StepRequest,
  StepResponse,
  WorkflowExecution,
  WorkflowStatus,
  WorkflowStepState,
} from "../domain/workflow.js";
import { type Clock, systemClock } from "../lib/clock.js";
import type { CompiledDefinition, CompiledStep } from "./definition.js";
import { encodeStepKey, type StepKey } from "./step-key.js";
import type { TemplateContext } from "./template.js";

export type EngineDeps = {
  /** Calls a service through discovery and the circuit-broken client. */
  call(request: StepRequest): Promise<StepResponse>;
  /** Writes a step's state; throws when this replica no longer drives the execution. */
  save(step: WorkflowStepState): Promise<void>;
  /** The time of day (AppDeps.clock); the machine's clock when omitted. */
  clock?: Clock;
};

export type ExecutionEnd = { status: WorkflowStatus; result: JsonValue | null; errors: string[] };

/**
 * What the steps of one run share: the rows as last written (recorded before a resume,
 * or since), the outputs templates read, the clock, and the signal that stops the run.
 */
export class ExecutionState {
  readonly now: () => number;
  /** By persisted step id: the in-memory copy of `workflow_steps` for this execution. */
  readonly rows: Map<string, WorkflowStepState>;
  /** Outputs of completed steps, as templates read them: `steps.<id>.output`. */
  readonly outputs: Record<string, { output: JsonValue }> = {};

  constructor(
    readonly execution: WorkflowExecution,
    readonly compiled: CompiledDefinition,
    recorded: readonly WorkflowStepState[],
    readonly deps: EngineDeps,
    readonly signal: AbortSignal,
  ) {
    const clock = deps.clock ?? systemClock;
    this.now = () => clock.now();
    this.rows = new Map(recorded.map((row) => [row.stepId, row]));
  }

  context(extra: TemplateContext = {}): TemplateContext {
    return {
      input: this.execution.data,
      steps: this.outputs,
      execution: { id: this.execution.id, workflowType: this.execution.workflowType },
      ...extra,
    };
  }

  recordOutput(stepId: string, output: JsonValue): void {
    this.outputs[stepId] = { output };
  }

  find(key: StepKey): WorkflowStepState | undefined {
    return this.rows.get(encodeStepKey(key));
  }

  /** The row as last written, or a fresh PENDING one (not yet saved). */
  rowFor(key: StepKey, step: CompiledStep, name?: string): WorkflowStepState {
    return this.find(key) ?? this.newRow(key, step, name);
  }

  newRow(key: StepKey, step: CompiledStep, name?: string): WorkflowStepState {
    const stepName = step.step.name ?? step.step.id;
    return {
      executionId: this.execution.id,
      stepId: encodeStepKey(key),
      name: name ?? (key.item === undefined ? stepName : `${stepName} [${key.item}]`),
      serviceType: step.step.serviceType ?? null,
      serviceId: null,
      status: "PENDING",
      attempt: 0,
      startedAt: null,
      finishedAt: null,
      durationMs: null,
      output: null,
      error: null,
      calls: [],
    };
  }

  async save(row: WorkflowStepState): Promise<void> {
    this.rows.set(row.stepId, row);
    await this.deps.save(row);
  }

  async finish(row: WorkflowStepState, status: WorkflowStatus, error: string | null) {
    row.status = status;
    row.error = error;
    row.finishedAt = new Date(this.now()).toISOString();
    row.durationMs = row.startedAt ? this.now() - Date.parse(row.startedAt) : null;
    await this.save(row);
  }
}

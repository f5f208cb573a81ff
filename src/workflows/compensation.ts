import type { WorkflowStepState } from "../domain/workflow.js";
import type { CompiledStep } from "./definition.js";
import type { ExecutionState } from "./execution-state.js";
import { callService } from "./step-call.js";
import { messageOf } from "./step-failures.js";
import { decodeStepKey, type StepKey } from "./step-key.js";

type Undoable = {
  row: WorkflowStepState;
  key: StepKey;
  step: CompiledStep;
  spec: NonNullable<CompiledStep["step"]["compensate"]>;
  templates: NonNullable<CompiledStep["compensate"]>;
};

/**
 * Undoes every completed step (or item) that says how, latest completed first. An undo
 * that completed before a resume is not made again; one that fails is said in `errors`
 * and the others are still made.
 */
export async function compensate(
  state: ExecutionState,
): Promise<{ ran: number; errors: string[] }> {
  const toUndo = undoable(state);
  const errors: string[] = [];
  for (const { row, key, step, spec, templates } of toUndo) {
    // Stopping (shutdown, a lost lease): whoever resumes the execution finishes undoing.
    if (state.signal.aborted) throw state.signal.reason;
    const undoKey: StepKey = { ...key, compensation: true };
    const undo = state.find(undoKey) ?? {
      ...state.newRow(undoKey, step, `undo ${row.name}`),
      serviceType: spec.serviceType ?? step.step.serviceType ?? null,
    };
    if (undo.status === "COMPLETED") continue;
    const scope = state.context({
      output: row.output,
      ...(key.item !== undefined ? { index: key.item } : {}),
    });
    undo.attempt += 1;
    undo.status = "RUNNING";
    undo.startedAt = new Date(state.now()).toISOString();
    await state.save(undo);
    try {
      const serviceType = spec.serviceType ?? (step.step.serviceType as string);
      undo.output = await callService(state, undo, serviceType, spec.method, templates, scope);
      await state.finish(undo, "COMPLETED", null);
    } catch (error) {
      const message = messageOf(error);
      await state.finish(undo, "FAILED", message);
      errors.push(`compensation of ${row.stepId} failed: ${message}`);
    }
  }
  return { ran: toUndo.length, errors };
}

/** Completed rows whose step has a `compensate` call, in the order they are undone. */
function undoable(state: ExecutionState): Undoable[] {
  const byId = new Map(state.compiled.steps.map((step) => [step.step.id, step]));
  const found: Undoable[] = [];
  for (const row of state.rows.values()) {
    const key = decodeStepKey(row.stepId);
    if (row.status !== "COMPLETED" || !key || key.compensation) continue;
    const step = byId.get(key.stepId);
    if (!step?.step.compensate || !step.compensate) continue;
    // A forEach step is undone item by item, not as a whole.
    if (step.forEach !== null && key.item === undefined) continue;
    found.push({ row, key, step, spec: step.step.compensate, templates: step.compensate });
  }
  // Latest finished first; items finished in the same millisecond, highest index first.
  return found.sort(
    (a, b) =>
      (b.row.finishedAt ?? "").localeCompare(a.row.finishedAt ?? "") ||
      (b.key.item ?? -1) - (a.key.item ?? -1),
  );
}

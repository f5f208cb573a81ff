/**
 * Which row of `workflow_steps` a step's state lives in: the step itself, one item of a
 * forEach step, or the compensation of either.
 */
export type StepKey = {
  stepId: string;
  /** The item's index, for one item of a forEach step. */
  item?: number;
  /** The row of the call that undoes the step (or item). */
  compensation?: boolean;
};

/**
 * The persisted forms are `id`, `id[index]`, `id.compensate` and `id[index].compensate`.
 * Executions are resumed from rows written by earlier versions, so these strings must
 * never change; step ids are identifiers, so neither `[` nor `.` can be part of one.
 */
const PERSISTED = /^([^[\].]+)(?:\[(0|[1-9]\d*)\])?(\.compensate)?$/;

export function encodeStepKey(key: StepKey): string {
  const item = key.item === undefined ? "" : `[${key.item}]`;
  return `${key.stepId}${item}${key.compensation ? ".compensate" : ""}`;
}

/** The key a persisted step id names; undefined for one this engine never writes. */
export function decodeStepKey(persisted: string): StepKey | undefined {
  const match = PERSISTED.exec(persisted);
  if (!match?.[1]) return undefined;
  return {
    stepId: match[1],
    ...(match[2] !== undefined ? { item: Number(match[2]) } : {}),
    ...(match[3] !== undefined ? { compensation: true } : {}),
  };
}

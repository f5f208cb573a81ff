import type { JsonObject, JsonValue } from "./json.js";

export const workflowStatuses = [
  "PENDING",
  "RUNNING",
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "COMPENSATED",
] as const;
export type WorkflowStatus = (typeof workflowStatuses)[number];

export const TERMINAL: ReadonlySet<WorkflowStatus> = new Set([
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "COMPENSATED",
]);

export type WorkflowExecution = {
  id: string;
  workflowType: string;
  definitionVersion: number;
  status: WorkflowStatus;
  /** The input. */
  data: JsonValue;
  options: JsonObject;
  result: JsonValue | null;
  errors: string[];
  idempotencyKey: string | null;
  startedAt: string;
  finishedAt: string | null;
  executionTimeMs: number | null;
  deadlineAt: string | null;
  updatedAt: string;
};

/** One call a step made, kept on the step. */
export type StepCall = {
  serviceId: string | null;
  status: number | null;
  attempts: number;
  /**
   * The instances the call went to, in order, the one that answered last. Absent from
   * calls recorded before it was kept.
   */
  instancesTried?: string[];
  durationMs: number;
  at: string;
  error: string | null;
};

/**
 * A step's state. A forEach step has a row of its own and one per item (`id[index]`);
 * a compensation has one too (`id.compensate`, `id[index].compensate`).
 */
export type WorkflowStepState = {
  executionId: string;
  stepId: string;
  name: string;
  serviceType: string | null;
  serviceId: string | null;
  status: WorkflowStatus;
  attempt: number;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  output: JsonValue | null;
  error: string | null;
  calls: StepCall[];
};

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
  /** Attempts over every instance tried. */
  attempts: number;
  /** The instances the call went to, in order, the one that answered last. */
  instancesTried: string[];
  durationMs: number;
};

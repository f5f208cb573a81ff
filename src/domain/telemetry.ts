import type { ProbeVerdict } from "./status.js";
import type { WorkflowStatus } from "./workflow.js";

/**
 * What the gateway's own work tells its metrics, as it happens and where it happens (so a
 * fleet counts each heartbeat, probe, call and step once, on the replica that did it).
 * Implementations are cheap and never throw: a metric never fails the work it counts.
 */
export type Telemetry = {
  /** A heartbeat was answered: `ok`, or why not (the id is not registered, or not the caller's). */
  heartbeat(outcome: "ok" | "not_found" | "forbidden"): void;
  /** A health probe ended: its verdict, or `unreachable` when nothing answered. */
  probe(outcome: ProbeVerdict | "unreachable", seconds: number): void;
  /** A call through the gateway ended: `2xx`–`5xx`, or the error code it raised. */
  call(serviceType: string, outcome: string, seconds: number): void;
  /** A workflow step ended in `status` (COMPLETED, FAILED, …), after `seconds`. */
  workflowStep(workflowType: string, status: WorkflowStatus, seconds: number | null): void;
  /** A registry store round trip (`operation` is the store's method). */
  storeOperation(operation: string, seconds: number, failed: boolean): void;
  /** A database round trip (`repository.operation`). */
  databaseOperation(repository: string, operation: string, seconds: number, failed: boolean): void;
};

/** For tests and tools that build services without metrics. */
export const noTelemetry: Telemetry = {
  heartbeat() {},
  probe() {},
  call() {},
  workflowStep() {},
  storeOperation() {},
  databaseOperation() {},
};

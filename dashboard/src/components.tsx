import { BREAKER_ICON, exactTime, formatAge, STATUS_ICON, WORKFLOW_ICON } from "./logic.js";
import type { CircuitState, ServiceStatus, WorkflowStatus } from "./types.js";

/** A status as icon, word and colour: the colour is never the only signal. */
export function StatusBadge({ status }: { status: ServiceStatus }) {
  return (
    <span class={`badge status-${status.toLowerCase()}`} data-status={status}>
      <span aria-hidden="true">{STATUS_ICON[status]}</span> {status}
    </span>
  );
}

export function BreakerBadge({ state }: { state: CircuitState }) {
  return (
    <span class={`badge breaker-${state.toLowerCase()}`} data-breaker={state}>
      <span aria-hidden="true">{BREAKER_ICON[state]}</span> {state.replace("_", " ")}
    </span>
  );
}

/** An age ("12 s ago"), with the exact time on hover. */
export function Age({ at, now }: { at: string | null | undefined; now: number }) {
  if (!at) return <span>—</span>;
  return (
    <time dateTime={at} title={exactTime(at)}>
      {formatAge(at, now)}
    </time>
  );
}

export function WorkflowBadge({ status }: { status: WorkflowStatus }) {
  return (
    <span class={`badge workflow-${status.toLowerCase()}`} data-workflow-status={status}>
      <span aria-hidden="true">{WORKFLOW_ICON[status]}</span> {status}
    </span>
  );
}

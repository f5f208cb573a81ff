import { useEffect, useState } from "preact/hooks";
import type { Api } from "../api.js";
import { Age, WorkflowBadge } from "../components.js";
import { dagLayers, dependenciesOf, isTerminal, upsertExecutions } from "../logic.js";
import { operations } from "../operations.js";
import type { Execution, ExecutionSummary, WorkflowDefinition } from "../types.js";

const LIST_LENGTH = 50;

/**
 * The newest executions: read once, then kept by workflowExecutionsChanged (every
 * execution's start and each change after it), and read again after a reconnect, as
 * the registry is, since what happened meanwhile was pushed to no one.
 */
export function WorkflowsList({ api, now }: { api: Api; now: number }) {
  const [executions, setExecutions] = useState<ExecutionSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stopped = false;
    // Updates that arrive while a read is under way are newer than it: applied on top.
    let sinceRead = new Map<string, ExecutionSummary>();
    const read = () => {
      sinceRead = new Map();
      api
        .query<{ workflowExecutions: ExecutionSummary[] }>(operations.executions)
        .then(({ workflowExecutions }) => {
          if (stopped) return;
          setError(null);
          setExecutions(upsertExecutions(workflowExecutions, [...sinceRead.values()], LIST_LENGTH));
        })
        .catch((failure: Error) => setError(failure.message));
    };
    const stops = [
      api.subscribe<{ workflowExecutionsChanged: ExecutionSummary }>(
        operations.executionsChanged,
        ({ workflowExecutionsChanged: update }) => {
          sinceRead.set(update.id, update);
          setExecutions((current) =>
            current === null ? current : upsertExecutions(current, [update], LIST_LENGTH),
          );
        },
      ),
      api.onState((state, reconnected) => {
        if (state === "live" && reconnected) read();
      }),
    ];
    read();
    return () => {
      stopped = true;
      for (const stop of stops) stop();
    };
  }, [api]);

  return (
    <section aria-labelledby="workflows-h">
      <h2 id="workflows-h">Workflow executions</h2>
      <p>
        <small>The newest 50, each run shown as it starts and changes, pushed live.</small>
      </p>
      {error && <p class="error">{error}</p>}
      {executions === null ? (
        <p>Loading…</p>
      ) : executions.length === 0 ? (
        <p>No execution yet.</p>
      ) : (
        <table class="table">
          <thead>
            <tr>
              <th scope="col">Status</th>
              <th scope="col">Type</th>
              <th scope="col">Steps done</th>
              <th scope="col">Started</th>
              <th scope="col" class="wide">
                Took
              </th>
            </tr>
          </thead>
          <tbody>
            {executions.map((execution) => (
              <tr key={execution.id} data-execution-id={execution.id}>
                <td>
                  <WorkflowBadge status={execution.status} />
                </td>
                <td>
                  <a href={`#/workflow/${encodeURIComponent(execution.id)}`}>
                    {execution.workflowType}
                  </a>{" "}
                  <small>{execution.id.slice(0, 8)}</small>
                </td>
                <td>
                  {execution.steps.filter((step) => step.status === "COMPLETED").length} /{" "}
                  {execution.steps.length}
                </td>
                <td>
                  <Age at={execution.startedAt} now={now} />
                </td>
                <td class="wide">
                  {execution.executionTimeMs != null
                    ? `${Math.round(execution.executionTimeMs)} ms`
                    : "—"}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** One execution, pushed by workflowExecutionUpdated: its DAG of steps, coloured and named by status. */
export function WorkflowPage({
  api,
  id,
  now,
  may,
}: {
  api: Api;
  id: string;
  now: number;
  may: (permission: string) => boolean;
}) {
  const [execution, setExecution] = useState<Execution | null | undefined>(undefined);
  const [definitions, setDefinitions] = useState<WorkflowDefinition[]>([]);
  const [message, setMessage] = useState<string | null>(null);
  useEffect(() => {
    // Subscribed first, then read: an update between the two is not lost.
    const stop = api.subscribe<{ workflowExecutionUpdated: Execution }>(
      operations.executionUpdated,
      ({ workflowExecutionUpdated }) => setExecution(workflowExecutionUpdated),
      { id },
    );
    api
      .query<{ workflowExecution: Execution | null; workflowDefinitions: WorkflowDefinition[] }>(
        operations.execution,
        { id },
      )
      .then((data) => {
        setExecution((current) => current ?? data.workflowExecution);
        setDefinitions(data.workflowDefinitions);
      })
      .catch((error: Error) => setMessage(error.message));
    return stop;
  }, [api, id]);

  if (execution === undefined) return <p>{message ?? "Loading…"}</p>;
  if (execution === null) {
    return (
      <section>
        <h2>No execution {id}</h2>
        <p>
          <a href="#/workflows">All executions</a>
        </p>
      </section>
    );
  }
  const definition = definitions.find((d) => d.type === execution.workflowType);
  const layers = dagLayers(
    execution.steps.map((step) => step.id),
    dependenciesOf(definition?.definition),
  );
  const byId = new Map(execution.steps.map((step) => [step.id, step]));
  const deps = dependenciesOf(definition?.definition);

  return (
    <section aria-labelledby="workflow-h" class="workflow">
      <h2 id="workflow-h">
        {execution.workflowType} <small>{execution.id}</small>
      </h2>
      <p data-testid="workflow-status">
        <WorkflowBadge status={execution.status} /> started{" "}
        <Age at={execution.startedAt} now={now} />
        {execution.finishedAt && (
          <>
            , ended <Age at={execution.finishedAt} now={now} />
          </>
        )}
        {execution.executionTimeMs != null && ` (${Math.round(execution.executionTimeMs)} ms)`}
      </p>
      {!isTerminal(execution.status) && may("cancelWorkflows") && (
        <p>
          <button
            type="button"
            class="danger"
            onClick={() =>
              api
                .query(operations.cancelWorkflow, { id })
                .then(() => setMessage("Cancelled."))
                .catch((error: Error) => setMessage(`Refused: ${error.message}`))
            }
          >
            Cancel execution
          </button>
        </p>
      )}
      {message && <p role="status">{message}</p>}
      {execution.errors.length > 0 && (
        <ul class="reasons error">
          {execution.errors.map((error) => (
            <li key={error}>{error}</li>
          ))}
        </ul>
      )}
      <h3>Steps</h3>
      <ol class="dag" aria-label="Steps by dependency depth">
        {layers.map((layer, depth) => (
          <li key={layer.join()} class="dag-layer">
            <span class="sr-only">Depth {depth + 1}:</span>
            <ul class="plain">
              {layer.map((stepId) => {
                const step = byId.get(stepId);
                if (!step) return null;
                const after = deps.get(step.id) ?? [];
                return (
                  <li
                    key={step.id}
                    class={`step workflow-border-${step.status.toLowerCase()}`}
                    data-step-id={step.id}
                  >
                    <strong>{step.name || step.id}</strong> <WorkflowBadge status={step.status} />
                    <br />
                    <small>
                      {step.serviceType ?? "—"} · attempt {step.attempt}
                      {step.durationMs != null && ` · ${Math.round(step.durationMs)} ms`}
                      {after.length > 0 && ` · after ${after.join(", ")}`}
                    </small>
                    {step.error && <p class="error">{step.error}</p>}
                    {step.output != null && (
                      <details>
                        <summary>Output</summary>
                        <pre>{JSON.stringify(step.output, null, 2)}</pre>
                      </details>
                    )}
                  </li>
                );
              })}
            </ul>
          </li>
        ))}
      </ol>
      {execution.result != null && (
        <>
          <h3>Result</h3>
          <pre>{JSON.stringify(execution.result, null, 2)}</pre>
        </>
      )}
    </section>
  );
}

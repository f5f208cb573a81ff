import type { JsonValue } from "../domain/json.js";
import type {
  StepCall,
  WorkflowExecution,
  WorkflowStatus,
  WorkflowStepState,
} from "../domain/workflow.js";
import type { CompiledDefinition, CompiledStep } from "./definition.js";
import { render, type Template, type TemplateContext } from "./template.js";

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

/** A step failed for good: retrying it would not help (a terminal FAILED, a bad template). */
class FinalStepFailure extends Error {}

/** Longest wait between two attempts of a step. */
const MAX_BACKOFF_MS = 3_600_000;

/** Calls kept on a step's row: a long poll keeps its latest ones. */
const KEPT_CALLS = 20;

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
  const now = deps.now ?? Date.now;
  const rows = new Map(recorded.map((row) => [row.stepId, row]));
  const outputs: Record<string, { output: JsonValue }> = {};
  const context = (extra: TemplateContext = {}): TemplateContext => ({
    input: execution.data,
    steps: outputs,
    execution: { id: execution.id, workflowType: execution.workflowType },
    ...extra,
  });

  async function save(row: WorkflowStepState): Promise<void> {
    rows.set(row.stepId, row);
    await deps.save(row);
  }

  function rowFor(stepId: string, step: CompiledStep, name?: string): WorkflowStepState {
    return (
      rows.get(stepId) ?? {
        executionId: execution.id,
        stepId,
        name: name ?? step.step.name ?? step.step.id,
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
      }
    );
  }

  async function call(
    row: WorkflowStepState,
    serviceType: string,
    method: string,
    templates: { path: Template; body: Template | null; query: Template | null },
    scope: TemplateContext,
  ): Promise<JsonValue> {
    const path = String(await render(templates.path, scope, encodeURIComponent));
    const body = templates.body ? await render(templates.body, scope) : null;
    const query = templates.query ? await render(templates.query, scope) : null;
    const started = now();
    const record = (entry: Omit<StepCall, "at">) => {
      row.calls = [...row.calls, { ...entry, at: new Date(started).toISOString() }].slice(
        -KEPT_CALLS,
      );
    };
    let response: StepResponse;
    try {
      response = await deps.call({
        serviceType,
        method,
        path,
        body,
        query,
        requestId: `${execution.id}:${row.stepId.replace(/[^\w.-]/g, "_")}:${row.attempt}`,
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      record({
        serviceId: null,
        status: null,
        attempts: 0,
        durationMs: now() - started,
        error: message,
      });
      throw new Error(`${method} ${path}: ${message}`);
    }
    row.serviceId = response.serviceId;
    const failure =
      response.status >= 400
        ? `${method} ${path} answered HTTP ${response.status} from ${response.serviceId}: ${snippet(response.body)}`
        : unwrapFailure(response.body);
    record({
      serviceId: response.serviceId,
      status: response.status,
      attempts: response.attempts,
      durationMs: response.durationMs,
      error: failure,
    });
    if (failure) throw new Error(failure);
    return unwrap(response.body);
  }

  async function poll(
    row: WorkflowStepState,
    step: CompiledStep,
    scope: TemplateContext,
    stop: AbortSignal,
  ): Promise<JsonValue> {
    const settings = step.step.poll as NonNullable<CompiledStep["step"]["poll"]>;
    const until = step.pollUntil as Template;
    const started = now();
    for (let attempt = 1; ; attempt++) {
      const response = await call(
        row,
        step.step.serviceType as string,
        step.step.method,
        stepCall(step),
        scope,
      );
      const value = await renderFinal(until, { ...scope, response }, "poll.until");
      const reached = (wanted: readonly (string | number | boolean)[]) =>
        wanted.some((terminal) => terminal === value);
      if (reached(settings.failOn)) {
        row.output = response;
        throw new FinalStepFailure(`ended ${JSON.stringify(value)}`);
      }
      if (reached(settings.in)) return response;
      // Each poll is written, so watchers see it going and a resume knows its calls.
      await save(row);
      const outOfAttempts = settings.maxAttempts !== undefined && attempt >= settings.maxAttempts;
      const outOfTime =
        settings.timeoutSeconds !== undefined &&
        now() + settings.intervalMs - started > settings.timeoutSeconds * 1000;
      if (outOfAttempts || outOfTime) {
        throw new FinalStepFailure(
          `still ${JSON.stringify(value)} after ${attempt} polls in ${Math.round((now() - started) / 1000)} s`,
        );
      }
      await sleep(settings.intervalMs, stop);
    }
  }

  /** One row: a step, or one item of a forEach step. Resolves with its output. */
  async function runRow(
    step: CompiledStep,
    stepId: string,
    scope: TemplateContext,
    stop: AbortSignal,
    name?: string,
  ): Promise<JsonValue> {
    const row = rowFor(stepId, step, name);
    if (row.status === "COMPLETED") return row.output;
    // Failed for good before a resume (an item whose parent had not yet been told).
    if (row.status === "FAILED") throw new Error(`step ${stepId} failed: ${row.error ?? "failed"}`);
    const retry = step.step.retry ?? { maxAttempts: 1, backoffMs: 1000 };
    for (;;) {
      row.attempt += 1;
      row.status = "RUNNING";
      row.startedAt = new Date(now()).toISOString();
      row.finishedAt = null;
      row.error = null;
      await save(row);
      try {
        let response: JsonValue = null;
        if (step.step.serviceType !== undefined) {
          response = step.step.poll
            ? await poll(row, step, scope, stop)
            : await call(row, step.step.serviceType, step.step.method, stepCall(step), scope);
        }
        row.output = step.output
          ? await renderFinal(step.output, { ...scope, response }, "output")
          : response;
        await finishRow(row, "COMPLETED", null);
        return row.output;
      } catch (error) {
        if (stop.aborted) {
          // Stopped because a sibling failed: said on the row. The step's own deadline is
          // said by withDeadline. Any other stop (a cancel, a lost lease, shutdown) writes
          // nothing more: the execution is not this run's to end.
          if (stop.reason instanceof SiblingFailed) {
            await finishRow(row, "CANCELLED", stop.reason.message);
          }
          throw stop.reason;
        }
        const message = error instanceof Error ? error.message : String(error);
        const final = error instanceof FinalStepFailure || row.attempt >= retry.maxAttempts;
        if (final) {
          await finishRow(row, "FAILED", message);
          throw new Error(`step ${stepId} failed: ${message}`);
        }
        row.error = message;
        await save(row);
        await sleep(Math.min(retry.backoffMs * 2 ** (row.attempt - 1), MAX_BACKOFF_MS), stop);
      }
    }
  }

  async function finishRow(row: WorkflowStepState, status: WorkflowStatus, error: string | null) {
    row.status = status;
    row.error = error;
    row.finishedAt = new Date(now()).toISOString();
    row.durationMs = row.startedAt ? now() - Date.parse(row.startedAt) : null;
    await save(row);
  }

  async function runStep(step: CompiledStep, stop: AbortSignal): Promise<JsonValue> {
    const id = step.step.id;
    if (!step.forEach)
      return withDeadline(step, stop, (inner) => runRow(step, id, context(), inner));
    return withDeadline(step, stop, async (inner) => {
      const parent = rowFor(id, step);
      if (parent.status === "COMPLETED") return parent.output;
      // JSONata gives one match as the value itself and none as nothing: both are lists.
      const rendered = await render(step.forEach as Template, context());
      const items = Array.isArray(rendered) ? rendered : rendered === null ? [] : [rendered];
      parent.status = "RUNNING";
      parent.attempt += 1;
      parent.startedAt ??= new Date(now()).toISOString();
      await save(parent);
      const results: JsonValue[] = new Array(items.length).fill(null);
      let next = 0;
      let failure: unknown = null;
      const worker = async () => {
        while (failure === null && next < items.length && !inner.aborted) {
          const index = next++;
          try {
            results[index] = await runRow(
              step,
              `${id}[${index}]`,
              context({ item: items[index], index }),
              inner,
              `${step.step.name ?? id} [${index}]`,
            );
          } catch (error) {
            failure ??= error;
          }
        }
      };
      const concurrency = step.step.forEach?.concurrency ?? 4;
      await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
      if (inner.aborted) throw inner.reason;
      if (failure !== null) {
        await finishRow(
          parent,
          "FAILED",
          failure instanceof Error ? failure.message : String(failure),
        );
        throw failure;
      }
      parent.output = results;
      await finishRow(parent, "COMPLETED", null);
      return results;
    });
  }

  /**
   * The step's own deadline (`timeoutSeconds`), over all its attempts and polls. At the
   * deadline its waits (backoff, poll interval) end at once; a call in flight is let
   * finish (it has its own deadline), so whatever it did is recorded: a late success
   * completes the step, and can then be compensated like any other.
   */
  async function withDeadline(
    step: CompiledStep,
    stop: AbortSignal,
    run: (inner: AbortSignal) => Promise<JsonValue>,
  ): Promise<JsonValue> {
    const seconds = step.step.timeoutSeconds;
    if (seconds === undefined) return run(stop);
    const inner = new AbortController();
    const onStop = () => inner.abort(stop.reason);
    stop.addEventListener("abort", onStop, { once: true });
    const timer = setTimeout(
      () => inner.abort(new StepTimeout(`step ${step.step.id} timed out after ${seconds} s`)),
      seconds * 1000,
    );
    try {
      return await run(inner.signal);
    } catch (error) {
      const reason = inner.signal.reason;
      if (inner.signal.aborted && reason instanceof StepTimeout && !stop.aborted) {
        for (const row of rows.values()) {
          const ofStep = row.stepId === step.step.id || row.stepId.startsWith(`${step.step.id}[`);
          if (ofStep && row.status === "RUNNING" && !row.stepId.endsWith(".compensate")) {
            await finishRow(row, "FAILED", reason.message);
          }
        }
        throw new Error(reason.message);
      }
      throw error;
    } finally {
      clearTimeout(timer);
      stop.removeEventListener("abort", onStop);
    }
  }

  // The DAG: every step whose dependencies completed starts at once.
  const failures: string[] = [];
  const completed = new Set<string>();
  for (const step of compiled.steps) {
    const row = rows.get(step.step.id);
    if (row?.status === "COMPLETED") {
      completed.add(step.step.id);
      outputs[step.step.id] = { output: row.output };
    } else if (row?.status === "FAILED") {
      failures.push(`step ${step.step.id} failed: ${row.error ?? "unknown error"}`);
    }
  }
  const siblings = new AbortController();
  const onAbort = () => siblings.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const running = new Map<string, Promise<{ id: string; error: unknown; output: JsonValue }>>();
    const waiting = new Set(compiled.steps.filter((s) => !completed.has(s.step.id)));
    for (;;) {
      if (failures.length === 0 && !signal.aborted) {
        for (const step of waiting) {
          if (!step.step.dependsOn.every((dependency) => completed.has(dependency))) continue;
          waiting.delete(step);
          running.set(
            step.step.id,
            runStep(step, siblings.signal).then(
              (output) => ({ id: step.step.id, error: null, output }),
              (error: unknown) => ({ id: step.step.id, error: error ?? "failed", output: null }),
            ),
          );
        }
      }
      if (running.size === 0) break;
      const done = await Promise.race(running.values());
      running.delete(done.id);
      if (done.error === null) {
        completed.add(done.id);
        outputs[done.id] = { output: done.output };
      } else if (!signal.aborted) {
        if (failures.length === 0) siblings.abort(new SiblingFailed());
        if (!(done.error instanceof SiblingFailed)) {
          failures.push(done.error instanceof Error ? done.error.message : String(done.error));
        }
      }
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  if (signal.aborted) throw signal.reason;

  if (failures.length > 0) {
    const undone = await compensate();
    return {
      status: undone.ran > 0 && undone.errors.length === 0 ? "COMPENSATED" : "FAILED",
      result: null,
      errors: [...failures, ...undone.errors],
    };
  }
  const result = compiled.output ? await render(compiled.output, context()) : outputs;
  return { status: "COMPLETED", result: result as JsonValue, errors: [] };

  /** Undoes every completed step (or item) that says how, latest completed first. */
  async function compensate(): Promise<{ ran: number; errors: string[] }> {
    const byId = new Map(compiled.steps.map((step) => [step.step.id, step]));
    const toUndo = [...rows.values()]
      .filter((row) => row.status === "COMPLETED" && !row.stepId.endsWith(".compensate"))
      .map((row) => ({ row, step: byId.get(row.stepId.replace(/\[\d+\]$/, "")) }))
      .filter(
        (entry): entry is { row: WorkflowStepState; step: CompiledStep } =>
          entry.step?.compensate != null &&
          // A forEach step is undone item by item, not as a whole.
          (entry.step.forEach === null || entry.row.stepId !== entry.step.step.id),
      )
      // Latest finished first; items finished in the same millisecond, highest index first.
      .sort(
        (a, b) =>
          (b.row.finishedAt ?? "").localeCompare(a.row.finishedAt ?? "") ||
          itemIndex(b.row.stepId) - itemIndex(a.row.stepId),
      );
    const errors: string[] = [];
    for (const { row, step } of toUndo) {
      // Stopping (shutdown, a lost lease): whoever resumes the execution finishes undoing.
      if (signal.aborted) throw signal.reason;
      const undoId = `${row.stepId}.compensate`;
      const undo = rows.get(undoId) ?? {
        ...rowFor(undoId, step, `undo ${row.name}`),
        serviceType: step.step.compensate?.serviceType ?? step.step.serviceType ?? null,
      };
      if (undo.status === "COMPLETED") continue;
      const spec = step.step.compensate as NonNullable<CompiledStep["step"]["compensate"]>;
      const index = /\[(\d+)\]$/.exec(row.stepId)?.[1];
      const scope = context({
        output: row.output,
        ...(index !== undefined ? { index: Number(index) } : {}),
      });
      undo.attempt += 1;
      undo.status = "RUNNING";
      undo.startedAt = new Date(now()).toISOString();
      await save(undo);
      try {
        undo.output = await call(
          undo,
          spec.serviceType ?? (step.step.serviceType as string),
          spec.method,
          step.compensate as NonNullable<CompiledStep["compensate"]>,
          scope,
        );
        await finishRow(undo, "COMPLETED", null);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        await finishRow(undo, "FAILED", message);
        errors.push(`compensation of ${row.stepId} failed: ${message}`);
      }
    }
    return { ran: toUndo.length, errors };
  }
}

/**
 * Renders a template over an answer already had: if it fails (a JSONata error), calling
 * the service again would only repeat what the call did, so the step fails for good.
 */
async function renderFinal(
  template: Template,
  scope: TemplateContext,
  field: string,
): Promise<JsonValue> {
  try {
    return await render(template, scope);
  } catch (error) {
    const message = (error as { message?: string }).message ?? String(error);
    throw new FinalStepFailure(`${field}: ${message}`);
  }
}

function itemIndex(stepId: string): number {
  return Number(/\[(\d+)\]$/.exec(stepId)?.[1] ?? -1);
}

function stepCall(step: CompiledStep) {
  return { path: step.path as Template, body: step.body, query: step.query };
}

class StepTimeout extends Error {}
class SiblingFailed extends Error {
  constructor() {
    super("stopped: another step failed");
  }
}

/** Services of this system answer `{success, data}`; the data is what a step sees. */
function unwrap(body: JsonValue): JsonValue {
  if (isEnvelope(body)) return body.data ?? null;
  return body;
}

function unwrapFailure(body: JsonValue): string | null {
  if (!isEnvelope(body) || body.success !== false) return null;
  const said = body.message ?? body.error ?? body.detail;
  return `answered success: false${typeof said === "string" ? `: ${said}` : ""}`;
}

function isEnvelope(body: JsonValue): body is { success: boolean; [key: string]: JsonValue } {
  return (
    body !== null &&
    typeof body === "object" &&
    !Array.isArray(body) &&
    typeof body.success === "boolean" &&
    ("data" in body || body.success === false)
  );
}

function snippet(value: JsonValue): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

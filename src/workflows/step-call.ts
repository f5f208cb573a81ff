import { isGatewayError } from "../domain/errors.js";
import type { JsonValue } from "../domain/json.js";
import type { StepCall, StepResponse, WorkflowStepState } from "../domain/workflow.js";
import type { CompiledStep } from "./definition.js";
import type { ExecutionState } from "./execution-state.js";
import { messageOf, reasonOf, StepCallFailure } from "./step-failures.js";
import { render, type Template, type TemplateContext } from "./template.js";

/** Calls kept on a step's row: a long poll keeps its latest ones. */
const KEPT_CALLS = 20;

type CallTemplates = { path: Template; body: Template | null; query: Template | null };

export function callTemplates(step: CompiledStep): CallTemplates {
  return { path: step.path as Template, body: step.body, query: step.query };
}

/**
 * Makes one call of a step and records it on the row. Resolves with the answer's data;
 * rejects with a StepCallFailure when the call could not be made, or was answered with
 * an error.
 */
export async function callService(
  state: ExecutionState,
  row: WorkflowStepState,
  serviceType: string,
  method: string,
  templates: CallTemplates,
  scope: TemplateContext,
): Promise<JsonValue> {
  const path = String(await render(templates.path, scope, encodeURIComponent));
  const body = templates.body ? await render(templates.body, scope) : null;
  const query = templates.query ? await render(templates.query, scope) : null;
  const started = state.now();
  const record = (entry: Omit<StepCall, "at">) => {
    row.calls = [...row.calls, { ...entry, at: new Date(started).toISOString() }].slice(
      -KEPT_CALLS,
    );
  };
  let response: StepResponse;
  try {
    response = await state.deps.call({
      serviceType,
      method,
      path,
      body,
      query,
      requestId: `${state.execution.id}:${row.stepId.replace(/[^\w.-]/g, "_")}:${row.attempt}`,
    });
  } catch (error) {
    const message = messageOf(error);
    // What the gateway's error says of the call: a 5xx is a status, its instances tried.
    const details = isGatewayError(error) ? error.details : {};
    record({
      serviceId: typeof details.serviceId === "string" ? details.serviceId : null,
      status: typeof details.status === "number" ? details.status : null,
      attempts: typeof details.attempts === "number" ? details.attempts : 0,
      instancesTried: Array.isArray(details.instancesTried)
        ? details.instancesTried.map(String)
        : [],
      durationMs: state.now() - started,
      error: message,
    });
    throw new StepCallFailure(`${method} ${path}: ${message}`, reasonOf(error));
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
    instancesTried: response.instancesTried,
    durationMs: response.durationMs,
    error: failure,
  });
  // An answer, not a fault: retried only when `retry.on` lists its status.
  if (failure) throw new StepCallFailure(failure, response.status >= 400 ? response.status : null);
  return unwrap(response.body);
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

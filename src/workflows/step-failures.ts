import type { JsonValue } from "../domain/json.js";
import { render, type Template, type TemplateContext } from "./template.js";

/** A step failed for good: retrying it would not help (a terminal FAILED, a bad template). */
export class FinalStepFailure extends Error {}

/** Why the steps still running are stopped when one fails. */
export class SiblingFailed extends Error {
  constructor() {
    super("stopped: another step failed");
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Renders a template over an answer already had: if it fails (a JSONata error), calling
 * the service again would only repeat what the call did, so the step fails for good.
 */
export async function renderFinal(
  template: Template,
  scope: TemplateContext,
  field: string,
): Promise<JsonValue> {
  try {
    return await render(template, scope);
  } catch (error) {
    // JSONata throws plain objects with a message, not always Errors.
    const message = (error as { message?: string }).message ?? String(error);
    throw new FinalStepFailure(`${field}: ${message}`);
  }
}

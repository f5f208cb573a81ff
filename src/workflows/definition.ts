import { z } from "zod";
import { GatewayError } from "../domain/errors.js";
import type { JsonValue } from "../domain/json.js";
import { httpMethods, normalizeServiceType } from "../domain/service.js";
import { parseInput } from "../lib/zod-input.js";
import { compileTemplate, referencedSteps, type Template } from "./template.js";

/**
 * A workflow definition is data: JSON, checked here, versioned in the database. Values
 * that say `{{ … }}` are templates (see template.ts) over `input`, `steps.<id>.output`,
 * and inside `forEach` the current `item` and `index`.
 */

const identifier = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, "must be a letter then letters, digits or _ (at most 64)");

const json = z.custom<JsonValue>((value) => value !== undefined, "must be JSON");

/** A duration in whole seconds, up to a week. */
const seconds = z
  .number()
  .int()
  .min(1)
  .max(7 * 24 * 3600);

/** A service type, normalised as registrations are: "planning_system" → PLANNING_SYSTEM. */
const serviceType = z.string().min(1).max(100).transform(normalizeServiceType);

/** Values a polled field is compared with. */
const terminalValues = z.array(z.union([z.string(), z.number(), z.boolean()]));

/**
 * What a step's failed call is retried on: an HTTP status the service answered (400–599),
 * `"5xx"` for any from 500, `"network"` (no instance could take the call, or its
 * connection failed) or `"timeout"` (no answer within the call's deadline).
 */
const retryCondition = z.union(
  [z.number().int().min(400).max(599), z.enum(["5xx", "network", "timeout"])],
  { error: 'must be an HTTP status (400-599), "5xx", "network" or "timeout"' },
);

export type RetryCondition = z.output<typeof retryCondition>;

/** Faults, not answers: a 4xx is the service's answer and is retried only when listed. */
export const DEFAULT_RETRY_ON: readonly RetryCondition[] = ["network", "timeout", "5xx"];

const retrySchema = z.object({
  /** Attempts of the step, the first included (each attempt runs the call's own policies). */
  maxAttempts: z.number().int().min(1).max(20).default(1),
  /** Wait before the second attempt; doubled for each one after. */
  backoffMs: z.number().int().min(0).max(600_000).default(1000),
  /**
   * What a failed call is retried on (`retryCondition`); the list replaces the default,
   * `DEFAULT_RETRY_ON`. Anything else fails the step at once: a 4xx not listed, an
   * answer of `success: false`, a request the gateway refuses.
   */
  on: z
    .array(retryCondition)
    .min(1)
    .max(50)
    .default(() => [...DEFAULT_RETRY_ON]),
});

const pollSchema = z.object({
  intervalMs: z.number().int().min(10).max(3_600_000).default(2000),
  /** A template over the answer (`response`) whose value ends the polling when in `in`. */
  until: z.string().min(1),
  in: terminalValues.min(1),
  /** Values of `until` that fail the step (and the workflow) rather than complete it. */
  failOn: terminalValues.default([]),
  /** Bounds: at most this many calls, and this long. At least one must be given. */
  maxAttempts: z.number().int().min(1).max(1_000_000).optional(),
  timeoutSeconds: seconds.optional(),
});

const callSchema = z.object({
  method: z
    .string()
    .transform((method) => method.toUpperCase())
    .pipe(z.enum(httpMethods, { error: `must be one of ${httpMethods.join(", ")}` }))
    .default("GET"),
  path: z.string().min(1).max(2048),
  body: json.optional(),
  query: json.optional(),
});

const stepSchema = z
  .object({
    id: identifier,
    name: z.string().max(200).optional(),
    /** The service type to call; omitted for a step that only computes `output`. */
    serviceType: serviceType.optional(),
    method: callSchema.shape.method,
    path: z.string().min(1).max(2048).optional(),
    body: json.optional(),
    query: json.optional(),
    dependsOn: z.array(identifier).max(100).default([]),
    retry: retrySchema.optional(),
    /** Deadline of the whole step, polling and retries included. */
    timeoutSeconds: seconds.optional(),
    poll: pollSchema.optional(),
    /** Runs the step once per element of the array this template gives. */
    forEach: z
      .object({
        items: z.string().min(1),
        concurrency: z.number().int().min(1).max(100).default(4),
      })
      .optional(),
    /** What the step keeps: a template over `response` (the answer, unwrapped). */
    output: json.optional(),
    /** Undoes a completed step when a later one fails; reads `output` and `input`. */
    compensate: callSchema.extend({ serviceType: serviceType.optional() }).optional(),
  })
  .superRefine((step, ctx) => {
    if (step.serviceType !== undefined && step.path === undefined) {
      ctx.addIssue({ code: "custom", path: ["path"], message: "is required with serviceType" });
    }
    if (step.serviceType === undefined && step.output === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["serviceType"],
        message: "is required unless the step only computes an output",
      });
    }
    if (step.serviceType === undefined && (step.poll || step.compensate)) {
      ctx.addIssue({
        code: "custom",
        path: [step.poll ? "poll" : "compensate"],
        message: "needs a serviceType to call",
      });
    }
    if (
      step.poll &&
      step.poll.maxAttempts === undefined &&
      step.poll.timeoutSeconds === undefined
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["poll"],
        message: "needs maxAttempts or timeoutSeconds: polling must be bounded",
      });
    }
  });

const definitionSchema = z.object({
  type: z
    .string()
    .min(1)
    .max(100)
    .transform(normalizeServiceType)
    .refine((type) => type !== "", "must contain a letter or digit"),
  description: z.string().max(2000).default(""),
  /** Fields `input` must have. */
  input: z.object({ required: z.array(z.string().min(1)).max(100).default([]) }).default({
    required: [],
  }),
  steps: z.array(stepSchema).min(1).max(100),
  /** The execution's result: a template over `input` and `steps`. */
  output: json.optional(),
});

type StepDefinition = z.output<typeof stepSchema>;
type WorkflowDefinition = z.output<typeof definitionSchema>;

/** A definition with its templates compiled and its steps in dependency order. */
export type CompiledDefinition = {
  definition: WorkflowDefinition;
  steps: CompiledStep[];
  output: Template | null;
};

export type CompiledStep = {
  step: StepDefinition;
  path: Template | null;
  body: Template | null;
  query: Template | null;
  output: Template | null;
  forEach: Template | null;
  pollUntil: Template | null;
  compensate: { path: Template; body: Template | null; query: Template | null } | null;
};

/**
 * Parses and checks a definition: zod for the shape, then what zod cannot see: unique
 * step ids, `dependsOn` naming known steps without a cycle, templates that compile and
 * read only steps the step depends on (directly or not). Errors name the bad field.
 */
export function parseDefinition(raw: JsonValue | unknown): CompiledDefinition {
  const definition = parseInput(definitionSchema, raw, "definition");
  const byId = new Map<string, { step: StepDefinition; index: number }>();
  for (const [index, step] of definition.steps.entries()) {
    if (byId.has(step.id))
      throw invalid(`definition.steps.${index}.id`, `"${step.id}" is used twice`);
    byId.set(step.id, { step, index });
  }
  for (const [index, step] of definition.steps.entries()) {
    for (const dependency of step.dependsOn) {
      if (!byId.has(dependency)) {
        throw invalid(`definition.steps.${index}.dependsOn`, `names unknown step "${dependency}"`);
      }
    }
  }
  const order = topologicalOrder(definition.steps);
  const ancestors = ancestorsOf(definition.steps);

  const compile = (
    value: JsonValue | undefined,
    field: string,
    index: number,
    step: string | null,
  ) => {
    if (value === undefined) return null;
    const template = compileTemplate(value, `definition.steps.${index}.${field}`);
    if (step !== null) {
      const reachable = ancestors.get(step) as Set<string>;
      for (const read of referencedSteps(template)) {
        if (!reachable.has(read)) {
          throw invalid(
            `definition.steps.${index}.${field}`,
            read === step || byId.has(read)
              ? `reads steps.${read}, which "${step}" does not depend on`
              : `reads unknown step "${read}"`,
          );
        }
      }
    }
    return template;
  };

  const steps = order.map((step): CompiledStep => {
    const index = byId.get(step.id)?.index as number;
    return {
      step,
      path: compile(step.path, "path", index, step.id),
      body: compile(step.body, "body", index, step.id),
      query: compile(step.query, "query", index, step.id),
      output: compile(step.output, "output", index, step.id),
      forEach: compile(step.forEach?.items, "forEach.items", index, step.id),
      pollUntil: compile(step.poll?.until, "poll.until", index, step.id),
      compensate: step.compensate
        ? {
            path: compile(step.compensate.path, "compensate.path", index, step.id) as Template,
            body: compile(step.compensate.body, "compensate.body", index, step.id),
            query: compile(step.compensate.query, "compensate.query", index, step.id),
          }
        : null,
    };
  });
  let output: Template | null = null;
  if (definition.output !== undefined) {
    output = compileTemplate(definition.output, "definition.output");
    for (const read of referencedSteps(output)) {
      if (!byId.has(read)) throw invalid("definition.output", `reads unknown step "${read}"`);
    }
  }
  return { definition, steps, output };
}

function invalid(field: string, message: string): GatewayError {
  return new GatewayError("BAD_USER_INPUT", `${field}: ${message}`, { field });
}

/** Steps so that each comes after those it depends on; a cycle is refused, naming it. */
function topologicalOrder(steps: readonly StepDefinition[]): StepDefinition[] {
  const byId = new Map(steps.map((step) => [step.id, step]));
  const state = new Map<string, "visiting" | "done">();
  const order: StepDefinition[] = [];
  const visit = (step: StepDefinition, trail: string[]) => {
    const seen = state.get(step.id);
    if (seen === "done") return;
    if (seen === "visiting") {
      const cycle = [...trail.slice(trail.indexOf(step.id)), step.id].join(" → ");
      throw invalid("definition.steps", `dependsOn has a cycle: ${cycle}`);
    }
    state.set(step.id, "visiting");
    for (const dependency of step.dependsOn) {
      visit(byId.get(dependency) as StepDefinition, [...trail, step.id]);
    }
    state.set(step.id, "done");
    order.push(step);
  };
  for (const step of steps) visit(step, []);
  return order;
}

/** For each step, every step it depends on directly or through others. */
function ancestorsOf(steps: readonly StepDefinition[]): Map<string, Set<string>> {
  const byId = new Map(steps.map((step) => [step.id, step]));
  const memo = new Map<string, Set<string>>();
  const of = (id: string): Set<string> => {
    const known = memo.get(id);
    if (known) return known;
    const all = new Set<string>();
    for (const dependency of byId.get(id)?.dependsOn ?? []) {
      all.add(dependency);
      for (const further of of(dependency)) all.add(further);
    }
    memo.set(id, all);
    return all;
  };
  for (const step of steps) of(step.id);
  return memo;
}

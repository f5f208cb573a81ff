import jsonata from "jsonata";
import { GatewayError } from "../domain/errors.js";
import type { JsonValue } from "../domain/json.js";

/**
 * Templates in workflow definitions. Any string may hold `{{ expression }}`; a string that
 * is one expression and nothing else takes the expression's value with its JSON type (an
 * object stays an object), anything else is text with the values written in. An
 * expression is JSONata (https://jsonata.org, the language Step Functions adopted), over
 * `{ input, steps: { <id>: { output } }, response, output, item, index }`; a plain dotted
 * path (`steps.plan.output.plan`) is read directly, without JSONata.
 */
export type Template =
  | { kind: "literal"; value: JsonValue }
  | { kind: "value"; expression: Expression }
  | { kind: "text"; parts: (string | Expression)[] }
  | { kind: "array"; items: Template[] }
  | { kind: "object"; entries: [string, Template][] };

type Expression = {
  source: string;
  evaluate(context: TemplateContext): unknown;
};

export type TemplateContext = Record<string, unknown>;

const WHOLE = /^\s*\{\{([\s\S]+?)\}\}\s*$/;
const ANY = /\{\{([\s\S]+?)\}\}/g;
const PATH = /^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$/;

export function compileTemplate(value: JsonValue, field: string): Template {
  if (typeof value === "string") {
    const whole = WHOLE.exec(value);
    if (whole && !whole[1]?.includes("}}")) {
      return { kind: "value", expression: compileExpression(whole[1] as string, field) };
    }
    if (!value.includes("{{")) return { kind: "literal", value };
    const parts: (string | Expression)[] = [];
    let last = 0;
    for (const match of value.matchAll(ANY)) {
      if (match.index > last) parts.push(value.slice(last, match.index));
      parts.push(compileExpression(match[1] as string, field));
      last = match.index + match[0].length;
    }
    if (last < value.length) parts.push(value.slice(last));
    return { kind: "text", parts };
  }
  if (Array.isArray(value)) {
    return { kind: "array", items: value.map((item, i) => compileTemplate(item, `${field}.${i}`)) };
  }
  if (value !== null && typeof value === "object") {
    return {
      kind: "object",
      entries: Object.entries(value).map(([key, item]) => [
        key,
        compileTemplate(item, `${field}.${key}`),
      ]),
    };
  }
  return { kind: "literal", value };
}

function compileExpression(raw: string, field: string): Expression {
  const source = raw.trim();
  let compiled: ReturnType<typeof jsonata>;
  try {
    compiled = jsonata(source);
  } catch (error) {
    const message = (error as { message?: string }).message ?? "cannot be parsed";
    throw new GatewayError("BAD_USER_INPUT", `${field}: {{ ${source} }}: ${message}`, { field });
  }
  const evaluate = (context: TemplateContext) => compiled.evaluate(context);
  if (!PATH.test(source) || KEYWORDS.has(source.split(".")[0] as string)) {
    return { source, evaluate };
  }
  // A plain path through plain objects is read directly (most templates are such paths);
  // anything else (a list on the way, a missing key) is left to JSONata, whose answer it is.
  const path = source.split(".");
  return {
    source,
    evaluate: (context) => {
      let current: unknown = context;
      for (const key of path) {
        if (current === null || typeof current !== "object" || Array.isArray(current)) {
          return evaluate(context);
        }
        if (!Object.hasOwn(current, key)) return evaluate(context);
        current = (current as Record<string, unknown>)[key];
      }
      return current;
    },
  };
}

/** Words JSONata reads as values or operators, not as field names. */
const KEYWORDS = new Set(["true", "false", "null", "and", "or", "in"]);

/**
 * Renders a template; an expression with no value gives null (or "" inside text).
 * `encode` escapes the values written into text (a URL path's segments, say).
 */
export async function render(
  template: Template,
  context: TemplateContext,
  encode: (text: string) => string = (text) => text,
): Promise<JsonValue> {
  switch (template.kind) {
    case "literal":
      return template.value;
    case "value":
      return toJson(await template.expression.evaluate(context));
    case "text": {
      let text = "";
      for (const part of template.parts) {
        if (typeof part === "string") {
          text += part;
          continue;
        }
        const value = toJson(await part.evaluate(context));
        text += encode(
          value === null ? "" : typeof value === "string" ? value : JSON.stringify(value),
        );
      }
      return text;
    }
    case "array":
      return Promise.all(template.items.map((item) => render(item, context, encode)));
    case "object": {
      const entries = await Promise.all(
        template.entries.map(
          async ([key, item]) => [key, await render(item, context, encode)] as const,
        ),
      );
      return Object.fromEntries(entries);
    }
  }
}

/** The step ids a template reads (`steps.<id>`), to check them against `dependsOn`. */
export function referencedSteps(template: Template): Set<string> {
  const found = new Set<string>();
  const scan = (expression: Expression) => {
    // `steps.x` at the start of a path, not `input.steps.x` nor `$steps.x`.
    for (const match of expression.source.matchAll(/(?<![\w.$])steps\.([A-Za-z][A-Za-z0-9_]*)/g)) {
      found.add(match[1] as string);
    }
  };
  const walk = (node: Template) => {
    switch (node.kind) {
      case "value":
        scan(node.expression);
        break;
      case "text":
        for (const part of node.parts) if (typeof part !== "string") scan(part);
        break;
      case "array":
        node.items.forEach(walk);
        break;
      case "object":
        for (const [, item] of node.entries) walk(item);
        break;
    }
  };
  walk(template);
  return found;
}

/** JSONata answers with its own sequences and undefined; what is stored is plain JSON. */
function toJson(value: unknown): JsonValue {
  if (value === undefined || value === null || typeof value === "function") return null;
  if (typeof value !== "object") {
    return typeof value === "number" && !Number.isFinite(value) ? null : (value as JsonValue);
  }
  // A JSONata function given as a value (`{{ $uppercase }}`) is no JSON.
  if ("_jsonata_function" in value || "_jsonata_lambda" in value) return null;
  const text = JSON.stringify(value);
  return text === undefined ? null : (JSON.parse(text) as JsonValue);
}

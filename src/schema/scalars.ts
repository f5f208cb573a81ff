import { GraphQLError, Kind, type ValueNode } from "graphql";
import type { JsonValue } from "../domain/json.js";
import { describeJsonLimit, exceededJsonLimit } from "../lib/json-bounds.js";
import { JSON_VALUE_LIMITS, MAX_JSON_DEPTH } from "../services/json-input.js";
import { builder } from "./builder.js";

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

builder.scalarType("DateTime", {
  description: "An ISO-8601 timestamp in UTC, e.g. 2026-01-31T12:00:00.000Z.",
  // Values arrive as Date objects or, after a trip through Redis or JSON, as strings;
  // the gateway's own strings are already ISO-8601 UTC and go out as they are.
  serialize: (value) =>
    typeof value === "string" && ISO_UTC.test(value)
      ? value
      : new Date(value as string | Date).toISOString(),
  parseValue: (value) => parseDate(value),
  parseLiteral: (ast) => parseDate(ast.kind === Kind.STRING ? ast.value : null),
});

function parseDate(value: unknown): Date {
  const date = typeof value === "string" ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) {
    throw new GraphQLError("DateTime must be an ISO-8601 string.", {
      extensions: { code: "BAD_USER_INPUT" },
    });
  }
  return date;
}

builder.scalarType("JSON", {
  description: "Any JSON value.",
  serialize: (value) => value,
  parseValue: (value) => withinLimits(value as JsonValue),
  parseLiteral: (ast, variables) => withinLimits(jsonFromLiteral(ast, variables ?? {}, 0)),
});

/** Values from variables come parsed by JSON.parse, which accepts any depth; bound them here. */
function withinLimits(value: JsonValue): JsonValue {
  const exceeded = exceededJsonLimit(value, JSON_VALUE_LIMITS);
  if (exceeded) {
    throw new GraphQLError(`JSON value ${describeJsonLimit(exceeded)}.`, {
      extensions: { code: "BAD_USER_INPUT" },
    });
  }
  return value;
}

/**
 * A literal becomes JSON one level per call, so the depth is checked on the way down:
 * the recursion ends at MAX_JSON_DEPTH, however deep the document is. (The parser has
 * bounded the document's nesting before this runs; this keeps the scalar safe alone.)
 */
function jsonFromLiteral(
  ast: ValueNode,
  variables: Record<string, unknown>,
  depth: number,
): JsonValue {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      tooDeep(ast, depth);
      return ast.values.map((value) => jsonFromLiteral(value, variables, depth + 1));
    case Kind.OBJECT:
      tooDeep(ast, depth);
      return Object.fromEntries(
        ast.fields.map((field) => [
          field.name.value,
          jsonFromLiteral(field.value, variables, depth + 1),
        ]),
      );
    case Kind.VARIABLE:
      return (variables[ast.name.value] ?? null) as JsonValue;
    default:
      throw new GraphQLError("JSON literal may not contain enum values.", {
        extensions: { code: "BAD_USER_INPUT" },
      });
  }
}

function tooDeep(ast: ValueNode, depth: number): void {
  if (depth < MAX_JSON_DEPTH) return;
  // A GraphQLError: validation would print any other error's whole literal into its message.
  throw new GraphQLError(`JSON value nests deeper than ${MAX_JSON_DEPTH} levels.`, {
    nodes: ast,
    extensions: { code: "BAD_USER_INPUT" },
  });
}

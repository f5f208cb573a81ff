import { GraphQLError, Kind, type ValueNode } from "graphql";
import type { JsonValue } from "../services/model.js";
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
  parseValue: (value) => value as JsonValue,
  parseLiteral: (ast, variables) => jsonFromLiteral(ast, variables ?? {}),
});

function jsonFromLiteral(ast: ValueNode, variables: Record<string, unknown>): JsonValue {
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
      return ast.values.map((value) => jsonFromLiteral(value, variables));
    case Kind.OBJECT:
      return Object.fromEntries(
        ast.fields.map((field) => [field.name.value, jsonFromLiteral(field.value, variables)]),
      );
    case Kind.VARIABLE:
      return (variables[ast.name.value] ?? null) as JsonValue;
    default:
      throw new GraphQLError("JSON literal may not contain enum values.", {
        extensions: { code: "BAD_USER_INPUT" },
      });
  }
}

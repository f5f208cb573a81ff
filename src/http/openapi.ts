import { z } from "zod";
import type { RouteSpec } from "./rest-router.js";

/** What the document reads of a route: everything but its handler. */
type DocumentedRoute = Omit<RouteSpec<unknown, unknown, unknown>, "handle">;

/**
 * The OpenAPI 3.1 document of the REST routes, written from the zod schemas that validate
 * them (OpenAPI 3.1's schemas are JSON Schema 2020-12, what zod writes).
 */
export function openApiDocument(
  routes: readonly DocumentedRoute[],
  info: { title: string; version: string; description: string },
) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const spec of routes) {
    const operations = paths[spec.path] ?? {};
    paths[spec.path] = operations;
    operations[spec.method.toLowerCase()] = {
      operationId: operationIdOf(spec),
      summary: spec.summary,
      tags: [spec.tag],
      ...(spec.permission.length > 0
        ? {
            security: [{ bearer: [] }],
            description: `Needs ${spec.permission.join(" or ")} (in tokens mode).`,
          }
        : {}),
      parameters: [...parametersOf(spec.params, "path"), ...parametersOf(spec.query, "query")],
      ...(spec.body
        ? {
            requestBody: {
              required: !spec.bodyOptional,
              content: { "application/json": { schema: jsonSchemaOf(spec.body, "input") } },
            },
          }
        : {}),
      responses: Object.fromEntries(
        Object.entries(spec.responses).map(([status, { description, schema }]) => [
          status,
          {
            description,
            ...(schema
              ? { content: { "application/json": { schema: jsonSchemaOf(schema, "output") } } }
              : {}),
          },
        ]),
      ),
    };
  }
  return {
    openapi: "3.1.0",
    info,
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "ADMIN_TOKEN, AUTH_TOKENS or an API token; none in open mode.",
        },
      },
    },
  };
}

function jsonSchemaOf(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    target: "draft-2020-12",
    io,
    unrepresentable: "any",
  }) as Record<string, unknown>;
  return rest;
}

function parametersOf(schema: z.ZodType | undefined, where: "path" | "query") {
  if (!schema) return [];
  const json = jsonSchemaOf(schema, "input") as {
    properties?: Record<string, Record<string, unknown>>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === "path" || (json.required ?? []).includes(name),
      ...(description ? { description } : {}),
      schema: rest,
      ...(rest.type === "array" ? { style: "form", explode: true } : {}),
    };
  });
}

/** `GET /registry/services/{id}` → `getRegistryServicesById`. */
function operationIdOf(spec: { method: string; path: string }): string {
  const words = spec.path
    .split("/")
    .filter((part) => part !== "")
    .map((part) => (part.startsWith("{") ? `by-${part.slice(1, -1)}` : part))
    .flatMap((part) => part.split(/[-_]/));
  return (
    spec.method.toLowerCase() +
    words.map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join("")
  );
}

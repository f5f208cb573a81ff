import { z } from "zod";
import { GatewayError, isGatewayError } from "../domain/errors.js";
import type { Integration } from "../domain/integration.js";
import type { JsonValue } from "../domain/json.js";
import type { Services } from "../services/index.js";
import { integrationConfig } from "../services/integrations.js";
import { type RestResponse, route } from "./rest-router.js";
import { errorAnswer } from "./rest-schemas.js";

/*
 * The shared client's /integrations family (ServiceIntegrationClient), which the original
 * service never served: integrations between registered services, stored, and executed as
 * a call to the target through the gateway's call path.
 */

// --- schemas ---------------------------------------------------------------------------

const createBody = z.object({
  name: z.string(),
  source_service_id: z.string().describe("A registered service's id."),
  target_service_id: z.string().describe("A registered service's id: execute calls it."),
  integration_type: z.string(),
  config: integrationConfig,
  description: z.string().nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
});
const updateBody = createBody.partial();

const executeBody = z.object({
  payload: z
    .custom<JsonValue>((value) => value !== undefined, "is required")
    .describe("Sent as the JSON body of the call to the target."),
  context: z
    .record(z.string(), z.unknown())
    .optional()
    .describe("The caller's context; accepted for the shared client, not sent."),
});

const idParams = z.object({ id: z.string().describe("The integration id.") });

const listQuery = z.object({
  source_service_id: z.string().optional(),
  target_service_id: z.string().optional(),
  integration_type: z.string().optional(),
});

const integrationAnswer = z.object({
  id: z.string(),
  name: z.string(),
  source_service_id: z.string(),
  target_service_id: z.string(),
  integration_type: z.string(),
  config: z.record(z.string(), z.unknown()),
  description: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  created_at: z.string(),
  updated_at: z.string(),
});

const integrationList = z.object({
  success: z.boolean(),
  message: z.string().nullable(),
  items: z.array(integrationAnswer),
  metadata: z.object({
    total_count: z.number(),
    has_next_page: z.boolean(),
    next_cursor: z.string().nullable(),
  }),
});

const executionAnswer = z.object({
  success: z.boolean(),
  message: z.string(),
  data: z.object({
    status: z.number().describe("The target's HTTP status, whatever it was."),
    body: z.unknown(),
    service_id: z.string(),
    attempts: z.number(),
    duration_ms: z.number(),
  }),
});

const notFoundAnswer = { description: "No such integration.", schema: errorAnswer };
const invalidAnswer = { description: "Invalid request.", schema: errorAnswer };

// --- routes ----------------------------------------------------------------------------

/** The /integrations routes, to be spread into the REST route table. */
export function integrationRoutes(services: Services) {
  const { integrations } = services;
  return [
    route({
      method: "POST",
      path: "/integrations",
      summary: "Create an integration between two registered services",
      tag: "integrations",
      permission: ["registerServices"],
      body: createBody,
      responses: {
        201: { description: "Created.", schema: integrationAnswer },
        422: invalidAnswer,
      },
      handle: async ({ body }) => ({
        status: 201,
        body: toAnswer(await withBodyFieldNames(() => integrations.create(fromBody(body)))),
      }),
    }),
    route({
      method: "GET",
      path: "/integrations",
      summary: "List integrations, by source, target or type",
      tag: "integrations",
      permission: ["read"],
      query: listQuery,
      responses: { 200: { description: "A ListResponse.", schema: integrationList } },
      handle: async ({ query }) => {
        // Configuration, a few rows per pair of services: read whole, never paged.
        const items = await integrations.list({
          sourceServiceId: query.source_service_id,
          targetServiceId: query.target_service_id,
          integrationType: query.integration_type,
        });
        return {
          status: 200,
          body: {
            success: true,
            message: null,
            items: items.map(toAnswer),
            metadata: { total_count: items.length, has_next_page: false, next_cursor: null },
          },
        };
      },
    }),
    route({
      method: "GET",
      path: "/integrations/{id}",
      summary: "Read one integration",
      tag: "integrations",
      permission: ["read"],
      params: idParams,
      responses: {
        200: { description: "The integration.", schema: integrationAnswer },
        404: notFoundAnswer,
      },
      handle: async ({ params }) => ({
        status: 200,
        body: toAnswer(await integrations.get(params.id)),
      }),
    }),
    route({
      method: "PUT",
      path: "/integrations/{id}",
      summary: "Update an integration: the fields given, the rest as they were",
      tag: "integrations",
      permission: ["registerServices"],
      params: idParams,
      body: updateBody,
      responses: {
        200: { description: "The updated integration.", schema: integrationAnswer },
        404: notFoundAnswer,
        422: invalidAnswer,
      },
      handle: async ({ params, body }) => ({
        status: 200,
        body: toAnswer(
          await withBodyFieldNames(() => integrations.update(params.id, fromBody(body))),
        ),
      }),
    }),
    route({
      method: "DELETE",
      path: "/integrations/{id}",
      summary: "Delete an integration",
      tag: "integrations",
      permission: ["registerServices"],
      params: idParams,
      responses: { 204: { description: "Deleted." }, 404: notFoundAnswer },
      handle: async ({ params }): Promise<RestResponse> => {
        await integrations.delete(params.id);
        return { status: 204 };
      },
    }),
    route({
      method: "POST",
      path: "/integrations/{id}/execute",
      summary: "Execute an integration: call its target with the payload, through the gateway",
      tag: "integrations",
      permission: ["callServices"],
      params: idParams,
      body: executeBody,
      responses: {
        200: {
          description: "The call was made; `data.status` is the target's, whatever it was.",
          schema: executionAnswer,
        },
        404: notFoundAnswer,
        422: invalidAnswer,
      },
      handle: async ({ params, body, caller, requestId, headers }) => {
        const result = await integrations.execute(params.id, body.payload, caller, {
          // The caller's id when it gave a safe one, as the server logs it.
          requestId,
          traceparent: firstOf(headers.traceparent),
        });
        return {
          status: 200,
          body: {
            success: true,
            message: `Integration executed: the target answered ${result.status}`,
            data: {
              status: result.status,
              body: result.body,
              service_id: result.serviceId,
              attempts: result.attempts,
              duration_ms: result.durationMs,
            },
          },
        };
      },
    }),
  ];
}

function fromBody(body: z.infer<typeof updateBody>) {
  return {
    name: body.name,
    sourceServiceId: body.source_service_id,
    targetServiceId: body.target_service_id,
    integrationType: body.integration_type,
    config: body.config,
    description: body.description,
    metadata: body.metadata,
  };
}

function toAnswer(integration: Integration) {
  return {
    id: integration.id,
    name: integration.name,
    source_service_id: integration.sourceServiceId,
    target_service_id: integration.targetServiceId,
    integration_type: integration.integrationType,
    config: integration.config,
    description: integration.description,
    metadata: integration.metadata,
    created_at: integration.createdAt,
    updated_at: integration.updatedAt,
  };
}

/** The services name fields in camelCase (`targetServiceId`); the body spells them snake_case. */
async function withBodyFieldNames<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!isGatewayError(error) || typeof error.details.field !== "string") throw error;
    const field = error.details.field;
    const [head = "", ...rest] = field.split(".");
    // Only the first segment: below it are keys the caller chose (config's own).
    const renamed = [head.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), ...rest].join(".");
    if (renamed === field) throw error;
    const message = error.message.startsWith(field)
      ? `${renamed}${error.message.slice(field.length)}`
      : error.message;
    throw new GatewayError(error.code, message, { ...error.details, field: renamed });
  }
}

function firstOf(value: string | string[] | undefined): string | null {
  return (Array.isArray(value) ? value[0] : value) ?? null;
}

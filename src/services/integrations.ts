import { randomUUID } from "node:crypto";
import { z } from "zod";
import type {
  IntegrationChanges,
  IntegrationFilter,
  IntegrationRepository,
} from "../db/integrations.js";
import type { Caller } from "../domain/access.js";
import { badInput, GatewayError, isGatewayError, notFound } from "../domain/errors.js";
import type { Integration } from "../domain/integration.js";
import type { JsonObject, JsonValue } from "../domain/json.js";
import { httpMethods } from "../domain/service.js";
import { anyCaseEnum, parseInput } from "../lib/zod-input.js";
import type { CallServiceInput, CallTrace, ServiceCallResult } from "./calls.js";
import type { Discovery } from "./discovery.js";

/**
 * How executing an integration calls its target. Only the shape is checked here; the
 * call itself (declared endpoint, path characters, reserved headers) is checked by
 * `calls.call` at execute time, as for any other call. Other keys are kept as given.
 */
export const integrationConfig = z.looseObject({
  method: anyCaseEnum(httpMethods).optional().describe("Of the call to the target; default POST."),
  path: z
    .string()
    .startsWith("/", "must start with /")
    .optional()
    .describe("On the target; required to execute."),
  headers: z.record(z.string(), z.string()).optional().describe("Sent with the call."),
  idempotent: z
    .boolean()
    .optional()
    .describe("Whether the call may be retried; default by method."),
});

const text = (max: number) => z.string().trim().min(1, "must not be empty").max(max);
const serviceId = text(200);

const createSchema = z.object({
  name: text(200),
  sourceServiceId: serviceId,
  targetServiceId: serviceId,
  integrationType: text(100),
  config: integrationConfig,
  description: z.string().max(2000).nullish(),
  metadata: z.record(z.string(), z.custom<JsonValue>()).nullish(),
});
const updateSchema = createSchema.partial();

/** What executing an integration answers: the target's, and how the call went. */
export type IntegrationExecution = Pick<
  ServiceCallResult,
  "status" | "body" | "serviceId" | "attempts" | "durationMs"
>;

/**
 * Integrations between registered services: stored in the database, executed as a call
 * to the target service through `calls.call`, so its breaker, bulkhead, deadline and
 * the caller's permissions apply as to any other call.
 */
export function createIntegrations({
  repository,
  discovery,
  call,
  now,
}: {
  repository: IntegrationRepository;
  discovery: Pick<Discovery, "get">;
  call: (input: CallServiceInput, caller: Caller, trace: CallTrace) => Promise<ServiceCallResult>;
  now: () => Date;
}) {
  async function mustGet(id: string): Promise<Integration> {
    const found = await repository.get(id);
    if (!found) throw notFound(`Integration ${id} not found`);
    return found;
  }

  /**
   * An unknown service id is BAD_USER_INPUT naming the field, not NOT_FOUND: the request
   * names a resource (the integration) that a 404 would say is missing, while what is
   * wrong is one field of its body.
   */
  async function assertRegistered(field: string, id: string | undefined): Promise<void> {
    if (id === undefined) return;
    if (!(await discovery.get(id))) throw badInput(field, `no service ${id} is registered`);
  }

  return {
    get: mustGet,
    list: (filter: IntegrationFilter) => repository.list(filter),

    /** Parses `raw`: the REST body's fields in camelCase (`targetServiceId`). */
    async create(raw: unknown): Promise<Integration> {
      const input = parseInput(createSchema, raw, "");
      await assertRegistered("sourceServiceId", input.sourceServiceId);
      await assertRegistered("targetServiceId", input.targetServiceId);
      const at = now().toISOString();
      return repository.insert({
        id: randomUUID(),
        name: input.name,
        sourceServiceId: input.sourceServiceId,
        targetServiceId: input.targetServiceId,
        integrationType: input.integrationType,
        config: input.config as JsonObject,
        description: input.description ?? null,
        metadata: (input.metadata ?? {}) as JsonObject,
        createdAt: at,
        updatedAt: at,
      });
    },

    /** Changes the fields given; a field left out keeps its value. */
    async update(id: string, raw: unknown): Promise<Integration> {
      const input = parseInput(updateSchema, raw, "");
      await mustGet(id);
      await assertRegistered("sourceServiceId", input.sourceServiceId);
      await assertRegistered("targetServiceId", input.targetServiceId);
      const changes: IntegrationChanges = { updatedAt: now().toISOString() };
      if (input.name !== undefined) changes.name = input.name;
      if (input.sourceServiceId !== undefined) changes.sourceServiceId = input.sourceServiceId;
      if (input.targetServiceId !== undefined) changes.targetServiceId = input.targetServiceId;
      if (input.integrationType !== undefined) changes.integrationType = input.integrationType;
      if (input.config !== undefined) changes.config = input.config as JsonObject;
      if (input.description !== undefined) changes.description = input.description;
      if (input.metadata !== undefined) changes.metadata = (input.metadata ?? {}) as JsonObject;
      const updated = await repository.update(id, changes);
      // Deleted between the read and the write.
      if (!updated) throw notFound(`Integration ${id} not found`);
      return updated;
    },

    async delete(id: string): Promise<void> {
      if (!(await repository.delete(id))) throw notFound(`Integration ${id} not found`);
    },

    /** Calls the target with the payload as the JSON body, as the integration's config says. */
    async execute(
      id: string,
      payload: JsonValue,
      caller: Caller,
      trace: CallTrace,
    ): Promise<IntegrationExecution> {
      const integration = await mustGet(id);
      const config = parseInput(integrationConfig, integration.config, "config");
      if (config.path === undefined) throw badInput("config.path", "is required to execute");
      const result = await call(
        {
          serviceId: integration.targetServiceId,
          method: config.method ?? "POST",
          path: config.path,
          body: payload,
          headers: config.headers ?? null,
          idempotent: config.idempotent ?? null,
        },
        caller,
        trace,
      ).catch((error: unknown) => {
        throw asIntegrationError(error);
      });
      return {
        status: result.status,
        body: result.body,
        serviceId: result.serviceId,
        attempts: result.attempts,
        durationMs: result.durationMs,
      };
    },
  };
}

/** `input.path` of the call as what the integration calls it: `config.path`, the payload. */
function asIntegrationError(error: unknown): unknown {
  if (!isGatewayError(error) || typeof error.details.field !== "string") return error;
  const field = error.details.field;
  const renamed = field.startsWith("input.body")
    ? `payload${field.slice("input.body".length)}`
    : field.replace(/^input\./, "config.");
  if (renamed === field) return error;
  const message = error.message.startsWith(field)
    ? `${renamed}${error.message.slice(field.length)}`
    : error.message;
  return new GatewayError(
    error.code,
    message,
    { ...error.details, field: renamed },
    { cause: error },
  );
}

import type { IncomingMessage } from "node:http";
import { z } from "zod";
import type { Caller } from "../domain/access.js";
import { badInput, GatewayError, isGatewayError, notFound } from "../domain/errors.js";
import type { JsonObject, JsonValue } from "../domain/json.js";
import type { ServiceRecord } from "../domain/service.js";
import type { WorkflowExecution } from "../domain/workflow.js";
import type { Services } from "../services/index.js";
import { assertJsonWithin, PAYLOAD_LIMITS } from "../services/json-input.js";
import type { Page } from "../services/pagination.js";
import type { ServiceWhere } from "../services/service-where.js";
import { openApiDocument } from "./openapi.js";
import { integrationRoutes } from "./rest-integrations.js";
import { createRestRouter, type RestResponse, route } from "./rest-router.js";
import * as schemas from "./rest-schemas.js";

/**
 * The seed service's REST API, kept for existing callers: thin adapters over the same
 * facade as GraphQL, with its snake_case JSON and status codes.
 */

export type RestRequest = {
  method: string;
  url: URL;
  /** Authenticated already (tokens mode), or anonymous in open mode. */
  caller: Caller;
  /** The id the answer carries in x-request-id, passed on to what the route calls. */
  requestId: string;
  headers: IncomingMessage["headers"];
  /** Parsed JSON body; undefined when there was none. */
  body: unknown;
};
export type { RestResponse };

export type RestOptions = { services: Services; maxPageSize: number; serviceName: string };

/** Statuses the seed's discovery listed when asked for none: callers of it call what it lists. */
const SEED_DEFAULT_STATUSES = ["ONLINE"];

export function createRestRoutes({ services, maxPageSize, serviceName }: RestOptions) {
  const mustGet = async (id: string): Promise<ServiceRecord> => {
    const found = await services.discovery.get(id);
    if (!found) throw notFound(`Service ${id} not found`);
    return found;
  };

  const serviceAnswers = {
    200: {
      description: "The service, in the seed's ServiceInfo shape.",
      schema: schemas.serviceInfo,
    },
    404: { description: "No such service.", schema: schemas.errorAnswer },
  };
  const listAnswers = {
    200: { description: "The seed's ListResponse.", schema: schemas.serviceList },
    422: { description: "Invalid criteria.", schema: schemas.errorAnswer },
  };
  const workflowAnswers = {
    200: { description: "The execution, once it ended.", schema: schemas.workflowAnswer },
    202: { description: "Started (options.wait: false).", schema: schemas.workflowAnswer },
    422: { description: "Invalid request.", schema: schemas.errorAnswer },
  };

  const register = (body: Record<string, unknown>, caller: Caller) =>
    withRequestFieldNames(body, () =>
      services.registry.register(registrationFromBody(body), caller),
    );

  // The original's /registry family and its shared client's /services family do the same
  // three things under two names.
  const registerRoute = (path: string, summary: string, tag: string) =>
    route({
      method: "POST",
      path,
      summary,
      tag,
      permission: ["registerServices"],
      body: schemas.registrationBody,
      responses: {
        201: { description: "Registered.", schema: schemas.serviceInfo },
        422: { description: "Invalid registration.", schema: schemas.errorAnswer },
      },
      handle: async ({ body, caller }) => ({
        status: 201,
        body: toServiceInfo(await register(body, caller)),
      }),
    });
  const readRoute = (path: string, summary: string, tag: string) =>
    route({
      method: "GET",
      path,
      summary,
      tag,
      permission: ["read"],
      params: schemas.idParams,
      responses: serviceAnswers,
      handle: async ({ params }) => ({
        status: 200,
        body: toServiceInfo(await mustGet(params.id)),
      }),
    });
  const unregisterRoute = (path: string, summary: string, tag: string) =>
    route({
      method: "DELETE",
      path,
      summary,
      tag,
      permission: ["registerServices"],
      params: schemas.idParams,
      responses: {
        204: { description: "Unregistered." },
        404: { description: "No such service.", schema: schemas.errorAnswer },
      },
      handle: async ({ params, caller }) => unregister(params.id, caller),
    });

  const routes = [
    registerRoute("/registry/services", "Register a service (an upsert by service_id)", "registry"),
    readRoute("/registry/services/{id}", "Read one service", "registry"),
    unregisterRoute("/registry/services/{id}", "Unregister a service", "registry"),
    route({
      method: "POST",
      path: "/registry/services/{id}/heartbeat",
      summary: "Heartbeat, optionally reporting a status",
      tag: "registry",
      permission: ["registerServices"],
      params: schemas.idParams,
      body: schemas.heartbeatBody,
      bodyOptional: true,
      responses: serviceAnswers,
      handle: async ({ params, body, caller }) => {
        if (body?.service_id != null && body.service_id !== params.id) {
          throw badInput("service_id", "must match the id in the path");
        }
        const record = await services.registry.heartbeat(params.id, body?.status ?? null, caller);
        return { status: 200, body: toServiceInfo(record) };
      },
    }),
    route({
      method: "PUT",
      path: "/registry/services/{id}/status",
      summary: "Set a status by hand (`?status=` or a JSON body {status})",
      tag: "registry",
      permission: ["registerServices", "changeAnyStatus"],
      params: schemas.idParams,
      query: schemas.statusQuery,
      body: schemas.statusBody,
      bodyOptional: true,
      responses: serviceAnswers,
      handle: async ({ params, query, body, caller }) => {
        const status = body?.status ?? query.status;
        if (!status) throw badInput("status", "is required, in the query string or the body");
        const record = await services.registry.updateStatus(params.id, status, caller);
        return { status: 200, body: toServiceInfo(record) };
      },
    }),
    route({
      method: "GET",
      path: "/discovery/services",
      summary: "List services (ONLINE only unless status or include_offline says otherwise)",
      tag: "discovery",
      permission: ["read"],
      query: schemas.discoveryQuery,
      responses: listAnswers,
      handle: async ({ query }) =>
        listResponse(
          await services.discovery.list(
            {
              type: query.service_type,
              status: seedStatuses(query.status, query.include_offline === "true"),
              capability: query.capability,
              tags: query.tag,
              includeOffline: query.include_offline === "true",
            },
            pageFrom(query.limit, query.cursor, maxPageSize),
          ),
        ),
    }),
    route({
      method: "POST",
      path: "/discovery/services/search",
      summary: "Search services: the list criteria, and any of GraphQL's ServiceWhere",
      tag: "discovery",
      permission: ["read"],
      body: schemas.searchBody,
      bodyOptional: true,
      responses: listAnswers,
      handle: async ({ body }) => {
        const criteria = body ?? {};
        return listResponse(
          await services.discovery.search(
            whereOfSearch(criteria),
            pageFrom(
              criteria.limit == null ? undefined : String(criteria.limit),
              criteria.cursor,
              maxPageSize,
            ),
          ),
        );
      },
    }),
    route({
      method: "GET",
      path: "/discovery/services/type/{type}",
      summary: "Select one instance of a type by a strategy",
      tag: "discovery",
      permission: ["read"],
      params: schemas.typeParams,
      query: schemas.selectionQuery,
      responses: serviceAnswers,
      handle: async ({ params, query }) => {
        const selected = await services.discovery.select(
          params.type,
          query.strategy?.toUpperCase(),
        );
        if (!selected) throw notFound(`No service of type ${params.type} found`);
        return { status: 200, body: toServiceInfo(selected) };
      },
    }),
    route({
      method: "GET",
      path: "/discovery/health/{id}",
      summary: "A service's status, as a JSON string",
      tag: "discovery",
      permission: ["read"],
      params: schemas.idParams,
      responses: {
        200: { description: 'The status, e.g. "ONLINE".', schema: z.string() },
        404: { description: "No such service.", schema: schemas.errorAnswer },
      },
      handle: async ({ params }) => ({ status: 200, body: (await mustGet(params.id)).status }),
    }),
    route({
      method: "POST",
      path: "/workflows/execute",
      summary: "Run a workflow, waiting for its end unless options.wait is false",
      tag: "workflows",
      permission: ["executeWorkflows"],
      body: schemas.workflowBody,
      responses: workflowAnswers,
      handle: ({ body }) => {
        const type = body.workflow_type ?? body.workflowType;
        if (typeof type !== "string") throw badInput("workflow_type", "is required");
        return runWorkflow(type, (body.data ?? null) as JsonValue, body.options, body.workflow_id);
      },
    }),
    route({
      method: "POST",
      path: "/workflows/agent-task-execution",
      summary: "Run AGENT_TASK_EXECUTION with the body as its data",
      tag: "workflows",
      permission: ["executeWorkflows"],
      body: schemas.freeObject,
      responses: workflowAnswers,
      handle: ({ body }) =>
        runWorkflow("AGENT_TASK_EXECUTION", body as JsonObject, objectOrNull(body.options)),
    }),
    route({
      method: "POST",
      path: "/workflows/project-planning",
      summary: "Run PROJECT_PLANNING with the body as its data",
      tag: "workflows",
      permission: ["executeWorkflows"],
      body: schemas.freeObject,
      responses: workflowAnswers,
      handle: ({ body }) =>
        runWorkflow("PROJECT_PLANNING", body as JsonObject, objectOrNull(body.options)),
    }),
    route({
      method: "GET",
      path: "/workflows/executions/{id}",
      summary: "Read one workflow execution",
      tag: "workflows",
      permission: ["read"],
      params: schemas.executionParams,
      responses: {
        200: { description: "The execution.", schema: schemas.workflowAnswer },
        404: { description: "No such execution.", schema: schemas.errorAnswer },
      },
      handle: async ({ params }) => {
        const execution = await services.workflows.get(params.id);
        if (!execution) throw notFound(`Workflow execution ${params.id} not found`);
        return { status: 200, body: toWorkflowResponse(execution) };
      },
    }),
    // The shared client's family (ServiceIntegrationClient): /services and /services/{id}.
    registerRoute(
      "/services",
      "Register a service (the shared client's register_service)",
      "services",
    ),
    route({
      method: "GET",
      path: "/services",
      summary: "List services by page (the shared client's get_services)",
      tag: "services",
      permission: ["read"],
      query: schemas.servicesQuery,
      responses: listAnswers,
      handle: async ({ query }) => {
        const page = query.page === undefined ? 1 : Number(query.page);
        const perPage = query.per_page === undefined ? 20 : Number(query.per_page);
        if (page < 1) throw badInput("page", "must be 1 or more");
        if (perPage < 1 || perPage > maxPageSize) {
          throw badInput("per_page", `must be between 1 and ${maxPageSize}`);
        }
        const filter = {
          type: query.service_type,
          status: seedStatuses(query.status, false),
          capability: query.capability,
        };
        // Page numbers over cursors: each earlier page is walked, by id, to its end.
        let after: string | null = null;
        for (let skipped = 1; skipped < page; skipped++) {
          const earlier = await services.discovery.list(filter, { first: perPage, after });
          if (!earlier.hasNextPage) {
            return listResponse({ ...earlier, nodes: [], hasNextPage: false }, { page, perPage });
          }
          after = earlier.endCursor;
        }
        return listResponse(await services.discovery.list(filter, { first: perPage, after }), {
          page,
          perPage,
        });
      },
    }),
    readRoute("/services/{id}", "Read one service (the shared client's get_service)", "services"),
    route({
      method: "PUT",
      path: "/services/{id}",
      summary: "Change some fields of a service (the shared client's update_service)",
      tag: "services",
      permission: ["registerServices"],
      params: schemas.idParams,
      body: schemas.updateBody,
      responses: {
        ...serviceAnswers,
        422: { description: "Invalid fields.", schema: schemas.errorAnswer },
      },
      handle: async ({ params, body, caller }) => {
        const current = await mustGet(params.id);
        const { status, ...fields } = body;
        let record = await register(
          { ...seedFieldsOf(current), ...fields, service_id: params.id },
          caller,
        );
        if (status !== undefined) {
          record = await services.registry.updateStatus(params.id, status, caller);
        }
        return { status: 200, body: toServiceInfo(record) };
      },
    }),
    unregisterRoute(
      "/services/{id}",
      "Unregister a service (the shared client's deregister_service)",
      "services",
    ),
    route({
      method: "GET",
      path: "/services/{id}/health",
      summary: "A service's health (the shared client's get_service_health)",
      tag: "services",
      permission: ["read"],
      params: schemas.idParams,
      responses: {
        200: { description: "Its status and last probe.", schema: schemas.serviceHealth },
        404: { description: "No such service.", schema: schemas.errorAnswer },
      },
      handle: async ({ params }) => {
        const service = await mustGet(params.id);
        return {
          status: 200,
          body: {
            service_id: service.id,
            status: service.status,
            last_heartbeat: service.lastHeartbeat,
            response_time_ms: service.health?.latencyMs ?? null,
            checked_at: service.health?.checkedAt ?? null,
          },
        };
      },
    }),
    route({
      method: "GET",
      path: "/health",
      summary: "The gateway's own health, as every service of the system answers it",
      tag: "health",
      permission: [],
      responses: {
        200: {
          description: "healthy or unhealthy, always 200, as the system's convention is",
          schema: schemas.healthAnswer,
        },
      },
      handle: async () => {
        const { ready, dependencies } = await services.readiness.check();
        return {
          status: 200,
          body: {
            status: ready ? "healthy" : "unhealthy",
            service: serviceName,
            components: Object.fromEntries(
              dependencies.map((dependency) => [
                dependency.name,
                { ok: dependency.ok, error: dependency.error },
              ]),
            ),
          },
        };
      },
    }),
    ...integrationRoutes(services),
  ];

  const router = createRestRouter(routes);

  async function unregister(id: string, caller: Caller): Promise<RestResponse> {
    const removed = await services.registry.unregister(id, caller);
    if (!removed) throw notFound(`Service ${id} not found`);
    return { status: 204 };
  }

  /**
   * The seed ran workflows inside the request; so do these routes by default, now bounded
   * by the execution's deadline. `options.wait: false` answers 202 at once instead.
   */
  async function runWorkflow(
    workflowType: string,
    data: JsonValue,
    options: Record<string, unknown> | null | undefined,
    id?: string,
  ): Promise<RestResponse> {
    const wait = options?.wait !== false;
    const execution = await services.workflows.execute({
      id: id ?? null,
      workflowType,
      data,
      options: {
        wait,
        timeoutSeconds:
          typeof options?.timeout_seconds === "number" ? options.timeout_seconds : null,
        idempotencyKey:
          typeof options?.idempotency_key === "string" ? options.idempotency_key : null,
      },
    });
    return { status: wait ? 200 : 202, body: toWorkflowResponse(execution) };
  }

  return {
    /** Paths these routes own; the server sends nothing else here. */
    owns(pathname: string): boolean {
      return (
        pathname === "/health" ||
        pathname === "/services" ||
        pathname === "/integrations" ||
        pathname.startsWith("/integrations/") ||
        ["/registry/", "/discovery/", "/workflows/", "/services/"].some((prefix) =>
          pathname.startsWith(prefix),
        )
      );
    },
    /** Whether a request needs no token: the gateway's own /health. */
    isPublic(method: string, pathname: string): boolean {
      return router.find(method, pathname)?.spec.permission.length === 0;
    },
    /** Null when no route matches the path; 405 when the path matches another method. */
    async handle(request: RestRequest): Promise<RestResponse | null> {
      // Before any route reads it: the body came through JSON.parse, which takes any depth.
      if (request.body !== undefined) assertJsonWithin(request.body, "body", PAYLOAD_LIMITS);
      const found = router.find(request.method, request.url.pathname);
      if (!found) {
        if (!decodes(request.url.pathname)) {
          throw new GatewayError("BAD_USER_INPUT", "The path is not valid percent-encoding.", {
            field: "path",
          });
        }
        return router.servesPath(request.url.pathname)
          ? { status: 405, body: { detail: "Method not allowed", code: "METHOD_NOT_ALLOWED" } }
          : null;
      }
      return router.handle(found.spec, found.params, request);
    },

    /**
     * What the audit log records of a request: every route but the reads (GET), as
     * "METHOD /path/{param}", and the ids in its path. Null for a read or no route.
     */
    audited(method: string, url: URL): RestAudit | null {
      if (method === "GET" || method === "HEAD") return null;
      const found = router.find(method, url.pathname);
      if (!found) return null;
      return {
        operation: `${found.spec.method} ${found.spec.path}`,
        targets: Object.values(found.params)
          .filter((value): value is string => value !== undefined)
          .map(decodedOrRaw),
      };
    },

    /** The OpenAPI 3.1 document of these routes. */
    openApi: (version: string) =>
      openApiDocument(routes, {
        title: "Service Integration Gateway: REST API",
        version,
        description:
          "The original service's REST routes and its shared client's, beside the GraphQL API at /graphql.",
      }),
  };
}

export type RestAudit = { operation: string; targets: string[] };

/**
 * The ids an answer names that the request may not have: a registration's id, an
 * execution's. Only these fields are read, never the rest of the answer.
 */
export function answerTargets(answer: RestResponse): string[] {
  const body = answer.body;
  if (body === null || typeof body !== "object") return [];
  const {
    service_id: serviceId,
    id,
    data,
  } = body as { service_id?: unknown; id?: unknown; data?: unknown };
  // An integration answers with its own id.
  const ids: unknown[] = [serviceId, id];
  if (data !== null && typeof data === "object") ids.push((data as { id?: unknown }).id);
  return ids.filter((id): id is string => typeof id === "string");
}

/** A path parameter for the log; one that does not decode is refused by the route itself. */
function decodedOrRaw(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export type RestRoutes = ReturnType<typeof createRestRoutes>;

/** The seed's DataResponse of WorkflowResponseData (execution_time in seconds). */
function toWorkflowResponse(execution: WorkflowExecution) {
  // A started workflow is not a failure: only one that failed or was cancelled is.
  const failed = execution.status === "FAILED" || execution.status === "CANCELLED";
  return {
    success: !failed,
    message: `Workflow ${execution.status.toLowerCase()}`,
    data: {
      id: execution.id,
      workflow_id: execution.id,
      workflow_type: execution.workflowType,
      status: execution.status,
      execution_time: execution.executionTimeMs === null ? null : execution.executionTimeMs / 1000,
      result: execution.result,
      errors: execution.errors,
    },
  };
}

/** The seed's ServiceInfo, snake_case, plus the fields this gateway adds. */
function toServiceInfo(service: ServiceRecord) {
  return {
    service_id: service.id,
    name: service.name,
    type: service.type,
    version: service.version,
    base_url: service.baseUrl,
    health_check_url: service.healthCheckUrl,
    endpoints: service.endpoints.map((endpoint) => ({
      path: endpoint.path,
      method: endpoint.method,
      description: endpoint.description,
      required_permissions: endpoint.requiredPermissions,
    })),
    capabilities: service.capabilities,
    tags: service.tags,
    metadata: service.metadata,
    status: service.status,
    last_heartbeat: service.lastHeartbeat,
    registered_at: service.registeredAt,
    updated_at: service.updatedAt,
    heartbeat_interval_seconds: service.heartbeatIntervalSeconds,
    ttl_seconds: service.ttlSeconds,
    probe_interval_seconds: service.probeIntervalSeconds,
    graphql: service.graphql,
  };
}

function listResponse(
  page: Page<ServiceRecord>,
  numbered?: { page: number; perPage: number },
): RestResponse {
  return {
    status: 200,
    body: {
      success: true,
      message: null,
      items: page.nodes.map(toServiceInfo),
      metadata: {
        total_count: page.totalCount,
        has_next_page: page.hasNextPage,
        next_cursor: page.hasNextPage ? page.endCursor : null,
        ...(numbered ? { page: numbered.page, per_page: numbered.perPage } : {}),
      },
    },
  };
}

function pageFrom(limit: string | undefined, cursor: string | undefined, maxPageSize: number) {
  const first = limit === undefined ? maxPageSize : Number(limit);
  if (!Number.isInteger(first)) throw badInput("limit", "must be a whole number");
  return { first, after: cursor ?? null };
}

/** The seed listed ONLINE services unless asked otherwise; every status with include_offline. */
function seedStatuses(asked: readonly string[] | undefined, includeOffline: boolean) {
  if (asked?.length) return [...asked];
  return includeOffline ? null : SEED_DEFAULT_STATUSES;
}

/** Keys of a search body that are list criteria, not ServiceWhere conditions. */
const SEARCH_PAGING = new Set(["limit", "cursor", "include_offline", "where"]);

/**
 * A search body as one ServiceWhere: its `where` (GraphQL's shape; snake_case keys are
 * read too), and the seed's list criteria and search shortcuts at the top level, all of
 * which must hold. ONLINE only unless it names statuses or asks for offline ones.
 */
function whereOfSearch(body: z.infer<typeof schemas.searchBody>): ServiceWhere {
  const all: ServiceWhere[] = [];
  if (body.where) all.push(camelKeys(body.where) as ServiceWhere);
  if (body.service_type) all.push({ type: { eq: body.service_type } });
  if (body.name) all.push({ name: { eq: body.name } });
  if (body.version) all.push({ version: body.version });
  if (body.capability) all.push({ capabilities: { all: [body.capability] } });
  if (body.tags?.length) all.push({ tags: { all: body.tags } });
  if (body.status?.length) all.push({ status: body.status });
  if (body.heartbeat_within_seconds != null) {
    all.push({ heartbeatWithinSeconds: body.heartbeat_within_seconds });
  }
  const unknown = Object.keys(body).filter(
    (key) => !SEARCH_PAGING.has(key) && !(key in schemas.searchBody.shape),
  );
  if (unknown.length > 0) {
    throw badInput(unknown[0] as string, "is not a search criterion");
  }
  const namesStatus = body.status?.length || (body.where && "status" in body.where);
  if (!namesStatus && body.include_offline !== true) all.push({ status: SEED_DEFAULT_STATUSES });
  return all.length === 1 ? (all[0] as ServiceWhere) : { and: all };
}

/** `starts_with` → `startsWith`, all the way down: a REST body may spell GraphQL's names either way. */
function camelKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [
      key.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase()),
      // A metadata condition's `eq`/`in` values are data, not names.
      key === "eq" || key === "in" ? inner : camelKeys(inner),
    ]),
  );
}

function objectOrNull(value: unknown): Record<string, unknown> | null {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

/** A registration back in the seed's names, for a partial update to start from. */
function seedFieldsOf(service: ServiceRecord): Record<string, unknown> {
  // What the service says of itself, without what the gateway keeps of its state.
  const {
    service_id: _id,
    status: _status,
    last_heartbeat: _heartbeat,
    registered_at: _registered,
    updated_at: _updated,
    ...fields
  } = toServiceInfo(service);
  return fields;
}

/** The registration's field names as the services report them, and as a REST body spells them. */
const REQUEST_NAMES: Record<string, readonly string[]> = {
  id: ["service_id", "id"],
  type: ["type", "service_type"],
  baseUrl: ["base_url", "url"],
  healthCheckUrl: ["health_check_url", "health_url"],
  heartbeatIntervalSeconds: ["heartbeat_interval_seconds"],
  ttlSeconds: ["ttl_seconds"],
  probeIntervalSeconds: ["probe_interval_seconds"],
  requiredPermissions: ["required_permissions"],
};

/**
 * Runs a registration, its errors naming fields as this body spelled them
 * (`base_url`, or `url` when it said `url`) rather than as GraphQL does (`input.baseUrl`).
 */
async function withRequestFieldNames<T>(
  body: Record<string, unknown>,
  register: () => Promise<T>,
): Promise<T> {
  try {
    return await register();
  } catch (error) {
    if (!isGatewayError(error) || typeof error.details.field !== "string") throw error;
    const field = requestFieldName(error.details.field, body);
    if (field === error.details.field) throw error;
    const message = error.message.startsWith(`${error.details.field}:`)
      ? `${field}:${error.message.slice(error.details.field.length + 1)}`
      : error.message;
    throw new GatewayError(error.code, message, { ...error.details, field });
  }
}

function requestFieldName(field: string, body: Record<string, unknown>): string {
  const parts = field.replace(/^input\./, "").split(".");
  return parts
    .map((part, i) => {
      const names = REQUEST_NAMES[part];
      if (!names) return part;
      // At the top level, the name the body used; inside (endpoints), the seed's.
      return i === 0 ? (names.find((name) => name in body) ?? names[0]) : names[0];
    })
    .join(".");
}

/**
 * Accepts the seed's field names and the aliases its shared client used
 * (`service_type`, `url`, `health_url`), so existing callers need no change.
 */
function registrationFromBody(body: Record<string, unknown>): Record<string, unknown> {
  const endpoints = body.endpoints;
  return {
    id: body.service_id ?? body.id,
    name: body.name,
    type: body.type ?? body.service_type,
    version: body.version ?? "0.0.0",
    baseUrl: body.base_url ?? body.url,
    healthCheckUrl: body.health_check_url ?? body.health_url,
    endpoints: Array.isArray(endpoints)
      ? endpoints.map((endpoint) => {
          const e = objectBody(endpoint);
          return {
            path: e.path,
            method: e.method,
            description: e.description,
            requiredPermissions: e.required_permissions,
          };
        })
      : endpoints,
    capabilities: body.capabilities,
    tags: body.tags,
    // The shared client's description has no field of its own: it is kept in metadata.
    metadata:
      typeof body.description === "string"
        ? { ...objectOrNull(body.metadata), description: body.description }
        : body.metadata,
    heartbeatIntervalSeconds: body.heartbeat_interval_seconds,
    ttlSeconds: body.ttl_seconds,
    probeIntervalSeconds: body.probe_interval_seconds,
    // The same names as in GraphQL: { path, kind }, both optional.
    graphql: body.graphql,
  };
}

function decodes(pathname: string): boolean {
  try {
    decodeURIComponent(pathname);
    return true;
  } catch {
    return false;
  }
}

function objectBody(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new GatewayError("BAD_USER_INPUT", "The body must be a JSON object.", { field: "body" });
  }
  return value as Record<string, unknown>;
}

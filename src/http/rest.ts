import type { IncomingMessage } from "node:http";
import type { Caller, Permission } from "../domain/access.js";
import { badInput, GatewayError, notFound } from "../domain/errors.js";
import type { JsonObject, JsonValue } from "../domain/json.js";
import type { ServiceRecord } from "../domain/service.js";
import type { WorkflowExecution } from "../domain/workflow.js";
import { assertPermitted } from "../services/caller.js";
import type { Services } from "../services/index.js";
import { assertJsonWithin, PAYLOAD_LIMITS } from "../services/json-input.js";
import type { Page } from "../services/pagination.js";

/**
 * The seed service's REST API, kept for existing callers: thin adapters over the same
 * facade as GraphQL, with its snake_case JSON and status codes.
 */

export type RestRequest = {
  method: string;
  url: URL;
  /** Authenticated already (tokens mode), or anonymous in open mode. */
  caller: Caller;
  headers: IncomingMessage["headers"];
  /** Parsed JSON body; undefined when there was none. */
  body: unknown;
};
export type RestResponse = { status: number; body?: unknown };

type Route = {
  method: string;
  /** The pattern as people write it, `{id}` for a parameter: the audit log's operation. */
  path: string;
  pattern: RegExp;
  /** What the caller needs (any of), as the GraphQL field that does the same. */
  permission: readonly Permission[];
  handle: (request: RestRequest, params: string[]) => Promise<RestResponse>;
};

export type RestOptions = { services: Services; maxPageSize: number };

export function createRestRoutes({ services, maxPageSize }: RestOptions) {
  const caller = (request: RestRequest) => request.caller;

  const routes: Route[] = [
    {
      method: "POST",
      path: "/registry/services",
      pattern: /^\/registry\/services\/?$/,
      permission: ["registerServices"],
      handle: async (request) => ({
        status: 201,
        body: toServiceInfo(
          await services.registry.register(registrationFromBody(request.body), caller(request)),
        ),
      }),
    },
    {
      method: "GET",
      path: "/registry/services/{id}",
      pattern: /^\/registry\/services\/([^/]+)$/,
      permission: ["read"],
      handle: async (_request, [id]) => ({ status: 200, body: toServiceInfo(await mustGet(id)) }),
    },
    {
      method: "DELETE",
      path: "/registry/services/{id}",
      pattern: /^\/registry\/services\/([^/]+)$/,
      permission: ["registerServices"],
      handle: async (request, [id]) => {
        const removed = await services.registry.unregister(id as string, caller(request));
        if (!removed) throw notFound(`Service ${id} not found`);
        return { status: 204 };
      },
    },
    {
      method: "POST",
      path: "/registry/services/{id}/heartbeat",
      pattern: /^\/registry\/services\/([^/]+)\/heartbeat$/,
      permission: ["registerServices"],
      handle: async (request, [id]) => {
        const body = objectBody(request.body ?? {});
        if (body.service_id != null && body.service_id !== id) {
          throw badInput("service_id", "must match the id in the path");
        }
        const status = body.status == null ? null : String(body.status);
        const record = await services.registry.heartbeat(id as string, status, caller(request));
        return { status: 200, body: toServiceInfo(record) };
      },
    },
    {
      method: "PUT",
      path: "/registry/services/{id}/status",
      pattern: /^\/registry\/services\/([^/]+)\/status$/,
      permission: ["registerServices", "changeAnyStatus"],
      handle: async (request, [id]) => {
        const status = request.url.searchParams.get("status");
        if (!status) throw badInput("status", "query parameter is required");
        const record = await services.registry.updateStatus(id as string, status, caller(request));
        return { status: 200, body: toServiceInfo(record) };
      },
    },
    {
      method: "GET",
      path: "/discovery/services",
      pattern: /^\/discovery\/services\/?$/,
      permission: ["read"],
      handle: async (request) => {
        const query = request.url.searchParams;
        return listResponse(
          await services.discovery.list(
            {
              type: query.get("service_type"),
              status: query.getAll("status"),
              capability: query.get("capability"),
              tags: query.getAll("tag"),
              includeOffline: query.get("include_offline") === "true",
            },
            pageFrom(query.get("limit"), query.get("cursor"), maxPageSize),
          ),
        );
      },
    },
    {
      method: "POST",
      path: "/discovery/services/search",
      pattern: /^\/discovery\/services\/search$/,
      permission: ["read"],
      handle: async (request) => {
        const body = objectBody(request.body ?? {});
        return listResponse(
          await services.discovery.list(
            {
              type: optionalString(body.service_type, "service_type"),
              status: optionalStrings(body.status, "status"),
              capability: optionalString(body.capability, "capability"),
              tags: optionalStrings(body.tags, "tags"),
              includeOffline: body.include_offline === true,
            },
            pageFrom(
              body.limit == null ? null : String(body.limit),
              optionalString(body.cursor, "cursor"),
              maxPageSize,
            ),
          ),
        );
      },
    },
    {
      method: "GET",
      path: "/discovery/services/type/{type}",
      pattern: /^\/discovery\/services\/type\/([^/]+)$/,
      permission: ["read"],
      handle: async (request, [type]) => {
        const strategy = request.url.searchParams.get("strategy")?.toUpperCase();
        const selected = await services.discovery.select(type as string, strategy);
        if (!selected) throw notFound(`No service of type ${type} found`);
        return { status: 200, body: toServiceInfo(selected) };
      },
    },
    {
      method: "GET",
      path: "/discovery/health/{id}",
      pattern: /^\/discovery\/health\/([^/]+)$/,
      permission: ["read"],
      handle: async (_request, [id]) => ({ status: 200, body: (await mustGet(id)).status }),
    },
    {
      method: "POST",
      path: "/workflows/execute",
      pattern: /^\/workflows\/execute\/?$/,
      permission: ["executeWorkflows"],
      handle: (request) => {
        const body = jsonObjectBody(request.body);
        const type = body.workflow_type ?? body.workflowType;
        if (typeof type !== "string") throw badInput("workflow_type", "is required");
        return runWorkflow(type, body.data ?? null, body, body.workflow_id);
      },
    },
    {
      method: "POST",
      path: "/workflows/agent-task-execution",
      pattern: /^\/workflows\/agent-task-execution\/?$/,
      permission: ["executeWorkflows"],
      handle: (request) =>
        runWorkflow(
          "AGENT_TASK_EXECUTION",
          jsonObjectBody(request.body),
          jsonObjectBody(request.body),
        ),
    },
    {
      method: "POST",
      path: "/workflows/project-planning",
      pattern: /^\/workflows\/project-planning\/?$/,
      permission: ["executeWorkflows"],
      handle: (request) =>
        runWorkflow("PROJECT_PLANNING", jsonObjectBody(request.body), jsonObjectBody(request.body)),
    },
    {
      method: "GET",
      path: "/workflows/executions/{id}",
      pattern: /^\/workflows\/executions\/([^/]+)$/,
      permission: ["read"],
      handle: async (_request, [id]) => {
        const execution = await services.workflows.get(id as string);
        if (!execution) throw notFound(`Workflow execution ${id} not found`);
        return { status: 200, body: toWorkflowResponse(execution) };
      },
    },
  ];

  /**
   * The seed ran workflows inside the request; so do these routes by default, now bounded
   * by the execution's deadline. `options.wait: false` answers 202 at once instead.
   */
  async function runWorkflow(
    workflowType: string,
    data: JsonValue,
    body: JsonObject,
    id?: JsonValue,
  ): Promise<RestResponse> {
    const options =
      body.options !== null && typeof body.options === "object" && !Array.isArray(body.options)
        ? body.options
        : {};
    const wait = options.wait !== false;
    const execution = await services.workflows.execute({
      id: typeof id === "string" ? id : null,
      workflowType,
      data,
      options: {
        wait,
        timeoutSeconds:
          typeof options.timeout_seconds === "number" ? options.timeout_seconds : null,
        idempotencyKey:
          typeof options.idempotency_key === "string" ? options.idempotency_key : null,
      },
    });
    return { status: wait ? 200 : 202, body: toWorkflowResponse(execution) };
  }

  async function mustGet(id: string | undefined): Promise<ServiceRecord> {
    const found = await services.discovery.get(id as string);
    if (!found) throw notFound(`Service ${id} not found`);
    return found;
  }

  /** The route that serves this method and path, with its raw parameters. */
  function routeOf(method: string, pathname: string): { route: Route; params: string[] } | null {
    for (const route of routes) {
      if (route.method !== method) continue;
      const match = route.pattern.exec(pathname);
      if (match) return { route, params: match.slice(1) };
    }
    return null;
  }

  return {
    /** The prefixes these routes own; the server sends nothing else here. */
    prefixes: ["/registry/", "/discovery/", "/workflows/"],
    /** Null when no route matches the path; 405 when the path matches another method. */
    async handle(request: RestRequest): Promise<RestResponse | null> {
      // Before any route reads it: the body came through JSON.parse, which takes any depth.
      if (request.body !== undefined) assertJsonWithin(request.body, "body", PAYLOAD_LIMITS);
      let pathMatched = false;
      for (const route of routes) {
        const match = route.pattern.exec(request.url.pathname);
        if (!match) continue;
        pathMatched = true;
        if (route.method !== request.method) continue;
        assertPermitted(request.caller, route.permission);
        const params = match.slice(1).map(decodePathSegment);
        return route.handle(request, params);
      }
      return pathMatched ? { status: 405, body: { detail: "Method not allowed" } } : null;
    },

    /**
     * What the audit log records of a request: every route but the reads (GET), as
     * "METHOD /path/{param}", and the ids in its path. Null for a read or no route.
     */
    audited(method: string, url: URL): RestAudit | null {
      if (method === "GET" || method === "HEAD") return null;
      const found = routeOf(method, url.pathname);
      if (!found) return null;
      return {
        operation: `${found.route.method} ${found.route.path}`,
        targets: found.params.map(decodedOrRaw),
      };
    },
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
  const { service_id: serviceId, data } = body as { service_id?: unknown; data?: unknown };
  const ids: unknown[] = [serviceId];
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

/** A parsed JSON body that must be an object. */
function jsonObjectBody(body: unknown): JsonObject {
  return objectBody(body) as JsonObject;
}

/** The seed's DataResponse of WorkflowResponseData (execution_time in seconds). */
function toWorkflowResponse(execution: WorkflowExecution) {
  const ended = execution.status === "COMPLETED";
  return {
    success: ended,
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

function listResponse(page: Page<ServiceRecord>): RestResponse {
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
      },
    },
  };
}

function pageFrom(limit: string | null, cursor: string | null, maxPageSize: number) {
  const first = limit === null ? maxPageSize : Number(limit);
  if (!Number.isInteger(first)) throw badInput("limit", "must be a whole number");
  return { first, after: cursor };
}

/**
 * Accepts the seed's field names and the aliases its shared client used
 * (`service_type`, `url`, `health_url`), so existing callers need no change.
 */
function registrationFromBody(raw: unknown): Record<string, unknown> {
  const body = objectBody(raw);
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
    metadata: body.metadata,
    heartbeatIntervalSeconds: body.heartbeat_interval_seconds,
    ttlSeconds: body.ttl_seconds,
    probeIntervalSeconds: body.probe_interval_seconds,
    // The same names as in GraphQL: { path, kind }, both optional.
    graphql: body.graphql,
  };
}

function objectBody(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new GatewayError("BAD_USER_INPUT", "The body must be a JSON object.", { field: "body" });
  }
  return value as Record<string, unknown>;
}

function optionalString(value: unknown, field: string): string | null {
  if (value == null) return null;
  if (typeof value !== "string") throw badInput(field, "must be a string");
  return value;
}

function optionalStrings(value: unknown, field: string): string[] | null {
  if (value == null) return null;
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
    throw badInput(field, "must be a list of strings");
  }
  return value as string[];
}

function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badInput("path", `"${segment}" is not a valid percent-encoded path segment`);
  }
}

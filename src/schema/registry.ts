import { type CircuitBreakerSnapshot, circuitStates } from "../domain/breaker.js";
import { DEFAULT_GRAPHQL_PATH, type GraphQLApi } from "../domain/federation.js";
import type {
  HealthCheck,
  ServiceEndpoint,
  ServiceRecord,
  StatusChange,
} from "../domain/service.js";
import { HEALTH_CHECKS_KEPT, serviceStatuses } from "../domain/service.js";
import { builder } from "./builder.js";
import { perItem } from "./cost.js";

export const ServiceStatusEnum = builder.enumType("ServiceStatus", { values: serviceStatuses });
export const CircuitStateEnum = builder.enumType("CircuitState", { values: circuitStates });

export const GraphQLApiKindEnum = builder.enumType("GraphQLApiKind", {
  description: "How the gateway reads the schema of a declared GraphQL API.",
  values: {
    FEDERATION: {
      description: "A Federation v1 or v2 subgraph; its SDL is read from `{ _service { sdl } }`.",
    },
    PLAIN: {
      description:
        "Any GraphQL API; its SDL is printed from introspection. It owns its root fields and shares no entity by key.",
    },
  } as const,
});

const GraphQLApiRef = builder.objectRef<GraphQLApi>("GraphQLApi").implement({
  description: "Where a service instance serves GraphQL, for the federated graph.",
  fields: (t) => ({
    path: t.exposeString("path", { description: "A path on baseUrl, starting with /." }),
    kind: t.expose("kind", { type: GraphQLApiKindEnum }),
  }),
});

const ServiceEndpointRef = builder.objectRef<ServiceEndpoint>("ServiceEndpoint").implement({
  fields: (t) => ({
    path: t.exposeString("path"),
    method: t.exposeString("method"),
    description: t.exposeString("description"),
    requiredPermissions: t.exposeStringList("requiredPermissions"),
  }),
});

export const HealthCheckRef = builder.objectRef<HealthCheck>("HealthCheck").implement({
  description: "The result of one active probe of a service's healthCheckUrl.",
  fields: (t) => ({
    serviceId: t.exposeID("serviceId"),
    status: t.expose("status", { type: ServiceStatusEnum }),
    reachable: t.exposeBoolean("reachable"),
    httpStatus: t.exposeInt("httpStatus", { nullable: true }),
    latencyMs: t.exposeFloat("latencyMs", { nullable: true }),
    checkedAt: t.expose("checkedAt", { type: "DateTime" }),
    error: t.exposeString("error", { nullable: true }),
    body: t.expose("body", { type: "JSON", nullable: true }),
  }),
});

export const CircuitBreakerRef = builder
  .objectRef<CircuitBreakerSnapshot>("CircuitBreaker")
  .implement({
    fields: (t) => ({
      serviceId: t.exposeID("serviceId"),
      state: t.expose("state", { type: CircuitStateEnum }),
      failureCount: t.exposeInt("failureCount"),
      consecutiveFailures: t.exposeInt("consecutiveFailures"),
      lastFailureAt: t.expose("lastFailureAt", { type: "DateTime", nullable: true }),
      lastStateChangeAt: t.expose("lastStateChangeAt", { type: "DateTime", nullable: true }),
      failureThreshold: t.exposeInt("failureThreshold"),
      resetTimeoutMs: t.exposeInt("resetTimeoutMs"),
      halfOpenMaxCalls: t.exposeInt("halfOpenMaxCalls"),
    }),
  });

export const ServiceStatusEventRef = builder.objectRef<StatusChange>("ServiceStatusEvent");

export const ServiceRef = builder.objectRef<ServiceRecord>("Service").implement({
  description: "A registered service instance.",
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    type: t.exposeString("type", { description: "UPPER_SNAKE, e.g. PLANNING_SYSTEM." }),
    version: t.exposeString("version"),
    baseUrl: t.exposeString("baseUrl"),
    healthCheckUrl: t.exposeString("healthCheckUrl"),
    endpoints: t.field({ type: [ServiceEndpointRef], resolve: (s) => s.endpoints }),
    capabilities: t.exposeStringList("capabilities"),
    tags: t.exposeStringList("tags"),
    metadata: t.expose("metadata", { type: "JSON" }),
    status: t.expose("status", { type: ServiceStatusEnum }),
    lastHeartbeat: t.expose("lastHeartbeat", { type: "DateTime" }),
    registeredAt: t.expose("registeredAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    heartbeatIntervalSeconds: t.exposeInt("heartbeatIntervalSeconds"),
    ttlSeconds: t.exposeInt("ttlSeconds"),
    probeIntervalSeconds: t.exposeInt("probeIntervalSeconds", {
      nullable: true,
      description: "Own probe period; null uses the gateway's default.",
    }),
    graphql: t.field({
      type: GraphQLApiRef,
      nullable: true,
      description: "The GraphQL API this instance serves; null when it serves none.",
      resolve: (s) => s.graphql,
    }),
    health: t.field({
      type: HealthCheckRef,
      nullable: true,
      description: "The last active probe; null before the first one.",
      resolve: (s) => s.health,
    }),
    recentHealthChecks: t.field({
      type: [HealthCheckRef],
      description: `The last active probes, newest first: up to ${HEALTH_CHECKS_KEPT} kept per service in the live store, each without its body (Service.health keeps the last one's).`,
      args: { first: t.arg.int({ defaultValue: 10 }) },
      complexity: ({ first }) => perItem(first, 10),
      resolve: (s, { first }, ctx) => ctx.services.registry.recentHealthChecks(s.id, first),
    }),
    circuitBreaker: t.field({
      type: CircuitBreakerRef,
      resolve: (s, _args, ctx) => ctx.services.breakers.forService(s.id),
    }),
    statusHistory: t.field({
      type: [ServiceStatusEventRef],
      // Nullable: a database outage should cost this field, not the list it sits in.
      nullable: true,
      description: "Status transitions, newest first; null when the database is unavailable.",
      args: { first: t.arg.int({ defaultValue: 50 }) },
      complexity: ({ first }) => perItem(first, 50),
      resolve: (s, { first }, ctx) => ctx.services.registry.history(s.id, { first }),
    }),
  }),
});

ServiceStatusEventRef.implement({
  description: "One status transition; `service` is the service as it was at that moment.",
  fields: (t) => ({
    service: t.field({ type: ServiceRef, resolve: (event) => event.service }),
    previousStatus: t.expose("previousStatus", { type: ServiceStatusEnum, nullable: true }),
    status: t.expose("status", { type: ServiceStatusEnum }),
    reason: t.exposeString("reason"),
    at: t.expose("at", { type: "DateTime" }),
  }),
});

const ServiceEndpointInput = builder.inputType("ServiceEndpointInput", {
  fields: (t) => ({
    path: t.string({ required: true }),
    method: t.string({ required: true }),
    description: t.string(),
    requiredPermissions: t.stringList(),
  }),
});

const GraphQLApiInput = builder.inputType("GraphQLApiInput", {
  fields: (t) => ({
    path: t.string({
      description: `A path on baseUrl: starts with /, no whitespace, query or fragment. Default ${DEFAULT_GRAPHQL_PATH}.`,
    }),
    kind: t.field({ type: GraphQLApiKindEnum, description: "Default FEDERATION." }),
  }),
});

const RegisterServiceInput = builder.inputType("RegisterServiceInput", {
  fields: (t) => ({
    id: t.id({ description: "Optional; a UUID is generated when absent." }),
    name: t.string({ required: true }),
    type: t.string({
      required: true,
      description: 'Normalised to UPPER_SNAKE: "planning_system" becomes PLANNING_SYSTEM.',
    }),
    version: t.string({ required: true }),
    baseUrl: t.string({ required: true, description: "Absolute http(s) URL." }),
    healthCheckUrl: t.string({
      description: "Absolute URL or a path on baseUrl. Default: baseUrl + /health.",
    }),
    endpoints: t.field({ type: [ServiceEndpointInput] }),
    capabilities: t.stringList(),
    tags: t.stringList(),
    metadata: t.field({ type: "JSON", description: "A JSON object of at most 16 KiB." }),
    heartbeatIntervalSeconds: t.int({ description: "Default 30." }),
    ttlSeconds: t.int({ description: "OFFLINE after this long without a heartbeat. Default 90." }),
    probeIntervalSeconds: t.int({
      description: "How often to probe healthCheckUrl; default PROBE_INTERVAL_SECONDS.",
    }),
    graphql: t.field({
      type: GraphQLApiInput,
      description:
        "The GraphQL API this instance serves, to join the federated graph. Absent: none, also when re-registering.",
    }),
  }),
});

builder.mutationType({
  fields: (t) => ({
    registerService: t.field({
      type: ServiceRef,
      authScopes: { registerServices: true },
      description: "Registers a service, or updates it when the id exists (upsert).",
      args: { input: t.arg({ type: RegisterServiceInput, required: true }) },
      resolve: (_root, { input }, ctx) => ctx.services.registry.register(input, ctx.caller),
    }),
    unregisterService: t.boolean({
      authScopes: { registerServices: true },
      description: "False when the id was not registered.",
      args: { id: t.arg.id({ required: true }) },
      resolve: (_root, { id }, ctx) => ctx.services.registry.unregister(String(id), ctx.caller),
    }),
    heartbeat: t.field({
      type: ServiceRef,
      authScopes: { registerServices: true },
      description: "Refreshes lastHeartbeat; an OFFLINE service comes back ONLINE.",
      args: {
        id: t.arg.id({ required: true }),
        status: t.arg({ type: ServiceStatusEnum }),
      },
      resolve: (_root, { id, status }, ctx) =>
        ctx.services.registry.heartbeat(String(id), status ?? null, ctx.caller),
    }),
    updateServiceStatus: t.field({
      type: ServiceRef,
      // Its own services for a service token; any service for an operator.
      authScopes: { registerServices: true, changeAnyStatus: true },
      description: "Sets a status by hand; MAINTENANCE is never overridden by probes or expiry.",
      args: {
        id: t.arg.id({ required: true }),
        status: t.arg({ type: ServiceStatusEnum, required: true }),
      },
      resolve: (_root, { id, status }, ctx) =>
        ctx.services.registry.updateStatus(String(id), status, ctx.caller),
    }),
  }),
});

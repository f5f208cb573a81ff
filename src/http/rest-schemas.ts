import { z } from "zod";
import { serviceStatuses } from "../domain/service.js";

// The seed's REST shapes, as zod: what the routes accept (checked here for shape; the
// services check meaning, as for GraphQL) and what they answer (for /openapi.json).

const status = z.string().describe(`One of ${serviceStatuses.join(", ")}, in any case.`);

const endpoint = z.object({
  path: z.string(),
  method: z.string(),
  description: z.string().optional(),
  required_permissions: z.array(z.string()).optional(),
});

const graphqlApi = z
  .object({
    path: z.string().optional().describe("Relative to base_url; default /graphql."),
    kind: z.string().optional().describe("FEDERATION (default) or PLAIN."),
  })
  .describe("The GraphQL API this instance serves, for the federated graph.");

/** POST /registry/services, with the aliases the shared client used. */
export const registrationBody = z
  .object({
    service_id: z.string().optional().describe("Generated (a UUID) when absent; `id` too."),
    name: z.string(),
    type: z.string().optional().describe("Or `service_type`; any case and separator."),
    service_type: z.string().optional(),
    version: z.string().optional().describe('Default "0.0.0".'),
    base_url: z.string().optional().describe("Or `url`."),
    url: z.string().optional(),
    health_check_url: z
      .string()
      .optional()
      .describe("Or `health_url`; absolute, or a path under base_url; default base_url + /health."),
    health_url: z.string().optional(),
    description: z.string().optional().describe("Kept in metadata.description."),
    endpoints: z.array(endpoint).optional(),
    capabilities: z.array(z.string()).optional(),
    tags: z.array(z.string()).optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    heartbeat_interval_seconds: z.number().optional(),
    ttl_seconds: z.number().optional(),
    probe_interval_seconds: z.number().nullable().optional(),
    graphql: graphqlApi.optional(),
  })
  .passthrough();

/** PUT /services/{id}: the shared client's partial update. */
export const updateBody = registrationBody
  .partial()
  .extend({ status: status.optional() })
  .passthrough();

export const heartbeatBody = z.object({
  service_id: z.string().optional().describe("Must match the path when given."),
  status: status.optional(),
});

export const statusBody = z.object({ status: status.optional() });
export const statusQuery = z.object({ status: status.optional() });

export const idParams = z.object({ id: z.string().describe("The service id.") });
export const typeParams = z.object({ type: z.string().describe("The service type, any case.") });
export const executionParams = z.object({ id: z.string().describe("The execution id.") });

export const discoveryQuery = z.object({
  service_type: z.string().optional(),
  status: z.array(status).optional().describe("Default ONLINE only; repeat for several."),
  capability: z.string().optional(),
  tag: z.array(z.string()).optional().describe("Every one of these; repeat for several."),
  include_offline: z.enum(["true", "false"]).optional().describe("Every status, when true."),
  limit: z.string().regex(/^\d+$/, "must be a whole number").optional(),
  cursor: z.string().optional(),
});

/** GET /services: the shared client's page numbers. */
export const servicesQuery = z.object({
  service_type: z.string().optional(),
  status: z.array(status).optional().describe("Default ONLINE only."),
  capability: z.string().optional(),
  page: z.string().regex(/^\d+$/, "must be a whole number").optional().describe("From 1."),
  per_page: z.string().regex(/^\d+$/, "must be a whole number").optional(),
});

export const selectionQuery = z.object({
  strategy: z.string().optional().describe("ROUND_ROBIN, RANDOM, LEAST_LATENCY or WEIGHTED."),
});

/**
 * POST /discovery/services/search: the list criteria, and any search criteria (the
 * GraphQL `ServiceWhere`) under `where` or at the top level.
 */
export const searchBody = z
  .object({
    service_type: z.string().optional(),
    status: z.array(status).optional(),
    capability: z.string().optional(),
    tags: z.array(z.string()).optional(),
    include_offline: z.boolean().optional(),
    version: z.string().optional().describe('A semver range: "^2.0.0".'),
    name: z.string().optional(),
    heartbeat_within_seconds: z.number().optional(),
    where: z
      .record(z.string(), z.unknown())
      .optional()
      .describe("GraphQL's ServiceWhere: type, name, status, tags, version, metadata, and/or/not."),
    limit: z.number().int().optional(),
    cursor: z.string().optional(),
  })
  .passthrough();

export const workflowBody = z
  .object({
    workflow_type: z.string().optional().describe("Required here (or workflowType)."),
    workflowType: z.string().optional(),
    workflow_id: z.string().optional(),
    data: z.unknown().optional(),
    options: z
      .object({
        wait: z.boolean().optional().describe("false: answer 202 at once; default true."),
        timeout_seconds: z.number().optional(),
        idempotency_key: z.string().optional(),
      })
      .passthrough()
      .optional(),
  })
  .passthrough();

export const freeObject = z.record(z.string(), z.unknown());

// --- answers ---------------------------------------------------------------------------

export const serviceInfo = z.object({
  service_id: z.string(),
  name: z.string(),
  type: z.string(),
  version: z.string(),
  base_url: z.string(),
  health_check_url: z.string(),
  endpoints: z.array(
    z.object({
      path: z.string(),
      method: z.string(),
      description: z.string(),
      required_permissions: z.array(z.string()),
    }),
  ),
  capabilities: z.array(z.string()),
  tags: z.array(z.string()),
  metadata: z.record(z.string(), z.unknown()),
  status: z.enum(serviceStatuses),
  last_heartbeat: z.string(),
  registered_at: z.string(),
  updated_at: z.string(),
  heartbeat_interval_seconds: z.number(),
  ttl_seconds: z.number(),
  probe_interval_seconds: z.number().nullable(),
  graphql: z.object({ path: z.string(), kind: z.string() }).nullable(),
});

export const serviceList = z.object({
  success: z.boolean(),
  message: z.string().nullable(),
  items: z.array(serviceInfo),
  metadata: z.object({
    total_count: z.number(),
    has_next_page: z.boolean(),
    next_cursor: z.string().nullable(),
    page: z.number().optional(),
    per_page: z.number().optional(),
  }),
});

export const serviceHealth = z.object({
  service_id: z.string(),
  status: z.enum(serviceStatuses),
  last_heartbeat: z.string(),
  response_time_ms: z.number().nullable(),
  checked_at: z.string().nullable(),
});

export const workflowAnswer = z.object({
  success: z.boolean(),
  message: z.string(),
  data: z.object({
    id: z.string(),
    workflow_id: z.string(),
    workflow_type: z.string(),
    status: z.string(),
    execution_time: z.number().nullable(),
    result: z.unknown(),
    errors: z.array(z.string()),
  }),
});

export const errorAnswer = z.object({
  detail: z.string(),
  message: z.string().describe("The same text: the shared client reads `message`."),
  code: z.string(),
  field: z.string().optional(),
});

export const healthAnswer = z.object({
  status: z.enum(["healthy", "unhealthy"]),
  service: z.string(),
  components: z.record(z.string(), z.object({ ok: z.boolean(), error: z.string().nullable() })),
});

import { z } from "zod";
import type { AddressPolicy, HostRefusal } from "../clients/address-guard.js";
import { badInput } from "../domain/errors.js";
import { DEFAULT_GRAPHQL_PATH, graphqlApiKinds } from "../domain/federation.js";
import type { JsonObject } from "../domain/json.js";
import { httpMethods, normalizeServiceType, type ServiceEndpoint } from "../domain/service.js";
import type { JsonLimits } from "../lib/json-bounds.js";
import { anyCaseEnum, parseInput } from "../lib/zod-input.js";
import { assertJsonWithin, MAX_JSON_DEPTH } from "./json-input.js";

/** Largest accepted `metadata`, serialised as JSON. */
const MAX_METADATA_BYTES = 16 * 1024;

/**
 * A service id: it is a REST path segment and a Redis key part. Starting with a letter or
 * digit rules out "." and "..", which URL normalisation turns into other paths (a service
 * registered as ".." could never be read or removed over REST).
 */
const SERVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

const trimmed = (max: number) => z.string().trim().min(1, "must not be empty").max(max);

/** Why a string is not a usable service URL, or null when it is one. */
function urlProblem(
  value: string,
  policy: Pick<AddressPolicy, "forbiddenHost">,
  notAnHttpUrl = "must be an absolute http(s) URL",
): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return notAnHttpUrl;
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") {
    return notAnHttpUrl;
  }
  // The gateway calls url.origin, so credentials would never reach the service; they
  // would only sit in the registry, shown to everyone who may read it.
  if (url.username !== "" || url.password !== "") {
    return "must not contain credentials (user:password@): a registered URL is stored and shown to every reader of the registry";
  }
  const refusal = policy.forbiddenHost(url.hostname);
  return refusal ? refusalProblem(refusal) : null;
}

function refusalProblem(refusal: HostRefusal): string {
  switch (refusal.rule) {
    case "link-local":
      return `must not be link-local (${refusal.host}): the gateway never calls those`;
    case "not-allowed":
      return `must be a host in ALLOWED_SERVICE_HOSTS (${refusal.host} is not): the gateway calls no other`;
  }
}

const label = trimmed(100).regex(/^[^\s,]+$/, "must not contain spaces or commas");

const uniqueLabels = z
  .array(label)
  .max(100, "accepts at most 100 entries")
  .transform((values) => [...new Set(values)]);

const endpointSchema = z.object({
  path: trimmed(512).startsWith("/", "must start with /"),
  method: anyCaseEnum(httpMethods),
  description: z.string().max(1000).default(""),
  requiredPermissions: z.array(trimmed(200)).max(50).default([]),
});

/**
 * The GraphQL API an instance declares. GraphQL sends an omitted field of an input object
 * as absent but lets a client send null; either means "the default". The path is joined to
 * baseUrl as it is, so a query or fragment in it would change what is fetched.
 */
const graphqlApiSchema = z.object({
  path: trimmed(512)
    .startsWith("/", "must start with /")
    .regex(/^\S+$/, "must not contain whitespace")
    .regex(/^[^?#]+$/, "must be a path alone, without a query (?) or fragment (#)")
    .nullish()
    .transform((path) => path ?? DEFAULT_GRAPHQL_PATH),
  kind: anyCaseEnum(graphqlApiKinds)
    .nullish()
    .transform((kind) => kind ?? "FEDERATION"),
});

/** Bounds of `metadata`: checked in parseRegistration, before anything serialises it. */
const METADATA_LIMITS: JsonLimits = {
  maxDepth: MAX_JSON_DEPTH,
  maxBytes: MAX_METADATA_BYTES,
};

// Metadata arrives parsed from JSON (GraphQL's JSON scalar or a REST body), so its values
// are JSON already and its bounds are checked before zod runs; the shape is all that is left.
const metadataSchema = z.custom<JsonObject>(
  (value) => value !== null && typeof value === "object" && !Array.isArray(value),
  "must be a JSON object",
);

/** The schema of a registration, its URLs checked against the gateway's address policy. */
function registrationSchemaFor(policy: Pick<AddressPolicy, "forbiddenHost">) {
  const httpUrl = z
    .string()
    .trim()
    .max(2048)
    .superRefine((value, ctx) => {
      const problem = urlProblem(value, policy);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    });

  return z
    .object({
      id: z
        .string()
        .trim()
        .regex(
          SERVICE_ID,
          "must be 1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit",
        )
        .optional(),
      name: trimmed(200),
      type: z
        .string()
        .transform(normalizeServiceType)
        .pipe(
          z
            .string()
            .min(1, "must contain a letter or digit")
            .max(100)
            .regex(/^[A-Z0-9_]+$/),
        ),
      version: trimmed(64).regex(/^\S+$/, "must not contain spaces"),
      baseUrl: httpUrl.transform((url) => url.replace(/\/+$/, "")),
      /** Absolute URL, or a path resolved against baseUrl; default baseUrl + "/health". */
      healthCheckUrl: z.string().trim().min(1).max(2048).optional(),
      endpoints: z.array(endpointSchema).max(200, "accepts at most 200 endpoints").default([]),
      capabilities: uniqueLabels.default([]),
      tags: uniqueLabels.default([]),
      metadata: metadataSchema.default({}),
      heartbeatIntervalSeconds: z.number().int().min(1).max(3600).default(30),
      ttlSeconds: z.number().int().min(1).max(86_400).default(90),
      probeIntervalSeconds: z.number().int().min(1).max(3600).nullable().default(null),
      /** Absent when the instance serves no GraphQL API; a re-registration without it withdraws it. */
      graphql: graphqlApiSchema.nullable().default(null),
    })
    .transform((input, ctx) => {
      if (input.ttlSeconds < input.heartbeatIntervalSeconds) {
        ctx.addIssue({
          code: "custom",
          path: ["ttlSeconds"],
          message: "must be at least heartbeatIntervalSeconds",
          input: input.ttlSeconds,
        });
      }
      const healthCheckUrl = resolveHealthUrl(input, policy);
      if (typeof healthCheckUrl !== "string") {
        ctx.addIssue({
          code: "custom",
          path: ["healthCheckUrl"],
          message: healthCheckUrl.problem,
          input: input.healthCheckUrl,
        });
        return z.NEVER;
      }
      return { ...input, healthCheckUrl };
    });
}

function resolveHealthUrl(
  input: { baseUrl: string; healthCheckUrl?: string },
  policy: Pick<AddressPolicy, "forbiddenHost">,
): string | { problem: string } {
  const given = input.healthCheckUrl;
  if (given === undefined) return `${input.baseUrl}/health`;
  if (given.startsWith("/")) return `${input.baseUrl}${given}`;
  const problem = urlProblem(
    given,
    policy,
    "must be an absolute http(s) URL or a path starting with /",
  );
  return problem === null ? given : { problem };
}

export type ValidRegistration = Omit<
  z.output<ReturnType<typeof registrationSchemaFor>>,
  "metadata"
> & {
  metadata: JsonObject;
  endpoints: ServiceEndpoint[];
};

/**
 * The registration parser of one gateway: its URLs must be hosts the address policy lets
 * the gateway call, as far as that can be known without DNS (a name is checked again at
 * every connect). GraphQL and REST registrations both come through here.
 */
export function createRegistrationParser(policy: Pick<AddressPolicy, "forbiddenHost">) {
  const registrationSchema = registrationSchemaFor(policy);

  /** GraphQL sends omitted nullable fields as null; for a registration null means "not given". */
  return function parseRegistration(value: Record<string, unknown>): ValidRegistration {
    const given = Object.fromEntries(Object.entries(value).filter(([, field]) => field != null));
    if (given.metadata !== undefined)
      assertJsonWithin(given.metadata, "input.metadata", METADATA_LIMITS);
    // PostgreSQL stores no NUL character in text or JSON; refuse it here, not as a failed write.
    for (const [field, fieldValue] of Object.entries(given)) {
      if (JSON.stringify(fieldValue).includes("\\u0000")) {
        throw badInput(`input.${field}`, "must not contain NUL characters");
      }
    }
    return parseInput(registrationSchema, given, "input") as ValidRegistration;
  };
}

/**
 * Ids arrive from paths and arguments; anything empty or over-long cannot name a service,
 * nor can "." or "..". Other characters are left to the lookup (an unknown id is not
 * found), so ids registered before SERVICE_ID stay reachable.
 */
export function parseServiceId(id: string, field = "id"): string {
  if (id.length === 0 || id.length > 128) throw badInput(field, "must be 1 to 128 characters");
  if (id === "." || id === "..") throw badInput(field, 'must not be "." or ".."');
  return id;
}

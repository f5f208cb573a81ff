import { readFileSync } from "node:fs";
import { z } from "zod";
import { type ConfiguredToken, roles } from "./domain/access.js";
import type { BreakerSettings } from "./domain/breaker.js";
import { type CallPolicySettings, defaultCallPolicy } from "./domain/call-policy.js";
import { normalizeServiceType } from "./domain/service.js";
import { hostEntryProblem } from "./lib/host-allowlist.js";

const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
const logFormats = ["json", "pretty"] as const;

const booleanFlag = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((value) => value === "true" || value === "1" || value === "yes");

const port = z.coerce.number().int().min(0).max(65_535);

/** A comma-separated list of host entries; every bad entry is named, not only the first. */
const hostList = z
  .string()
  .transform((value) =>
    value
      .split(",")
      .map((entry) => entry.trim())
      .filter((entry) => entry !== ""),
  )
  .superRefine((entries, ctx) => {
    for (const entry of entries) {
      const problem = hostEntryProblem(entry);
      if (problem) ctx.addIssue({ code: "custom", message: `"${entry}" ${problem}` });
    }
  });

/** A secret long enough that guessing it is hopeless. */
const secret = z.string().min(16, "must be at least 16 characters").max(512);

/** AUTH_TOKENS and AUTH_TOKENS_FILE: `[{"token","role","name","types"?}]`. */
const configuredTokens = z
  .array(
    z.strictObject({
      token: secret,
      role: z.enum(roles),
      name: z.string().trim().min(1).max(100),
      types: z
        .array(z.string().min(1).max(100).transform(normalizeServiceType))
        .max(100)
        .optional(),
    }),
  )
  .max(1000)
  .superRefine((tokens, ctx) => {
    const names = new Set<string>();
    const secrets = new Set<string>();
    for (const [i, token] of tokens.entries()) {
      if (names.has(token.name))
        ctx.addIssue({
          code: "custom",
          path: [i, "name"],
          message: `"${token.name}" is used twice`,
        });
      if (secrets.has(token.token))
        ctx.addIssue({ code: "custom", path: [i, "token"], message: "is used twice" });
      if (token.types && token.role !== "service")
        ctx.addIssue({
          code: "custom",
          path: [i, "types"],
          message: "applies to service tokens only",
        });
      names.add(token.name);
      secrets.add(token.token);
    }
  });

/** JSON text, parsed and then checked by `schema`; a syntax error is an issue like any other. */
function jsonOf<S extends z.ZodType>(schema: S) {
  return z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: "is not valid JSON" });
        return z.NEVER;
      }
    })
    .pipe(schema);
}

/**
 * Environment variables, with the seed service's names and defaults where it had them.
 * Empty strings count as unset, so `REDIS_HOST=` in a compose file means "no Redis".
 */
const environmentSchema = z
  .object({
    /** Name reported in logs and metrics. Default `service-integration`. */
    SERVICE_NAME: z.string().min(1).default("service-integration"),
    /** Port for HTTP and WebSocket. Default 8090; 0 picks a free port. */
    SERVICE_PORT: port.default(8090),
    /** Interface to listen on. Default all interfaces. */
    SERVICE_HOST: z.string().min(1).default("0.0.0.0"),
    /**
     * How long requests in flight and keep-alive connections get to finish after SIGTERM
     * (SSE streams and WebSockets are ended at once); what is open then is cut, and the
     * process is made to exit 5 s later at the latest. Default 10.
     */
    SHUTDOWN_TIMEOUT_SECONDS: z.coerce.number().min(0).max(3600).default(10),
    /** pino level; the seed's upper-case names (`INFO`) are accepted. */
    LOG_LEVEL: z
      .string()
      .transform((value) => value.toLowerCase())
      .pipe(z.enum(logLevels))
      .default("info"),
    /**
     * `json` (one JSON object a line, for log collectors) or `pretty` (coloured lines for a
     * person, through pino-pretty). Default `pretty` when stdout is a terminal and NODE_ENV
     * is not production, else `json`.
     */
    LOG_FORMAT: z
      .string()
      .transform((value) => value.trim().toLowerCase())
      .pipe(z.enum(logFormats, { error: 'must be "json" or "pretty"' }))
      .optional(),
    /** Full Redis URL; takes precedence over REDIS_HOST/REDIS_PORT. */
    REDIS_URL: z
      .url({ protocol: /^rediss?$/, error: "must be a redis:// or rediss:// URL" })
      .optional(),
    REDIS_HOST: z.string().min(1).optional(),
    REDIS_PORT: port.default(6379),
    REDIS_PASSWORD: z.string().optional(),
    /** Prefix of every Redis key; versioned so a layout change never reads old data. */
    REDIS_KEY_PREFIX: z.string().min(1).default("sig:v1:"),
    /**
     * `memory`, `redis` or `etcd`; default `redis` when a Redis host or URL is set, else
     * `memory`. etcd is never implied: it is chosen by name, with ETCD_ENDPOINTS.
     */
    DISCOVERY_BACKEND: z.enum(["memory", "redis", "etcd"]).optional(),
    /** Comma-separated etcd client URLs (`http://` or `https://`), for DISCOVERY_BACKEND=etcd. */
    ETCD_ENDPOINTS: z
      .string()
      .transform((value) =>
        value
          .split(",")
          .map((endpoint) => endpoint.trim())
          .filter((endpoint) => endpoint !== ""),
      )
      .pipe(
        z.array(z.url({ protocol: /^https?$/, error: "must be http:// or https:// URLs" })).min(1),
      )
      .optional(),
    /** etcd user and password, when etcd has auth enabled. */
    ETCD_USERNAME: z.string().min(1).optional(),
    ETCD_PASSWORD: z.string().optional(),
    /** CA certificate (PEM) for TLS to etcd; with it, the client certificate and key if etcd asks for one. */
    ETCD_CA_FILE: z.string().min(1).optional(),
    ETCD_CERT_FILE: z.string().min(1).optional(),
    ETCD_KEY_FILE: z.string().min(1).optional(),
    /** Prefix of every etcd key; versioned so a layout change never reads old data. */
    ETCD_KEY_PREFIX: z.string().min(1).default("/sig/v1/"),
    DATABASE_URL: z
      .url({ protocol: /^postgres(ql)?$/, error: "must be a postgres:// URL" })
      .optional(),
    POSTGRES_HOST: z.string().min(1).optional(),
    POSTGRES_PORT: port.default(5432),
    POSTGRES_USER: z.string().min(1).default("postgres"),
    POSTGRES_PASSWORD: z.string().default("postgres"),
    POSTGRES_DB: z.string().min(1).default("berrys_integration"),
    /** Where embedded PGlite keeps its files when no PostgreSQL is configured. */
    DATA_DIR: z.string().min(1).default("./.data"),
    /** Largest accepted request body, in bytes. Default 1 MiB. */
    MAX_REQUEST_BODY_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024),
    /** Serve GraphiQL on GET /graphql (a 9 MB self-contained page). Default true, false in production. */
    GRAPHIQL: booleanFlag.optional(),
    /** Days audit entries are kept; older ones are deleted every hour. Default 30. */
    AUDIT_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
    /** Largest page a list query may ask for (`first`). Default 500. */
    // At least the default page of 100 that list queries use when `first` is omitted.
    MAX_PAGE_SIZE: z.coerce.number().int().min(100).max(10_000).default(500),
    /** How often services with overdue heartbeats are taken OFFLINE. Default 5. */
    HEARTBEAT_SWEEP_INTERVAL_SECONDS: z.coerce.number().min(0.1).max(3600).default(5),
    /** Active health probes of every healthCheckUrl. Default true. */
    PROBES: booleanFlag.default(true),
    /** Default period of active health probes (a service may set its own). Default 15. */
    PROBE_INTERVAL_SECONDS: z.coerce.number().min(0.1).max(3600).default(15),
    /** Deadline of one probe. Default 2,000. */
    PROBE_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(2000),
    /** Probes in flight at once. Default 50. */
    PROBE_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(50),
    /** Failed probes in a row that take a service OFFLINE. Default 3. */
    PROBE_FALL_AFTER: z.coerce.number().int().min(1).max(100).default(3),
    /** Healthy probes in a row that bring it back ONLINE. Default 2. */
    PROBE_RISE_AFTER: z.coerce.number().int().min(1).max(100).default(2),
    /** Consecutive failed calls that open an instance's circuit breaker. Default 5. */
    CIRCUIT_BREAKER_FAILURE_THRESHOLD: z.coerce.number().int().min(1).max(1000).default(5),
    /** How long an open breaker refuses calls before trial calls. Default 30,000. */
    CIRCUIT_BREAKER_RESET_TIMEOUT_MS: z.coerce
      .number()
      .int()
      .min(10)
      .max(3_600_000)
      .default(30_000),
    /** Trial calls of a half-open breaker; that many successes close it. Default 3. */
    CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS: z.coerce.number().int().min(1).max(100).default(3),
    /** Deadline of one attempt of a call to a service. Default 5,000. */
    CALL_TIMEOUT_MS: z.coerce.number().int().min(10).max(300_000).default(5000),
    /** Attempts of an idempotent call, the first included. Default 3. */
    CALL_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
    /** First retry delay, doubled each retry with jitter. Default 100. */
    CALL_RETRY_BASE_DELAY_MS: z.coerce.number().int().min(0).max(60_000).default(100),
    /** Calls in flight to one instance (bulkhead). Default 100. */
    CALL_MAX_CONCURRENCY: z.coerce.number().int().min(1).max(10_000).default(100),
    /** Calls waiting for a slot of one instance beyond that; more are refused. Default 100. */
    CALL_MAX_QUEUED: z.coerce.number().int().min(0).max(100_000).default(100),
    /** Workflow executions one replica drives at once; more wait their turn. Default 10. */
    MAX_CONCURRENT_WORKFLOWS: z.coerce.number().int().min(1).max(1000).default(10),
    /** Deadline of a workflow execution that sets none, in seconds. Default 3,600. */
    WORKFLOW_EXECUTION_TIMEOUT: z.coerce
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .default(3600),
    /**
     * How long a replica's claim on an execution lasts unrenewed; when a replica dies,
     * another resumes its executions after this. Default 30.
     */
    WORKFLOW_LEASE_SECONDS: z.coerce.number().min(1).max(3600).default(30),
    /**
     * A directory of workflow definitions (*.json) registered at start-up, each as the next
     * version of its type when it differs from the active one: how a deployment changes
     * the built-ins' paths, say.
     */
    WORKFLOW_DEFINITIONS_DIR: z.string().min(1).optional(),
    /**
     * The hosts the gateway may call and probe: names, `*.` globs, addresses and CIDRs,
     * comma-separated (rule in src/clients/address-guard.ts). Unset: any host but
     * link-local, which is refused whatever this says.
     */
    ALLOWED_SERVICE_HOSTS: hostList.default([]),
    /** An admin token (named "admin"): configuring any token turns on tokens mode. */
    ADMIN_TOKEN: secret.optional(),
    /** Tokens as JSON: `[{"token":"…","role":"service","name":"billing","types":["BILLING"]}]`. */
    AUTH_TOKENS: jsonOf(configuredTokens).optional(),
    /** The same JSON in a file (a mounted secret); read once at start-up. */
    AUTH_TOKENS_FILE: z.string().min(1).optional(),
    /** `production` refuses to start without a token, and turns GraphiQL and introspection off. */
    NODE_ENV: z.string().optional(),
    /** Schema introspection; default on, off when NODE_ENV=production. */
    INTROSPECTION: booleanFlag.optional(),
    /**
     * Requests per minute per caller (per token; anonymous: per address), shared by the
     * replicas through Redis when the live registry is there. 0 or unset: no limit.
     */
    RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).max(1_000_000).default(0),
    /** Requests a caller may send at once after being idle. Default RATE_LIMIT_PER_MINUTE. */
    RATE_LIMIT_BURST: z.coerce.number().int().min(1).max(1_000_000).optional(),
    /** How long a WebSocket may take to send connection_init before it is closed (4408). */
    WS_CONNECTION_INIT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
    /** Operations one graphql-ws connection may have open at once. Default 100. */
    WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: z.coerce.number().int().min(1).max(10_000).default(100),
    /** Where the federated graph answers, over HTTP, SSE and graphql-ws. */
    FEDERATION_PATH: z
      .string()
      .regex(/^\/[A-Za-z0-9._~/-]*[A-Za-z0-9._~-]$/, "must be a path such as /federation/graphql")
      .refine(
        (path) => !["/graphql", "/metrics", "/"].includes(path) && !path.startsWith("/health/"),
        "must not be a path the gateway answers already",
      )
      .default("/federation/graphql"),
    /** How long a type with no callable instance stays in the supergraph. Default 600 s. */
    FEDERATION_DROP_AFTER_SECONDS: z.coerce.number().int().min(0).max(604_800).default(600),
    /**
     * Caller headers passed on to every subgraph fetch, comma-separated (x-request-id and
     * traceparent always are). The gateway's own credentials never are.
     */
    FEDERATION_FORWARD_HEADERS: z
      .string()
      .transform((value) =>
        value
          .split(",")
          .map((name) => name.trim().toLowerCase())
          .filter((name) => name !== ""),
      )
      .superRefine((names, ctx) => {
        for (const name of names) {
          if (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) {
            ctx.addIssue({ code: "custom", message: `"${name}" is not a header name` });
          } else if (NEVER_FORWARDED.has(name)) {
            ctx.addIssue({
              code: "custom",
              message: `"${name}" is never forwarded: it carries the caller's gateway credentials or belongs to one hop`,
            });
          }
        }
      })
      .default([]),
  })
  .superRefine((env, ctx) => {
    if (env.DISCOVERY_BACKEND === "redis" && !env.REDIS_URL && !env.REDIS_HOST) {
      ctx.addIssue({
        code: "custom",
        path: ["DISCOVERY_BACKEND"],
        message: "is redis but neither REDIS_URL nor REDIS_HOST is set",
      });
    }
    if (env.DISCOVERY_BACKEND === "etcd" && !env.ETCD_ENDPOINTS) {
      ctx.addIssue({
        code: "custom",
        path: ["DISCOVERY_BACKEND"],
        message: "is etcd but ETCD_ENDPOINTS is not set",
      });
    }
    if ((env.ETCD_CERT_FILE || env.ETCD_KEY_FILE) && !env.ETCD_CA_FILE) {
      ctx.addIssue({
        code: "custom",
        path: ["ETCD_CA_FILE"],
        message: "is needed with ETCD_CERT_FILE and ETCD_KEY_FILE (TLS to etcd)",
      });
    }
  });

/** Every variable the gateway reads; the deployment files are checked against it. */
export const environmentVariables: readonly string[] = Object.keys(environmentSchema.shape);

/** Headers FEDERATION_FORWARD_HEADERS may not name. */
const NEVER_FORWARDED = new Set([
  "authorization",
  "proxy-authorization",
  "cookie",
  "host",
  "content-length",
  "content-type",
  "accept",
  "accept-encoding",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "x-request-id",
  "traceparent",
]);

type RedisConfig = { url: string; keyPrefix: string };
/** How to reach etcd: ETCD_ENDPOINTS, and the TLS and auth options beside it. */
export type EtcdConfig = {
  endpoints: string[];
  username: string | null;
  password: string | null;
  caFile: string | null;
  certFile: string | null;
  keyFile: string | null;
  keyPrefix: string;
};

export type Config = {
  serviceName: string;
  port: number;
  host: string;
  shutdownTimeoutSeconds: number;
  logLevel: (typeof logLevels)[number];
  /** LOG_FORMAT, or its default for where stdout goes. */
  logFormat: (typeof logFormats)[number];
  discoveryBackend: "memory" | "redis" | "etcd";
  redis: RedisConfig | null;
  /** Set when DISCOVERY_BACKEND is etcd. */
  etcd: EtcdConfig | null;
  /** PostgreSQL when configured, else embedded PGlite in `dataDir`. */
  database: { url: string } | { dataDir: string };
  maxRequestBodyBytes: number;
  graphiql: boolean;
  maxPageSize: number;
  /** AUDIT_RETENTION_DAYS. */
  auditRetentionDays: number;
  /** ALLOWED_SERVICE_HOSTS entries; empty allows any host (link-local never). */
  allowedServiceHosts: string[];
  access: {
    /** Tokens from ADMIN_TOKEN, AUTH_TOKENS and AUTH_TOKENS_FILE; none: open mode. */
    tokens: ConfiguredToken[];
    introspection: boolean;
  };
  heartbeatSweepIntervalSeconds: number;
  /** Per-caller rate limits; `perMinute` 0: none. */
  rateLimits: { perMinute: number; burst: number };
  webSockets: { connectionInitTimeoutMs: number; maxSubscriptionsPerConnection: number };
  federation: {
    /** FEDERATION_PATH. */
    path: string;
    /** FEDERATION_DROP_AFTER_SECONDS, in ms. */
    dropAfterMs: number;
    /** FEDERATION_FORWARD_HEADERS, lower-cased. */
    forwardHeaders: string[];
  };
  breakers: BreakerSettings;
  calls: CallPolicySettings;
  workflows: {
    maxConcurrent: number;
    executionTimeoutSeconds: number;
    leaseMs: number;
    definitionsDir: string | null;
  };
  probes: {
    enabled: boolean;
    intervalMs: number;
    timeoutMs: number;
    concurrency: number;
    fallAfter: number;
    riseAfter: number;
  };
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/**
 * Parses the environment once; every invalid variable is reported in one ConfigError.
 * `stdoutIsTTY` decides LOG_FORMAT's default (a test says it; the process asks stdout).
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  { stdoutIsTTY = process.stdout.isTTY === true }: { stdoutIsTTY?: boolean } = {},
): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ""));
  const parsed = environmentSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join(".")} ${issue.message}`),
    );
  }
  const e = parsed.data;
  const redis = redisUrl(e);
  const production = e.NODE_ENV === "production";
  const tokens = configuredTokensOf(e);
  if (production && tokens.length === 0) {
    throw new ConfigError([
      "NODE_ENV is production but no token is configured: set ADMIN_TOKEN, AUTH_TOKENS or AUTH_TOKENS_FILE (without one, every caller could do everything)",
    ]);
  }
  return {
    serviceName: e.SERVICE_NAME,
    port: e.SERVICE_PORT,
    host: e.SERVICE_HOST,
    shutdownTimeoutSeconds: e.SHUTDOWN_TIMEOUT_SECONDS,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT ?? (stdoutIsTTY && !production ? "pretty" : "json"),
    discoveryBackend: e.DISCOVERY_BACKEND ?? (redis ? "redis" : "memory"),
    redis: redis ? { url: redis, keyPrefix: e.REDIS_KEY_PREFIX } : null,
    etcd:
      e.DISCOVERY_BACKEND === "etcd" && e.ETCD_ENDPOINTS
        ? {
            endpoints: e.ETCD_ENDPOINTS,
            username: e.ETCD_USERNAME ?? null,
            password: e.ETCD_PASSWORD ?? null,
            caFile: e.ETCD_CA_FILE ?? null,
            certFile: e.ETCD_CERT_FILE ?? null,
            keyFile: e.ETCD_KEY_FILE ?? null,
            keyPrefix: e.ETCD_KEY_PREFIX,
          }
        : null,
    database: postgresUrl(e) ?? { dataDir: e.DATA_DIR },
    maxRequestBodyBytes: e.MAX_REQUEST_BODY_BYTES,
    graphiql: e.GRAPHIQL ?? !production,
    maxPageSize: e.MAX_PAGE_SIZE,
    auditRetentionDays: e.AUDIT_RETENTION_DAYS,
    allowedServiceHosts: e.ALLOWED_SERVICE_HOSTS,
    access: { tokens, introspection: e.INTROSPECTION ?? !production },
    heartbeatSweepIntervalSeconds: e.HEARTBEAT_SWEEP_INTERVAL_SECONDS,
    rateLimits: {
      perMinute: e.RATE_LIMIT_PER_MINUTE,
      burst: e.RATE_LIMIT_BURST ?? Math.max(1, e.RATE_LIMIT_PER_MINUTE),
    },
    webSockets: {
      connectionInitTimeoutMs: e.WS_CONNECTION_INIT_TIMEOUT_MS,
      maxSubscriptionsPerConnection: e.WS_MAX_SUBSCRIPTIONS_PER_CONNECTION,
    },
    federation: {
      path: e.FEDERATION_PATH,
      dropAfterMs: e.FEDERATION_DROP_AFTER_SECONDS * 1000,
      forwardHeaders: e.FEDERATION_FORWARD_HEADERS,
    },
    breakers: {
      failureThreshold: e.CIRCUIT_BREAKER_FAILURE_THRESHOLD,
      resetTimeoutMs: e.CIRCUIT_BREAKER_RESET_TIMEOUT_MS,
      halfOpenMaxCalls: e.CIRCUIT_BREAKER_HALF_OPEN_MAX_CALLS,
    },
    workflows: {
      maxConcurrent: e.MAX_CONCURRENT_WORKFLOWS,
      executionTimeoutSeconds: e.WORKFLOW_EXECUTION_TIMEOUT,
      leaseMs: e.WORKFLOW_LEASE_SECONDS * 1000,
      definitionsDir: e.WORKFLOW_DEFINITIONS_DIR ?? null,
    },
    calls: {
      ...defaultCallPolicy,
      timeoutMs: e.CALL_TIMEOUT_MS,
      maxAttempts: e.CALL_MAX_ATTEMPTS,
      retryBaseDelayMs: e.CALL_RETRY_BASE_DELAY_MS,
      maxConcurrent: e.CALL_MAX_CONCURRENCY,
      maxQueued: e.CALL_MAX_QUEUED,
    },
    probes: {
      enabled: e.PROBES,
      intervalMs: e.PROBE_INTERVAL_SECONDS * 1000,
      timeoutMs: e.PROBE_TIMEOUT_MS,
      concurrency: e.PROBE_CONCURRENCY,
      fallAfter: e.PROBE_FALL_AFTER,
      riseAfter: e.PROBE_RISE_AFTER,
    },
  };
}

type ParsedEnvironment = z.output<typeof environmentSchema>;

/** ADMIN_TOKEN, AUTH_TOKENS and AUTH_TOKENS_FILE together; a secret or name given twice is refused. */
function configuredTokensOf(e: ParsedEnvironment): ConfiguredToken[] {
  const listed = [
    ...(e.AUTH_TOKENS ?? []),
    ...(e.AUTH_TOKENS_FILE ? tokensFile(e.AUTH_TOKENS_FILE) : []),
  ];
  const all = [
    ...(e.ADMIN_TOKEN ? [{ token: e.ADMIN_TOKEN, role: "admin" as const, name: "admin" }] : []),
    ...listed,
  ];
  const checked = configuredTokens.safeParse(all);
  if (!checked.success) {
    throw new ConfigError(
      checked.error.issues.map(
        (issue) =>
          `tokens (ADMIN_TOKEN, AUTH_TOKENS, AUTH_TOKENS_FILE) ${issue.path.join(".")} ${issue.message}`,
      ),
    );
  }
  return checked.data.map((token) => ({
    secret: token.token,
    role: token.role,
    name: token.name,
    serviceTypes: token.types ?? null,
  }));
}

function tokensFile(path: string): z.output<typeof configuredTokens> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError([`AUTH_TOKENS_FILE cannot be read: ${(error as Error).message}`]);
  }
  const parsed = jsonOf(configuredTokens).safeParse(text);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map(
        (issue) => `AUTH_TOKENS_FILE ${issue.path.join(".")} ${issue.message}`,
      ),
    );
  }
  return parsed.data;
}

function redisUrl(e: ParsedEnvironment): string | null {
  if (e.REDIS_URL) return e.REDIS_URL;
  if (!e.REDIS_HOST) return null;
  const auth = e.REDIS_PASSWORD ? `:${encodeURIComponent(e.REDIS_PASSWORD)}@` : "";
  return `redis://${auth}${e.REDIS_HOST}:${e.REDIS_PORT}`;
}

function postgresUrl(e: ParsedEnvironment): { url: string } | null {
  if (e.DATABASE_URL) return { url: e.DATABASE_URL };
  if (!e.POSTGRES_HOST) return null;
  const user = encodeURIComponent(e.POSTGRES_USER);
  const password = encodeURIComponent(e.POSTGRES_PASSWORD);
  return {
    url: `postgres://${user}:${password}@${e.POSTGRES_HOST}:${e.POSTGRES_PORT}/${e.POSTGRES_DB}`,
  };
}

import type { IncomingHttpHeaders } from "node:http";
import findMyWay from "find-my-way";
import { z } from "zod";
import type { Caller, Permission } from "../domain/access.js";
import { GatewayError } from "../domain/errors.js";
import { assertPermitted } from "../services/caller.js";

/** What a route's handler is given: its inputs, validated by the route's own schemas. */
type RestInput<P, Q, B> = {
  params: P;
  query: Q;
  body: B;
  caller: Caller;
  url: URL;
  /** The request's id (its x-request-id), for what a route calls. */
  requestId: string;
  /** The request's headers, for what a route passes on (traceparent). */
  headers: IncomingHttpHeaders;
};

export type RestResponse = { status: number; body?: unknown };

type Responses = Record<number, { description: string; schema?: z.ZodType }>;

/**
 * One REST route, declared once: its path, what it needs, the schemas of what it takes
 * and answers. The same schemas validate requests and write `/openapi.json`, so the
 * document cannot say what the route does not check.
 */
export type RouteSpec<P = unknown, Q = unknown, B = unknown> = {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** `{id}` for a parameter, as OpenAPI writes it (and the audit log records it). */
  path: string;
  summary: string;
  tag: string;
  /** What the caller needs (any of), as the GraphQL field that does the same; none: public. */
  permission: readonly Permission[];
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /** The body may be left out (a heartbeat without one). */
  bodyOptional?: boolean;
  responses: Responses;
  handle: (input: RestInput<P, Q, B>) => Promise<RestResponse>;
};

// Routes of every input type live in one table; each handler got its own types above.
// biome-ignore lint/suspicious/noExplicitAny: the table's element type erases each route's own input types
type AnyRoute = RouteSpec<any, any, any>;

/** A helper that keeps each route's handler typed by its own schemas. */
export function route<P, Q, B>(spec: RouteSpec<P, Q, B>): RouteSpec<P, Q, B> {
  return spec;
}

/**
 * The REST routes behind find-my-way (Fastify's router): a method and path find one
 * route and its parameters; the route's zod schemas check params, query and body, and a
 * failure is BAD_USER_INPUT naming the field as the request spelled it.
 */
export function createRestRouter(routes: readonly AnyRoute[]) {
  const router = findMyWay({ ignoreTrailingSlash: true, caseSensitive: true });
  const noop = () => {};
  for (const spec of routes) router.on(spec.method, routerPath(spec.path), noop, spec);

  function find(method: string, pathname: string) {
    const found = router.find(method as "GET", pathname);
    if (!found) return null;
    return { spec: found.store as AnyRoute, params: found.params };
  }

  return {
    find,
    /** Whether some route serves this path with another method (a 405, not a 404). */
    servesPath(pathname: string): boolean {
      return (["GET", "POST", "PUT", "DELETE"] as const).some(
        (method) => find(method, pathname) !== null,
      );
    },
    async handle(
      spec: AnyRoute,
      rawParams: Record<string, string | undefined>,
      request: {
        url: URL;
        caller: Caller;
        body: unknown;
        requestId: string;
        headers: IncomingHttpHeaders;
      },
    ): Promise<RestResponse> {
      // A route that names no permission is public (the gateway's own /health).
      if (spec.permission.length > 0) assertPermitted(request.caller, spec.permission);
      const params = validate(spec.params, decodedParams(rawParams), "path");
      const query = validate(spec.query, queryObject(request.url, spec.query), "query");
      if (request.body === undefined && spec.body && !spec.bodyOptional) {
        throw new GatewayError("BAD_USER_INPUT", "The request needs a JSON body.", {
          field: "body",
        });
      }
      const body =
        request.body === undefined && spec.bodyOptional
          ? undefined
          : validate(spec.body, request.body, "body");
      return spec.handle({
        params,
        query,
        body,
        caller: request.caller,
        url: request.url,
        requestId: request.requestId,
        headers: request.headers,
      });
    },
    routes,
  };
}

/** `/a/{id}` → `/a/:id`, find-my-way's syntax. */
function routerPath(path: string): string {
  return path.replace(/\{([^}]+)\}/g, ":$1");
}

function decodedParams(raw: Record<string, string | undefined>): Record<string, string> {
  const decoded: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    try {
      decoded[name] = decodeURIComponent(value);
    } catch {
      throw new GatewayError("BAD_USER_INPUT", `${name}: is not valid percent-encoding`, {
        field: name,
      });
    }
  }
  return decoded;
}

/**
 * The query string as an object: a name the schema declares a list gets every value
 * (`?status=ONLINE&status=DEGRADED`), any other its first.
 */
function queryObject(url: URL, schema: z.ZodType | undefined): Record<string, unknown> {
  const lists = schema ? listFieldsOf(schema) : new Set<string>();
  const query: Record<string, unknown> = {};
  for (const name of new Set(url.searchParams.keys())) {
    query[name] = lists.has(name) ? url.searchParams.getAll(name) : url.searchParams.get(name);
  }
  return query;
}

function listFieldsOf(schema: z.ZodType): Set<string> {
  const lists = new Set<string>();
  const shape = schema instanceof z.ZodObject ? schema.shape : {};
  for (const [name, field] of Object.entries(shape as Record<string, z.ZodType>)) {
    if (unwrap(field) instanceof z.ZodArray) lists.add(name);
  }
  return lists;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  while (
    current instanceof z.ZodOptional ||
    current instanceof z.ZodNullable ||
    current instanceof z.ZodDefault
  ) {
    current = current.unwrap() as z.ZodType;
  }
  return current;
}

function validate<T>(schema: z.ZodType<T> | undefined, value: unknown, where: string): T {
  if (!schema) return value as T;
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join(".") : where;
  const problem = issue?.message ?? "is not valid";
  throw new GatewayError("BAD_USER_INPUT", `${field}: ${problem}`, { field });
}

import type { IncomingMessage, ServerResponse } from "node:http";
import { type ExecutionResult, GraphQLError, getOperationAST } from "graphql";
import type { OperationParams } from "./envelop-operation.js";
import { prepareOperation } from "./envelop-operation.js";
import type { Gateway, ServerContext } from "./graphql.js";

type MediaType = "application/json" | "application/graphql-response+json";

/**
 * The hot path for what services and scripts send most: one query or mutation as a JSON
 * POST. It executes through yoga's envelop (same caches, context, plugins and masking),
 * but writes the answer straight to the socket instead of building fetch-API Request and
 * Response objects, which cost about half of a small request (docs/adr/0002-json-fast-path.md).
 *
 * It only serves what it can answer exactly as yoga would. Everything else returns
 * false before executing and is handed to yoga: browsers (Origin, for CORS), SSE and
 * multipart, subscriptions, batches, and any body that does not parse or validate, so
 * error responses always come from yoga.
 */
export async function serveJsonFast(
  graphql: Gateway,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  serverContext: ServerContext,
): Promise<boolean> {
  if (req.headers.origin !== undefined) return false;
  if (!req.headers["content-type"]?.startsWith("application/json")) return false;
  const mediaType = responseMediaType(req.headers.accept);
  if (!mediaType) return false;

  const params = operationParams(body);
  if (!params) return false;
  const prepared = await prepareOperation(graphql, serverContext, params);
  if ("errors" in prepared) return false;
  const operation = getOperationAST(prepared.document, params.operationName);
  if (!operation || operation.operation === "subscription") return false;

  const result = (await prepared.execute(prepared.args)) as ExecutionResult;
  const payload = JSON.stringify(asAnswered(result, serverContext.requestId));
  res.writeHead(statusOf(result), {
    "content-type": `${mediaType}; charset=utf-8`,
    "content-length": Buffer.byteLength(payload),
  });
  res.end(payload);
  return true;
}

/** The media type yoga would answer with, or null when only yoga can answer. */
function responseMediaType(accept: string | undefined): MediaType | null {
  const preferred = (accept ?? "*/*")
    .split(",")
    .map((part, index) => {
      const [type = "", ...parameters] = part.split(";").map((piece) => piece.trim());
      const q = parameters.find((parameter) => parameter.startsWith("q="));
      return { type: type.toLowerCase(), q: q ? Number(q.slice(2)) : 1, index };
    })
    .filter((entry) => entry.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index)[0]?.type;
  switch (preferred) {
    case "application/json":
    case "application/*":
    case "*/*":
      return "application/json";
    case "application/graphql-response+json":
      return "application/graphql-response+json";
    default:
      return null;
  }
}

function operationParams(body: Buffer): OperationParams | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return null;
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return null;
  const { query, operationName, variables } = parsed as Record<string, unknown>;
  if (typeof query !== "string") return null;
  if (operationName != null && typeof operationName !== "string") return null;
  if (variables != null && (typeof variables !== "object" || Array.isArray(variables))) {
    return null;
  }
  return {
    query,
    operationName: operationName as string | null | undefined,
    variables: variables as Record<string, unknown> | null | undefined,
  };
}

/** As yoga: an error may ask for an HTTP status; otherwise an executed result is a 200. */
function statusOf(result: ExecutionResult): number {
  let status = 200;
  for (const error of result.errors ?? []) {
    const requested = error.extensions?.http?.status;
    if (requested && requested > status) status = requested;
  }
  return status;
}

/**
 * Drops the extensions yoga keeps for itself (`http`, `unexpected`), as yoga does, and
 * names the request on every error, as yoga's result processing does (useGatewayErrors):
 * an error a plugin answers before executing (the operation limits) has it from neither.
 */
function asAnswered(result: ExecutionResult, requestId: string | undefined): ExecutionResult {
  if (!result.errors?.length) return result;
  return {
    ...result,
    errors: result.errors.map((error) => {
      const { http: _http, unexpected: _unexpected, ...extensions } = error.extensions ?? {};
      if (requestId !== undefined && extensions.requestId === undefined) {
        extensions.requestId = requestId;
      }
      return new GraphQLError(error.message, {
        nodes: error.nodes,
        source: error.source,
        positions: error.positions,
        path: error.path,
        extensions: Object.keys(extensions).length > 0 ? extensions : undefined,
      });
    }),
  };
}

import type { DocumentNode, ExecutionArgs, GraphQLError } from "graphql";
import type { Gateway, ServerContext } from "./graphql.js";

export type OperationParams = {
  query: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
};

export type PreparedOperation = {
  args: ExecutionArgs;
  document: DocumentNode;
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
};

/**
 * Parses, validates and builds the context of one operation through yoga's envelop:
 * the same parse/validation caches, context factory and plugins (error masking
 * included) as a request that yoga handles itself. Used by graphql-ws and by the
 * JSON fast path, which skip yoga's fetch-API request handling.
 */
export async function prepareOperation(
  graphql: Gateway,
  serverContext: ServerContext,
  params: OperationParams,
): Promise<PreparedOperation | { errors: readonly GraphQLError[] }> {
  const enveloped = graphql.getEnveloped({ ...serverContext, params } as Parameters<
    Gateway["getEnveloped"]
  >[0]);
  let document: DocumentNode;
  try {
    document = enveloped.parse(params.query);
  } catch (error) {
    return { errors: [error as GraphQLError] };
  }
  const errors = enveloped.validate(enveloped.schema, document);
  if (errors.length > 0) return { errors };
  return {
    document,
    execute: enveloped.execute as (args: ExecutionArgs) => unknown,
    subscribe: enveloped.subscribe as (args: ExecutionArgs) => unknown,
    args: {
      schema: enveloped.schema,
      document,
      operationName: params.operationName,
      variableValues: params.variables,
      contextValue: await enveloped.contextFactory(),
    },
  };
}

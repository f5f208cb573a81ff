import {
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLField,
  GraphQLID,
  GraphQLIncludeDirective,
  type GraphQLInputType,
  GraphQLSkipDirective,
  getArgumentValues,
  getDirectiveValues,
  getNamedType,
  getOperationAST,
  getVariableValues,
  isInputObjectType,
  Kind,
  type SelectionSetNode,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import { AUDIT_OK, actorOf, boundedTargets, isRoutineLiveness } from "../domain/audit.js";
import { isGatewayError } from "../domain/errors.js";
import type { GatewayContext } from "../schema/context.js";

/**
 * Where a mutation's result names what it acted on, by the field's return type: ids the
 * gateway made (a registration or execution without an id) are only known from there.
 * Only these paths are read, so no other value of an answer (a token's secret above all)
 * can reach the log. A path the client did not select is simply absent.
 */
const RESULT_TARGETS: Record<string, readonly (readonly string[])[]> = {
  CreatedApiToken: [["token", "id"]],
  WorkflowDefinition: [["type"]],
  WorkflowExecution: [["id"], ["workflowType"]],
  CircuitBreaker: [["serviceId"]],
  ServiceCallResult: [["serviceId"]],
};
const DEFAULT_RESULT_TARGETS = [["id"]] as const;

type RootField = {
  responseKey: string;
  node: FieldNode;
  definition: GraphQLField<unknown, unknown>;
};

/**
 * Records every executed mutation in the audit trail, one entry per root field: its name
 * (aliases resolved), the ids among its arguments and in its result, and "ok" or the code
 * of that field's error. It hooks execution, which yoga, the JSON fast path and graphql-ws
 * all run through envelop, so every transport is covered.
 *
 * It comes before the operation limits, whose refusals (before execution) are then
 * recorded too. A document that fails to parse or validate never reaches execution and is
 * not recorded: nothing was attempted, and it need not even be a mutation. A field a
 * mutation never ran (an earlier field failed and nulled the whole answer) is not recorded.
 */
export function useAuditTrail(): Plugin<GatewayContext> {
  return {
    onExecute({ args }) {
      const operation = getOperationAST(args.document, args.operationName);
      if (operation?.operation !== "mutation") return;
      const mutationType = args.schema.getMutationType();
      if (!mutationType) return;
      const context = args.contextValue as GatewayContext;
      return {
        // Everything is worked out after execution, and arguments only for what is
        // recorded: a heartbeat that succeeded (the hot path) costs no coercion at all.
        onExecuteDone({ result }) {
          if (!isExecutionResult(result)) return;
          let variables: Record<string, unknown> | null = null;
          const coerced = () => {
            variables ??= coercedVariables(args, operation.variableDefinitions ?? []);
            return variables;
          };
          for (const [responseKey, node] of rootFields(
            operation.selectionSet,
            fragmentsOf(args),
            coerced,
          )) {
            const definition = mutationType.getFields()[node.name.value];
            if (!definition) continue;
            const outcome = outcomeOf(responseKey, result);
            if (outcome === null) continue;
            const event = {
              actor: actorOf(context.caller),
              transport: "graphql" as const,
              operation: definition.name,
              targets: [] as string[],
              result: outcome,
              requestId: context.requestId,
            };
            if (isRoutineLiveness(event)) continue;
            const field: RootField = { responseKey, node, definition };
            event.targets = boundedTargets([
              ...argumentIds(field, coerced()),
              ...resultIds(field, result),
            ]);
            context.services.audit.record(event);
          }
        },
      };
    },
  };
}

/** "ok", the code of the field's error (or of the operation's), or null: never ran. */
function outcomeOf(responseKey: string, result: ExecutionResult): string | null {
  const errors = result.errors ?? [];
  const own = errors.find((error) => error.path?.[0] === responseKey);
  if (own) return codeOf(own);
  const operationWide = errors.find((error) => error.path === undefined);
  if (operationWide) return codeOf(operationWide);
  const data = result.data as Record<string, unknown> | null | undefined;
  if (data === null || data === undefined || !(responseKey in data)) return null;
  return AUDIT_OK;
}

/**
 * This plugin sees errors before useGatewayErrors has rewritten them, so the code is taken
 * as that plugin would give it: a GatewayError's own, an `extensions.code` already set
 * (the operation limits), graphql's own errors about the request (variables) as
 * BAD_USER_INPUT, and anything else as the bug it is.
 */
function codeOf(error: GraphQLError): string {
  const code = error.extensions?.code;
  if (typeof code === "string") return code;
  const original = error.originalError;
  if (isGatewayError(original)) return original.code;
  if (original === undefined || original instanceof GraphQLError) return "BAD_USER_INPUT";
  return "INTERNAL_SERVER_ERROR";
}

function coercedVariables(
  args: ExecutionArgs,
  definitions: Parameters<typeof getVariableValues>[1],
): Record<string, unknown> {
  const coerced = getVariableValues(args.schema, definitions, args.variableValues ?? {});
  return coerced.coerced ?? {};
}

function fragmentsOf(args: ExecutionArgs): Map<string, FragmentDefinitionNode> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of args.document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) {
      fragments.set(definition.name.value, definition);
    }
  }
  return fragments;
}

/** The root fields execution will run, by response key, as graphql-js collects them. */
function rootFields(
  selectionSet: SelectionSetNode,
  fragments: Map<string, FragmentDefinitionNode>,
  variables: () => Record<string, unknown>,
  collected = new Map<string, FieldNode>(),
  visited = new Set<string>(),
): Map<string, FieldNode> {
  for (const selection of selectionSet.selections) {
    if (!included(selection, variables)) continue;
    if (selection.kind === Kind.FIELD) {
      const key = selection.alias?.value ?? selection.name.value;
      if (!collected.has(key)) collected.set(key, selection);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      rootFields(selection.selectionSet, fragments, variables, collected, visited);
    } else {
      const name = selection.name.value;
      const fragment = fragments.get(name);
      if (!fragment || visited.has(name)) continue;
      visited.add(name);
      rootFields(fragment.selectionSet, fragments, variables, collected, visited);
    }
  }
  return collected;
}

function included(
  node: Parameters<typeof getDirectiveValues>[1],
  variables: () => Record<string, unknown>,
): boolean {
  // Only @skip and @include can leave a field out; most selections carry no directive.
  if (!node.directives?.length) return true;
  try {
    if (getDirectiveValues(GraphQLSkipDirective, node, variables())?.if === true) return false;
    return getDirectiveValues(GraphQLIncludeDirective, node, variables())?.if !== false;
  } catch {
    return true;
  }
}

/**
 * Arguments of type ID, and ID fields of input-object arguments (`input.id`,
 * `input.serviceId`): the only argument values recorded.
 */
function argumentIds(field: RootField, variables: Record<string, unknown>): string[] {
  let values: Record<string, unknown>;
  try {
    values = getArgumentValues(field.definition, field.node, variables);
  } catch {
    // Arguments that do not coerce fail the field itself, which records the error.
    return [];
  }
  const ids: string[] = [];
  for (const argument of field.definition.args) {
    const value = values[argument.name];
    if (isId(argument.type)) ids.push(...idsIn(value));
    const named = getNamedType(argument.type);
    if (isInputObjectType(named) && isRecord(value)) {
      for (const inner of Object.values(named.getFields())) {
        if (isId(inner.type)) ids.push(...idsIn(value[inner.name]));
      }
    }
  }
  return ids;
}

function resultIds(field: RootField, result: ExecutionResult): string[] {
  const data = result.data as Record<string, unknown> | null | undefined;
  const value = data?.[field.responseKey];
  if (!isRecord(value)) return [];
  const typeName = getNamedType(field.definition.type).name;
  const paths = RESULT_TARGETS[typeName] ?? DEFAULT_RESULT_TARGETS;
  return paths.flatMap((path) => {
    let current: unknown = value;
    for (const key of path) current = isRecord(current) ? current[key] : undefined;
    return idsIn(current);
  });
}

function isId(type: GraphQLInputType): boolean {
  return getNamedType(type).name === GraphQLID.name;
}

function idsIn(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (typeof value === "number") return [String(value)];
  if (Array.isArray(value))
    return value.flatMap((item) => (typeof item === "string" ? [item] : []));
  return [];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function isExecutionResult(result: unknown): result is ExecutionResult {
  return isRecord(result) && !(Symbol.asyncIterator in result);
}

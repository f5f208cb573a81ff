import { PothosValidationError } from "@pothos/core";
import { complexityFromQuery } from "@pothos/plugin-complexity";
import {
  BREAK,
  type DocumentNode,
  type ExecutionArgs,
  GraphQLError,
  getOperationAST,
  Kind,
  Lexer,
  type ParseOptions,
  parse,
  Source,
  TokenKind,
  visit,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import { describeJsonLimit, exceededJsonLimit } from "../lib/json-bounds.js";
import { PAYLOAD_LIMITS } from "../services/json-input.js";

/**
 * What one GraphQL operation may cost, over every transport (yoga's HTTP, the JSON fast
 * path, graphql-ws). The first five bound the document and are checked as it is parsed,
 * so the verdict is cached with the parse; the last three depend on the variables
 * (`first: $n`) and are checked before every execution and subscription.
 */
export const OPERATION_LIMITS = {
  /**
   * Brackets (`{`, `[`, `(`) open at once. graphql-js parses recursively and overflows
   * the stack at about 2,000 levels; no real operation nests beyond 12 levels of fields
   * around a 32-level JSON literal.
   */
  maxNesting: 64,
  /**
   * Tokens in a document (graphql's `maxTokens`); parsing 20,000 takes about 15 ms.
   * Inline literals larger than that (a 16 KiB metadata object is at most ~8,200 tokens)
   * belong in variables.
   */
  maxTokens: 20_000,
  /**
   * Field selections in a document. Validation compares fields of one response name
   * pairwise: 500 repeated `services { totalCount }` take ~65 ms, 1,000 take ~120 ms.
   */
  maxFields: 500,
  /** Aliased fields in a document: the cheap way to ask for one field thousands of times. */
  maxAliases: 100,
  /**
   * Directives in a document (`@include`, `@skip`, `@deprecated` on anything). Each is
   * validated and, for `@include`/`@skip`, evaluated per field; thousands of them cost
   * time and say nothing a real client needs.
   */
  maxDirectives: 50,
  /** Levels of fields in an operation. */
  maxDepth: 12,
  /** Fields an operation selects, counting a fragment each time it is spread. */
  maxBreadth: 200,
  /** Cost: each field 1, its selection multiplied by `first` on paged lists, 10 on other lists. */
  maxComplexity: 20_000,
} as const;

/**
 * The envelop plugin that enforces OPERATION_LIMITS. It comes before yoga's parse and
 * validation cache, which then caches documents refused here as parse errors.
 *
 * graphql-armor's plugins (max aliases, tokens, directives, depth, cost) would do the
 * same, but each walks the document again on every request, after yoga's cache; here the
 * document limits are one lexer scan and one visit, only on a parse-cache miss, and the
 * variable-dependent costs are remembered per document.
 */
export function useOperationLimits(): Plugin {
  return {
    onParse({ setParseFn }) {
      setParseFn(parseWithinLimits);
    },
    onExecute({ args, setResultAndStopExecution }) {
      const errors = operationCostErrors(args);
      if (errors.length > 0) setResultAndStopExecution({ errors });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const errors = operationCostErrors(args);
      if (errors.length > 0) setResultAndStopExecution({ errors });
    },
  };
}

/** graphql's parse, after a scan that refuses what would overflow it or cost too much. */
function parseWithinLimits(source: string | Source, options?: ParseOptions): DocumentNode {
  const body = typeof source === "string" ? new Source(source) : source;
  scanTokens(body);
  const document = parse(body, { ...options, maxTokens: OPERATION_LIMITS.maxTokens });
  countSelections(document);
  return document;
}

/**
 * Counts tokens and nesting with graphql's own lexer, which is iterative, before the
 * recursive parser sees the document. Lexing costs about a third of parsing, and only
 * on a parse-cache miss.
 */
function scanTokens(source: Source): void {
  const lexer = new Lexer(source);
  let tokens = 0;
  let nesting = 0;
  for (let token = lexer.advance(); token.kind !== TokenKind.EOF; token = lexer.advance()) {
    tokens += 1;
    if (tokens > OPERATION_LIMITS.maxTokens) {
      throw refused(`The document has more than ${OPERATION_LIMITS.maxTokens} tokens.`, "tokens");
    }
    if (OPENING.has(token.kind)) nesting += 1;
    else if (CLOSING.has(token.kind)) nesting -= 1;
    if (nesting > OPERATION_LIMITS.maxNesting) {
      throw refused(
        `The document nests deeper than ${OPERATION_LIMITS.maxNesting} levels (line ${token.line}).`,
        "nesting",
      );
    }
  }
}

const OPENING = new Set<TokenKind>([TokenKind.BRACE_L, TokenKind.BRACKET_L, TokenKind.PAREN_L]);
const CLOSING = new Set<TokenKind>([TokenKind.BRACE_R, TokenKind.BRACKET_R, TokenKind.PAREN_R]);

/** Fields, aliases and directives, in one visit of the document. */
function countSelections(document: DocumentNode): void {
  let fields = 0;
  let aliases = 0;
  let directives = 0;
  let problem: GraphQLError | null = null;
  visit(document, {
    Directive() {
      directives += 1;
      if (directives > OPERATION_LIMITS.maxDirectives) {
        problem = refused(
          `The document has more than ${OPERATION_LIMITS.maxDirectives} directives.`,
          "directives",
        );
        return BREAK;
      }
      return undefined;
    },
    Field(node) {
      fields += 1;
      if (node.alias) aliases += 1;
      if (fields > OPERATION_LIMITS.maxFields) {
        problem = refused(
          `The document selects more than ${OPERATION_LIMITS.maxFields} fields.`,
          "fields",
        );
      } else if (aliases > OPERATION_LIMITS.maxAliases) {
        problem = refused(
          `The document has more than ${OPERATION_LIMITS.maxAliases} aliases.`,
          "aliases",
        );
      }
      return problem ? BREAK : undefined;
    },
  });
  if (problem) throw problem;
}

/**
 * Why an operation may not run with these variables, or nothing. Errors about the
 * variables themselves (a wrong type, say) are left to execution, which names them.
 */
export function operationCostErrors(
  args: Pick<ExecutionArgs, "schema" | "document" | "operationName" | "variableValues">,
): GraphQLError[] {
  const variables = args.variableValues ?? {};
  // Coercing variables recurses through input types such as ServiceWhere.not.
  const deep = exceededJsonLimit(variables, PAYLOAD_LIMITS);
  if (deep) {
    const variable = deep.limit === "depth" ? deep.at.split(".")[0] : undefined;
    return [
      refused(`Variables: ${describeJsonLimit(deep)}.`, "variables", {
        field: variable ? `$${variable}` : "variables",
      }),
    ];
  }
  const operation = getOperationAST(args.document, args.operationName);
  if (!operation) return [];
  // The hot paths send one document again and again: a cost found within the limits is
  // remembered for the values its `first` arguments had, the only inputs costs read.
  const key = `${operation.name?.value ?? ""}\u0000${JSON.stringify(
    firstVariablesOf(args.document).map((name) => variables[name] ?? null),
  )}`;
  const withinLimits = costsWithinLimits.get(args.document);
  if (withinLimits?.has(key)) return [];
  // Pothos measures the first operation of a document: hand it the chosen one alone.
  const document: DocumentNode = {
    ...args.document,
    definitions: args.document.definitions.filter(
      (definition) => definition.kind !== Kind.OPERATION_DEFINITION || definition === operation,
    ),
  };
  let cost: { depth: number; breadth: number; complexity: number };
  try {
    cost = complexityFromQuery(document, { schema: args.schema, variables: { ...variables } });
  } catch (error) {
    if (error instanceof PothosValidationError) return [refused(error.message, "complexity")];
    if (error instanceof GraphQLError) return [];
    throw error;
  }
  const over = (
    [
      ["depth", cost.depth, OPERATION_LIMITS.maxDepth],
      ["breadth", cost.breadth, OPERATION_LIMITS.maxBreadth],
      ["complexity", cost.complexity, OPERATION_LIMITS.maxComplexity],
    ] as const
  ).find(([, actual, max]) => actual > max);
  if (!over) {
    remember(args.document, key);
    return [];
  }
  const [kind, actual, max] = over;
  return [refused(`Query ${kind} ${actual} exceeds the limit of ${max}.`, kind)];
}

/**
 * Per parsed document (yoga's parse cache hands out the same one for the same text): the
 * keys of costs found within the limits.
 */
const costsWithinLimits = new WeakMap<DocumentNode, Set<string>>();
/** Keys kept per document: enough for the page sizes one client asks for. */
const KEYS_PER_DOCUMENT = 64;

function remember(document: DocumentNode, key: string): void {
  const keys = costsWithinLimits.get(document) ?? new Set<string>();
  if (keys.size >= KEYS_PER_DOCUMENT) keys.clear();
  keys.add(key);
  costsWithinLimits.set(document, keys);
}

/** Per parsed document: the variables passed as a `first` argument anywhere in it. */
const firstVariables = new WeakMap<DocumentNode, string[]>();

function firstVariablesOf(document: DocumentNode): string[] {
  let names = firstVariables.get(document);
  if (!names) {
    const found = new Set<string>();
    visit(document, {
      Argument(node) {
        if (node.name.value === "first" && node.value.kind === Kind.VARIABLE) {
          found.add(node.value.name.value);
        }
      },
    });
    names = [...found].sort();
    firstVariables.set(document, names);
  }
  return names;
}

/** A client's mistake: BAD_USER_INPUT, with the limit it ran into. */
function refused(message: string, limit: string, details: Record<string, unknown> = {}) {
  return new GraphQLError(message, { extensions: { code: "BAD_USER_INPUT", limit, ...details } });
}

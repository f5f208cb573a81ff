import { type ExecutionResult, getOperationAST } from "graphql";
import type { Plugin } from "graphql-yoga";
import { boundedLabel, type Metrics } from "../metrics.js";

/** Distinct operation names kept as labels per process; more count as `other`. */
const MAX_OPERATION_NAMES = 200;

/**
 * Counts each query and mutation executed on /graphql by operation type and name and by
 * outcome (`ok`, or the first error's code), with its execution time; documents refused
 * before executing count too, as `GRAPHQL_PARSE_FAILED` or `GRAPHQL_VALIDATION_FAILED`.
 * After useGatewayErrors, so the codes are the ones the client sees. Subscriptions are
 * counted as they stay open (sig_graphql_subscriptions), not per event.
 */
export function useOperationMetrics(metrics: Metrics): Plugin {
  const nameOf = boundedLabel(MAX_OPERATION_NAMES);
  const refused = (outcome: string) =>
    metrics.graphqlOperations.inc({ type: "unknown", name: "unknown", outcome });
  return {
    // Here, not at parse or validation: the JSON fast path prepares a document and hands
    // one that fails to yoga, which prepares it again; only yoga answers it, once.
    onResultProcess({ result }) {
      if (Array.isArray(result) || !("errors" in result)) return;
      const code = (result as ExecutionResult).errors?.[0]?.extensions?.code;
      if (code === "GRAPHQL_PARSE_FAILED" || code === "GRAPHQL_VALIDATION_FAILED") refused(code);
    },
    onExecute({ args }) {
      const started = performance.now();
      const operation = getOperationAST(args.document, args.operationName);
      const labels = {
        type: operation?.operation ?? "unknown",
        name: nameOf(operation?.name?.value ?? "anonymous"),
      };
      return {
        onExecuteDone({ result }) {
          const errors = (result as ExecutionResult).errors;
          const code = errors?.[0]?.extensions?.code;
          const outcome = errors?.length ? (typeof code === "string" ? code : "ERROR") : "ok";
          metrics.graphqlOperations.inc({ ...labels, outcome });
          metrics.graphqlDuration.observe(labels, (performance.now() - started) / 1000);
        },
      };
    },
  };
}

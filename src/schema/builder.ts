import SchemaBuilder from "@pothos/core";
import ComplexityPlugin from "@pothos/plugin-complexity";
import RelayPlugin from "@pothos/plugin-relay";
import ScopeAuthPlugin from "@pothos/plugin-scope-auth";
import { GatewayError } from "../domain/errors.js";
import type { JsonValue } from "../domain/json.js";
import type { GatewayContext } from "./context.js";

/**
 * The one SchemaBuilder, with the plugins the schema uses: scope-auth (first, so it
 * wraps the others), relay (PageInfo) and complexity (field costs). It defines no types.
 */
export const builder = new SchemaBuilder<{
  Context: GatewayContext;
  AuthScopes: { admin: boolean };
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: JsonValue; Output: unknown };
  };
  DefaultFieldNullability: false;
}>({
  plugins: [ScopeAuthPlugin, RelayPlugin, ComplexityPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes: (ctx) => ({ admin: ctx.caller.isAdmin }),
    unauthorizedError: () => new GatewayError("FORBIDDEN", "This operation needs an admin token."),
  },
  relay: {
    clientMutationId: "omit",
    cursorType: "String",
    nodesOnConnection: true,
  },
  // Costs only: the limits are checked before execution and at subscribe, over every
  // transport, by http/operation-limits.ts (Pothos would check them in root resolvers,
  // once per subscription event, and never for a document of root `__typename`s).
  complexity: {
    defaultComplexity: 1,
    defaultListMultiplier: 10,
  },
});

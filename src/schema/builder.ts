import SchemaBuilder from "@pothos/core";
import ComplexityPlugin from "@pothos/plugin-complexity";
import DataloaderPlugin from "@pothos/plugin-dataloader";
import ErrorsPlugin from "@pothos/plugin-errors";
import RelayPlugin from "@pothos/plugin-relay";
import ScopeAuthPlugin from "@pothos/plugin-scope-auth";
import SimpleObjectsPlugin from "@pothos/plugin-simple-objects";
import ValidationPlugin from "@pothos/plugin-validation";
import { GatewayError } from "../errors.js";
import type { JsonValue } from "../services/model.js";
import type { GatewayContext } from "./context.js";

/**
 * The one SchemaBuilder, with every plugin in the order their hooks need
 * (scope-auth first, errors before validation and dataloader). It defines no types.
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
  plugins: [
    ScopeAuthPlugin,
    ErrorsPlugin,
    ValidationPlugin,
    DataloaderPlugin,
    RelayPlugin,
    SimpleObjectsPlugin,
    ComplexityPlugin,
  ],
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes: (ctx) => ({ admin: ctx.caller.isAdmin }),
    unauthorizedError: () => new GatewayError("FORBIDDEN", "This operation needs an admin token."),
  },
  errors: { defaultTypes: [] },
  validation: {
    validationError: (failure) => {
      const [issue] = failure.issues;
      const field = issue?.path?.map((p) => (typeof p === "object" ? p.key : p)).join(".") ?? "";
      return new GatewayError("BAD_USER_INPUT", `${field}: ${issue?.message ?? "is invalid"}`, {
        field,
      });
    },
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

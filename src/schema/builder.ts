import SchemaBuilder from "@pothos/core";
import ComplexityPlugin from "@pothos/plugin-complexity";
import RelayPlugin from "@pothos/plugin-relay";
import ScopeAuthPlugin, { type AuthFailure, AuthScopeFailureType } from "@pothos/plugin-scope-auth";
import {
  type Caller,
  deniedMessage,
  type Permission,
  permissions,
  permits,
} from "../domain/access.js";
import { GatewayError } from "../domain/errors.js";
import type { JsonValue } from "../domain/json.js";
import type { GatewayContext } from "./context.js";

/**
 * The one SchemaBuilder, with the plugins the schema uses: scope-auth (first, so it
 * wraps the others), relay (PageInfo) and complexity (field costs). It defines no types.
 */
export const builder = new SchemaBuilder<{
  Context: GatewayContext;
  /** One scope per permission (domain/access.ts): fields say what they need, permits() decides. */
  AuthScopes: Record<Permission, boolean>;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: JsonValue; Output: unknown };
  };
  DefaultFieldNullability: false;
}>({
  plugins: [ScopeAuthPlugin, RelayPlugin, ComplexityPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes: (ctx) => scopesOf(ctx.caller),
    unauthorizedError: (_parent, _context, _info, result) =>
      new GatewayError("FORBIDDEN", deniedMessage(refusedPermissions(result.failure))),
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

function scopesOf(caller: Caller): Record<Permission, boolean> {
  return Object.fromEntries(
    permissions.map((permission) => [permission, permits(caller, permission)]),
  ) as Record<Permission, boolean>;
}

/** The permissions a refused field asked for, any of which would have let the caller in. */
function refusedPermissions(failure: AuthFailure): Permission[] {
  if (failure.kind === AuthScopeFailureType.AuthScope) return [failure.scope as Permission];
  if (
    failure.kind === AuthScopeFailureType.AnyAuthScopes ||
    failure.kind === AuthScopeFailureType.AllAuthScopes
  ) {
    return failure.failures.flatMap(refusedPermissions);
  }
  return [];
}

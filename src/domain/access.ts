// Who may do what. Every GraphQL field and REST route names the permission it needs, and
// permits() is the one place that decides; nothing else compares roles.

export const roles = ["admin", "operator", "service", "reader"] as const;
export type Role = (typeof roles)[number];

export const permissions = [
  /** Queries and subscriptions: discovery, health, breakers, workflows, history. */
  "read",
  /** Register, heartbeat, update and unregister the ids the caller owns. */
  "registerServices",
  /** Set the status of any service, whoever owns it. */
  "changeAnyStatus",
  /** Change or unregister an id another token owns. */
  "overrideOwnership",
  /** Reset and isolate circuit breakers. */
  "operateBreakers",
  "executeWorkflows",
  "cancelWorkflows",
  /** Register workflow definitions. */
  "defineWorkflows",
  /** callService to the endpoints a service declared. */
  "callServices",
  /** callService to paths a service did not declare. */
  "callAnyPath",
  "readAudit",
  /** Create, list and revoke API tokens. */
  "manageTokens",
  /**
   * `extensions.explain` on the federated graph: which instance answered each subgraph
   * fetch, its breaker, the attempts. The topology behind the graph, not for its clients.
   */
  "explainFederation",
] as const;
export type Permission = (typeof permissions)[number];

const granted: Record<Role, ReadonlySet<Permission>> = {
  admin: new Set(permissions),
  operator: new Set([
    "read",
    "changeAnyStatus",
    "operateBreakers",
    "executeWorkflows",
    "cancelWorkflows",
    "readAudit",
    "explainFederation",
  ]),
  service: new Set(["read", "registerServices", "callServices", "executeWorkflows"]),
  reader: new Set(["read"]),
};

/**
 * `open`: no token is configured (a developer's machine); every caller may do everything
 * but take over an id another bearer token registered. `tokens`: every request needs a
 * valid token, and its role decides.
 */
export type AccessMode = "open" | "tokens";

/** A token from the environment (ADMIN_TOKEN, AUTH_TOKENS, AUTH_TOKENS_FILE). */
export type ConfiguredToken = {
  secret: string;
  role: Role;
  name: string;
  serviceTypes: string[] | null;
};

/** Who is calling, as every layer sees it. Built once per request from its bearer token. */
export type Caller = {
  mode: AccessMode;
  /** The token's role; null for an anonymous caller in open mode. */
  role: Role | null;
  /** Id and name of the token, for the audit log; null when anonymous. */
  tokenId: string | null;
  tokenName: string | null;
  /**
   * sha-256 of the bearer token: it ties a registered id to whoever registered it, so
   * nobody else can take it over. Any bearer counts in open mode.
   */
  ownerKey: string | null;
  /** Service types a service token may register; null: any. */
  serviceTypes: readonly string[] | null;
  /** The client's address, for the audit log and anonymous rate limits. */
  address: string | null;
};

export function permits(caller: Caller, permission: Permission): boolean {
  if (caller.role !== null) return granted[caller.role].has(permission);
  // Anonymous callers exist only in open mode (tokens mode refuses them first). Ownership
  // still holds there, and without tokens there are none to manage.
  return (
    caller.mode === "open" && permission !== "overrideOwnership" && permission !== "manageTokens"
  );
}

/** Every permission the caller holds, in the order of `permissions`. */
export function permissionsOf(caller: Caller): Permission[] {
  return permissions.filter((permission) => permits(caller, permission));
}

/** Whether a service token limited to some types may register one of `type`. */
export function mayRegisterType(caller: Caller, type: string): boolean {
  return caller.serviceTypes === null || caller.serviceTypes.includes(type);
}

/** A caller without a token: what every request is in open mode. */
export function anonymousCaller(
  ownerKey: string | null = null,
  address: string | null = null,
): Caller {
  return {
    mode: "open",
    role: null,
    tokenId: null,
    tokenName: null,
    ownerKey,
    serviceTypes: null,
    address,
  };
}

/** The caller the gateway itself acts as: workflow steps, background work. */
export const gatewayCaller: Caller = {
  mode: "tokens",
  role: "admin",
  tokenId: null,
  tokenName: "gateway",
  ownerKey: null,
  serviceTypes: null,
  address: null,
};

/** Why a caller may not do something, in words that say what would let them. */
export function deniedMessage(anyOf: readonly Permission[]): string {
  const who = roles.filter((role) => anyOf.some((permission) => granted[role].has(permission)));
  return `This operation needs a token with the ${who.join(" or ")} role.`;
}

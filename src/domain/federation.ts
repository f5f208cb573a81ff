// Registry-driven federation: what a service declares about its GraphQL API, and what the
// gateway composed from the declarations of the types that are running.

export const graphqlApiKinds = ["FEDERATION", "PLAIN"] as const;
/**
 * FEDERATION: a Federation v1 or v2 subgraph, its SDL read from `{ _service { sdl } }`.
 * PLAIN: any GraphQL API, its SDL printed from introspection; it owns its root fields
 * and shares nothing by key.
 */
export type GraphQLApiKind = (typeof graphqlApiKinds)[number];

/** Where an instance serves GraphQL, relative to its baseUrl. */
export type GraphQLApi = {
  /** Starts with "/"; default "/graphql". */
  path: string;
  kind: GraphQLApiKind;
};

export const DEFAULT_GRAPHQL_PATH = "/graphql";

/**
 * EMPTY: nothing composed yet (no type declares an API, or none has had a healthy
 * instance). COMPOSED: the last composition succeeded and serves. FAILED: the last
 * composition failed; the last good supergraph (if any) still serves.
 */
export const supergraphStatuses = ["EMPTY", "COMPOSED", "FAILED"] as const;
type SupergraphStatus = (typeof supergraphStatuses)[number];

/** One service type in the supergraph: the subgraph named after it. */
export type SubgraphSummary = {
  /** The service type, which is the subgraph's name. */
  type: string;
  kind: GraphQLApiKind;
  /** The version whose SDL was composed. */
  version: string;
  /** Registered instances of the type that declare a GraphQL API. */
  instances: number;
  /** Of those, the ones a fetch may go to now (status and breaker). */
  callable: number;
};

export type SupergraphSnapshot = {
  status: SupergraphStatus;
  /** The supergraph serving now; null before the first successful composition. */
  sdl: string | null;
  /** When the serving supergraph was composed. */
  composedAt: string | null;
  /** Why the last composition failed; empty when it succeeded. */
  errors: string[];
  /** What the serving supergraph will do badly: non-null fields a dead type would wipe. */
  warnings: string[];
  subgraphs: SubgraphSummary[];
};

/** Told on every composition, successful or not. */
export type SupergraphChange = { supergraph: SupergraphSnapshot; at: string };

/**
 * Subgraph URLs in the supergraph name no instance: they name the type, and each fetch is
 * sent to an instance discovery picks then. `.invalid` never resolves (RFC 2606), so a
 * fetch that escaped routing could reach nobody.
 */
const SUBGRAPH_URL_PREFIX = "http://subgraph.invalid/";

export function subgraphUrlOf(type: string): string {
  return `${SUBGRAPH_URL_PREFIX}${encodeURIComponent(type)}`;
}

/**
 * The type a subgraph URL names and its query string ("" or "?…"), or null for any other
 * URL. Read from the text, without a URL parser: it runs on every subgraph fetch.
 */
export function subgraphTargetOf(url: string): { type: string; search: string } | null {
  if (!url.startsWith(SUBGRAPH_URL_PREFIX)) return null;
  const rest = url.slice(SUBGRAPH_URL_PREFIX.length);
  const end = rest.search(/[?#]/);
  const name = end === -1 ? rest : rest.slice(0, end);
  if (name === "") return null;
  let type: string;
  try {
    type = decodeURIComponent(name);
  } catch {
    return null;
  }
  const search = end === -1 || rest[end] === "#" ? "" : rest.slice(end).replace(/#.*$/, "");
  return { type, search };
}

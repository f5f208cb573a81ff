import { composeServices, compositionHasErrors } from "@theguild/federation-composition";
import { GraphQLError, parse } from "graphql";
import type { Composition } from "./supergraph.js";

/**
 * Federation composition (@theguild/federation-composition): one subgraph per service
 * type, its URL naming the type rather than an instance. An SDL without `@link` composes
 * as Federation v1, which is how a plain GraphQL API joins: its root fields are its own
 * and its value types shareable.
 */
export function composeSupergraph(
  subgraphs: readonly { name: string; url: string; sdl: string }[],
): Composition {
  let result: ReturnType<typeof composeServices>;
  try {
    result = composeServices(
      subgraphs.map(({ name, url, sdl }) => ({ name, url, typeDefs: parse(sdl) })),
    );
  } catch (error) {
    // The composer throws on some inputs rather than reporting them; it is still the
    // subgraphs' fault, and the last good graph must keep serving.
    const message =
      error instanceof GraphQLError || error instanceof Error ? error.message : String(error);
    return { ok: false, errors: [`Composition failed: ${message}`] };
  }
  if (compositionHasErrors(result)) {
    return { ok: false, errors: result.errors.map((error) => error.message) };
  }
  return { ok: true, supergraphSdl: result.supergraphSdl };
}

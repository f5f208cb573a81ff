import {
  buildClientSchema,
  GraphQLError,
  getIntrospectionQuery,
  type IntrospectionQuery,
  parse,
  printSchema,
} from "graphql";
import type { ServiceClient } from "../clients/service-client.js";
import type { GraphQLApi } from "../domain/federation.js";
import type { ServiceRecord } from "../domain/service.js";

/** What a federation subgraph answers with its own SDL (Federation v1 and v2 alike). */
const SERVICE_SDL_QUERY = "query SubgraphSdl { _service { sdl } }";
const INTROSPECTION_QUERY = getIntrospectionQuery({ descriptions: true });

/** Why an instance's SDL could not be read; the composer says so and tries another. */
class SdlUnavailableError extends Error {
  constructor(
    readonly serviceId: string,
    reason: string,
  ) {
    super(`${serviceId}: ${reason}`);
    this.name = "SdlUnavailableError";
  }
}

/**
 * Reads the SDL an instance serves, through the gateway's own client (its breaker,
 * deadline and response bound apply): `_service { sdl }` for a subgraph, introspection
 * printed to SDL for a plain GraphQL API. The SDL is parsed before it is returned, so
 * what is cached is at least a document.
 */
export function createSdlReader(client: ServiceClient) {
  async function ask(instance: ServiceRecord, api: GraphQLApi, query: string): Promise<unknown> {
    const outcome = await client
      .call({
        serviceId: instance.id,
        baseUrl: instance.baseUrl,
        method: "POST",
        path: api.path,
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ query }),
        idempotent: true,
      })
      .catch((error: unknown) => {
        throw new SdlUnavailableError(instance.id, (error as Error).message);
      });
    if (outcome.status !== 200) {
      throw new SdlUnavailableError(instance.id, `answered HTTP ${outcome.status}`);
    }
    let answer: { data?: unknown; errors?: { message?: unknown }[] };
    try {
      answer = JSON.parse(outcome.body.toString("utf8"));
    } catch {
      throw new SdlUnavailableError(instance.id, "answered with a body that is not JSON");
    }
    if (answer.errors?.length) {
      const first = String(answer.errors[0]?.message ?? "an error");
      throw new SdlUnavailableError(instance.id, `answered ${first}`);
    }
    return answer.data;
  }

  return {
    async read(instance: ServiceRecord, api: GraphQLApi): Promise<string> {
      const sdl =
        api.kind === "FEDERATION"
          ? sdlOfService(await ask(instance, api, SERVICE_SDL_QUERY))
          : sdlOfIntrospection(instance.id, await ask(instance, api, INTROSPECTION_QUERY));
      if (sdl === null) {
        throw new SdlUnavailableError(
          instance.id,
          api.kind === "FEDERATION"
            ? "answered no _service.sdl: is it a federation subgraph? (register it with kind PLAIN if not)"
            : "answered no introspection schema",
        );
      }
      try {
        parse(sdl);
      } catch (error) {
        const reason = error instanceof GraphQLError ? error.message : String(error);
        throw new SdlUnavailableError(instance.id, `served an SDL that does not parse: ${reason}`);
      }
      return sdl;
    },
  };
}

export type SdlReader = ReturnType<typeof createSdlReader>;

function sdlOfService(data: unknown): string | null {
  const sdl = (data as { _service?: { sdl?: unknown } } | null)?._service?.sdl;
  return typeof sdl === "string" && sdl.trim() !== "" ? sdl : null;
}

function sdlOfIntrospection(serviceId: string, data: unknown): string | null {
  if (data === null || typeof data !== "object" || !("__schema" in data)) return null;
  try {
    return printSchema(buildClientSchema(data as IntrospectionQuery));
  } catch (error) {
    throw new SdlUnavailableError(
      serviceId,
      `answered an introspection result no schema can be built from: ${(error as Error).message}`,
    );
  }
}

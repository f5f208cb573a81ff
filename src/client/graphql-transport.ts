import { GatewayClientError } from "./errors.js";

export type TransportOptions = {
  /** The gateway's base URL, e.g. http://gateway:4000 (the SDK adds /graphql). */
  gatewayUrl: string;
  /** Sent as `authorization: Bearer <token>`; none in open mode. */
  token?: string;
  /** Bound of every request, in ms. Default 5000. */
  requestTimeoutMs?: number;
};

type GraphQLAnswer = {
  data?: unknown;
  errors?: { message?: string; extensions?: { code?: unknown } }[];
};

/** GraphQL over HTTP POST /graphql: one bounded request per operation. */
export function createGraphQLTransport(options: TransportOptions) {
  const endpoint = new URL("/graphql", options.gatewayUrl).toString();
  const timeoutMs = options.requestTimeoutMs ?? 5000;
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/graphql-response+json, application/json",
    ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
  };

  async function send(
    document: string,
    variables: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<Response> {
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      return await fetch(endpoint, {
        method: "POST",
        headers,
        body: JSON.stringify({ query: document, variables }),
        signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
      });
    } catch (error) {
      if (timeout.aborted) {
        throw new GatewayClientError("TIMEOUT", `no answer within ${timeoutMs} ms`, undefined, {
          cause: error,
        });
      }
      throw new GatewayClientError(
        "NETWORK_ERROR",
        `gateway unreachable: ${describe(error)}`,
        undefined,
        {
          cause: error,
        },
      );
    }
  }

  return {
    /** The operation's data; a GatewayClientError for its first error or a failed request. */
    async request<T>(
      document: string,
      variables: Record<string, unknown> = {},
      signal?: AbortSignal,
    ): Promise<T> {
      const response = await send(document, variables, signal);
      let answer: GraphQLAnswer | undefined;
      try {
        answer = (await response.json()) as GraphQLAnswer;
      } catch {
        // Not GraphQL: a proxy's error page, or a body cut short.
      }
      const first = answer?.errors?.[0];
      if (first) {
        const code = typeof first.extensions?.code === "string" ? first.extensions.code : "UNKNOWN";
        throw new GatewayClientError(code, first.message ?? "GraphQL error", response.status);
      }
      if (!response.ok || answer?.data == null) {
        throw new GatewayClientError(
          response.status === 503 ? "SERVICE_UNAVAILABLE" : "HTTP_ERROR",
          `gateway answered HTTP ${response.status} without data`,
          response.status,
        );
      }
      return answer.data as T;
    },
  };
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
    return `${error.message}${cause}`;
  }
  return String(error);
}

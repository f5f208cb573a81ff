import { type Client, createClient } from "graphql-ws";

/** An expected GraphQL error, with its `extensions.code` (UNAUTHENTICATED, FORBIDDEN, …). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string | null,
  ) {
    super(message);
  }
}

export type ConnectionState = "connecting" | "live" | "reconnecting";

export type Api = {
  query<T>(document: string, variables?: Record<string, unknown>): Promise<T>;
  /** Runs `onData` for each event until the returned function is called. */
  subscribe<T>(
    document: string,
    onData: (data: T) => void,
    variables?: Record<string, unknown>,
  ): () => void;
  /** Calls `listener` on every change of the WebSocket's state; `reconnected` after a drop. */
  onState(listener: (state: ConnectionState, reconnected: boolean) => void): () => void;
  dispose(): void;
};

const GRAPHQL_PATH = "/graphql";
/** What the gateway closes a graphql-ws socket with when its token is bad, revoked or expired. */
const FORBIDDEN = 4403;

export type ApiOptions = {
  /**
   * Called once when the gateway refuses the token (a query answers UNAUTHENTICATED, or the
   * WebSocket is closed with 4403): it was revoked or has expired, and retrying cannot help.
   */
  onUnauthenticated?: (message: string) => void;
};

const isForbiddenClose = (event: unknown): event is CloseEvent =>
  typeof event === "object" && event !== null && (event as CloseEvent).code === FORBIDDEN;

/**
 * Queries and mutations over HTTP, subscriptions over graphql-ws, both with the token
 * (when there is one) as `Authorization: Bearer …`.
 */
export function createApi(token: string | null, options: ApiOptions = {}): Api {
  let refused = false;
  const unauthenticated = (message: string) => {
    if (refused) return;
    refused = true;
    options.onUnauthenticated?.(message);
  };
  const authorization: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const listeners = new Set<(state: ConnectionState, reconnected: boolean) => void>();
  let state: ConnectionState = "connecting";
  let connections = 0;
  const setState = (next: ConnectionState, reconnected = false) => {
    state = next;
    for (const listener of listeners) listener(next, reconnected);
  };
  const ws: Client = createClient({
    url: `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${GRAPHQL_PATH}`,
    connectionParams: authorization,
    lazy: false,
    keepAlive: 10_000,
    retryAttempts: Number.POSITIVE_INFINITY,
    // Every close but 4403: a refused token stays refused, so retrying would only spin.
    shouldRetry: (event) => !isForbiddenClose(event),
    // Back off to 5 s at most: the page should be live again soon after the gateway is.
    retryWait: (retries) =>
      new Promise((resolve) => setTimeout(resolve, Math.min(5000, 300 * 2 ** retries))),
    on: {
      connected: () => {
        connections += 1;
        setState("live", connections > 1);
      },
      closed: (event) => {
        if (isForbiddenClose(event)) {
          unauthenticated(event.reason || "The token was revoked or has expired.");
        }
        setState(connections === 0 ? "connecting" : "reconnecting");
      },
    },
  });

  return {
    async query<T>(document: string, variables: Record<string, unknown> = {}): Promise<T> {
      const response = await fetch(GRAPHQL_PATH, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          ...authorization,
        },
        body: JSON.stringify({ query: document, variables }),
      });
      let body: { data?: T | null; errors?: { message: string; extensions?: { code?: string } }[] };
      try {
        body = await response.json();
      } catch {
        throw new ApiError(`The gateway answered ${response.status} without JSON.`, null);
      }
      const error = body.errors?.[0];
      if (error) {
        const code = error.extensions?.code ?? null;
        if (code === "UNAUTHENTICATED") unauthenticated(error.message);
        throw new ApiError(error.message, code);
      }
      if (!body.data)
        throw new ApiError(`The gateway answered ${response.status} without data.`, null);
      return body.data;
    },
    subscribe<T>(document: string, onData: (data: T) => void, variables = {}) {
      return ws.subscribe<T>(
        { query: document, variables },
        {
          next: (result) => {
            if (result.data) onData(result.data as T);
          },
          error: () => {},
          complete: () => {},
        },
      );
    },
    onState(listener) {
      listeners.add(listener);
      listener(state, false);
      return () => listeners.delete(listener);
    },
    dispose() {
      listeners.clear();
      void ws.dispose();
    },
  };
}

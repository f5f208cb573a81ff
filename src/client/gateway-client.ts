import { type Client, createClient } from "graphql-ws";
import WebSocket from "ws";
import { normalizeServiceType } from "../domain/service.js";
import { GatewayClientError } from "./errors.js";
import { createGraphQLTransport, type TransportOptions } from "./graphql-transport.js";
import {
  type CallServiceInput,
  type ExecuteWorkflowInput,
  type RegistryEvent,
  SERVICE_FIELDS,
  type SelectionStrategy,
  type Service,
  type ServiceCallResult,
  type ServiceStatus,
  WORKFLOW_FIELDS,
  type WorkflowExecution,
} from "./types.js";

export type GatewayClientOptions = TransportOptions & {
  /** graphql-ws reconnects this many times in a row before giving up. Default Infinity. */
  retryAttempts?: number;
  /** graphql-ws's wait before a reconnect; its randomised exponential backoff when omitted. */
  retryWait?: (retries: number) => Promise<void>;
};

export type SubscriptionHandlers<T> = {
  onNext: (data: T) => void;
  onError?: (error: GatewayClientError) => void;
  onComplete?: () => void;
};

export type WatchRegistryOptions = {
  /** Only this service type (as registerService normalises it). */
  type?: string;
  /** Deliver what happened after this revision first; only what comes next when omitted. */
  sinceRevision?: number;
  /** Every event, live or caught up, once and in revision order. */
  onEvent: (event: RegistryEvent) => void;
  /** The gateway no longer keeps every missed change: read the registry again (`discover`). */
  onResync?: (revision: number) => void;
  onError?: (error: GatewayClientError) => void;
};

const DISCOVER = `query($filter: ServiceFilter, $after: String) {
  services(filter: $filter, first: 100, after: $after) {
    nodes { ${SERVICE_FIELDS} } pageInfo { hasNextPage endCursor } } }`;
const SELECT = `query($type: String!, $strategy: SelectionStrategy) {
  serviceByType(type: $type, strategy: $strategy) { ${SERVICE_FIELDS} } }`;
const CALL = `mutation($input: CallServiceInput!) { callService(input: $input) {
  status headers body serviceId attempts instancesTried breakerState durationMs } }`;
const EXECUTE = `mutation($input: ExecuteWorkflowInput!) { executeWorkflow(input: $input) { ${WORKFLOW_FIELDS} } }`;
// 100 a page: with every Service field, the default 500 exceeds the complexity limit.
const CHANGES = `query($since: Int!) { registryChanges(sinceRevision: $since, first: 100) {
  events { change revision at service { ${SERVICE_FIELDS} } } revision resyncRequired hasMore } }`;
const CURRENT_REVISION = `query { registryChanges(sinceRevision: 0, first: 1) { revision } }`;
const REGISTRY_CHANGED = `subscription($type: String) { registryChanged(type: $type) {
  change revision at service { ${SERVICE_FIELDS} } } }`;

type RegistryChanges = {
  events: RegistryEvent[];
  revision: number;
  resyncRequired: boolean;
  hasMore: boolean;
};

export type GatewayClient = ReturnType<typeof createGatewayClient>;

/** Discovery, calls, workflows and subscriptions of one gateway, typed. */
export function createGatewayClient(options: GatewayClientOptions) {
  const transport = createGraphQLTransport(options);
  const connectedListeners = new Set<() => void>();
  let socket: Client | undefined;

  // One WebSocket for every subscription, opened with the first one.
  function ws(): Client {
    socket ??= createClient({
      url: toWebSocketUrl(options.gatewayUrl),
      webSocketImpl: WebSocket,
      connectionParams: options.token ? { authorization: `Bearer ${options.token}` } : {},
      retryAttempts: options.retryAttempts ?? Number.POSITIVE_INFINITY,
      // A gateway that is restarting closes abruptly or refuses; keep reconnecting.
      shouldRetry: () => true,
      ...(options.retryWait ? { retryWait: options.retryWait } : {}),
      on: {
        // Also the first time: what changed between a watch's start and its subscription.
        connected: () => {
          for (const listener of connectedListeners) listener();
        },
      },
    });
    return socket;
  }

  const query = <T>(document: string, variables: Record<string, unknown> = {}) =>
    transport.request<T>(document, variables);

  function subscribe<T>(
    document: string,
    variables: Record<string, unknown>,
    handlers: SubscriptionHandlers<T>,
  ): () => void {
    return ws().subscribe<T>(
      { query: document, variables },
      {
        next: (result) => {
          const first = result.errors?.[0];
          if (first) handlers.onError?.(toClientError(first));
          else if (result.data) handlers.onNext(result.data);
        },
        error: (error) => handlers.onError?.(toClientError(error)),
        complete: () => handlers.onComplete?.(),
      },
    );
  }

  return {
    /** Any operation on /graphql; its data, or a GatewayClientError. */
    query,
    /** Every visible instance of a type (every page), optionally only in these statuses. */
    async discover(filter: {
      type: string;
      status?: ServiceStatus[];
      capability?: string;
      tags?: string[];
      includeOffline?: boolean;
    }): Promise<Service[]> {
      const found: Service[] = [];
      let after: string | null = null;
      do {
        const { services }: { services: DiscoverPage } = await query(DISCOVER, { filter, after });
        found.push(...services.nodes);
        after = services.pageInfo.hasNextPage ? services.pageInfo.endCursor : null;
      } while (after);
      return found;
    },
    /** One ONLINE or DEGRADED instance to call, chosen by the gateway; null when none. */
    async selectInstance(type: string, strategy?: SelectionStrategy): Promise<Service | null> {
      const { serviceByType } = await query<{ serviceByType: Service | null }>(SELECT, {
        type,
        strategy,
      });
      return serviceByType;
    },
    /** A request through the gateway's breaker, retries and timeout; a 4xx is a result too. */
    async callService(input: CallServiceInput): Promise<ServiceCallResult> {
      const { callService } = await query<{ callService: ServiceCallResult }>(CALL, { input });
      return callService;
    },
    async executeWorkflow(input: ExecuteWorkflowInput): Promise<WorkflowExecution> {
      const { executeWorkflow } = await query<{ executeWorkflow: WorkflowExecution }>(EXECUTE, {
        input,
      });
      return executeWorkflow;
    },
    /** A subscription over graphql-ws that survives reconnects; returns its end. */
    subscribe,
    /**
     * registryChanged without gaps: remembers the last revision, and after every reconnect
     * first reads registryChanges from it, then carries on with the live events.
     */
    watchRegistry(watch: WatchRegistryOptions): () => void {
      const type = watch.type === undefined ? undefined : normalizeServiceType(watch.type);
      let last = watch.sinceRevision;
      let catchingUp: RegistryEvent[] | undefined;
      let ended = false;

      const deliver = (event: RegistryEvent) => {
        if (ended || (last !== undefined && event.revision <= last)) return;
        last = event.revision;
        watch.onEvent(event);
      };

      async function catchUp(): Promise<void> {
        if (last === undefined || catchingUp) return;
        // Live events that arrive meanwhile wait, so that delivery stays in revision order.
        catchingUp = [];
        try {
          let more = true;
          while (more && !ended) {
            const { registryChanges: page }: { registryChanges: RegistryChanges } = await query(
              CHANGES,
              { since: last },
            );
            if (page.resyncRequired) {
              last = page.revision;
              watch.onResync?.(page.revision);
              break;
            }
            for (const event of page.events) {
              if (type === undefined || event.service.type === type) deliver(event);
              // Events of other types still move the mark, so they are not read again.
              else if (last === undefined || event.revision > last) last = event.revision;
            }
            more = page.hasMore && page.events.length > 0;
          }
        } catch (error) {
          watch.onError?.(toClientError(error));
        } finally {
          releaseHeld();
        }
      }

      /** The live events held while catching up, delivered in revision order. */
      function releaseHeld(): void {
        const waiting = (catchingUp ?? []).sort((a, b) => a.revision - b.revision);
        catchingUp = undefined;
        for (const event of waiting) deliver(event);
      }

      // Without a revision to start from: the registry's current one, so that a disconnect
      // before the first event still catches up.
      async function startFromNow(): Promise<void> {
        catchingUp = [];
        try {
          const { registryChanges } = await query<{ registryChanges: { revision: number } }>(
            CURRENT_REVISION,
          );
          last ??= registryChanges.revision;
        } catch (error) {
          watch.onError?.(toClientError(error));
        } finally {
          releaseHeld();
        }
      }

      connectedListeners.add(onReconnect);
      function onReconnect() {
        void catchUp();
      }
      const unsubscribe = subscribe<{ registryChanged: RegistryEvent }>(
        REGISTRY_CHANGED,
        { type },
        {
          onNext: ({ registryChanged }) => {
            if (catchingUp) catchingUp.push(registryChanged);
            else deliver(registryChanged);
          },
          onError: watch.onError,
        },
      );
      if (last === undefined) void startFromNow();
      return () => {
        ended = true;
        connectedListeners.delete(onReconnect);
        unsubscribe();
      };
    },
    /** Closes the WebSocket, ending every subscription. */
    async close(): Promise<void> {
      const open = socket;
      socket = undefined;
      await open?.dispose();
    },
  };
}

type DiscoverPage = {
  nodes: Service[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
};

function toWebSocketUrl(gatewayUrl: string): string {
  const url = new URL("/graphql", gatewayUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

function toClientError(error: unknown): GatewayClientError {
  if (error instanceof GatewayClientError) return error;
  if (typeof error === "object" && error !== null && "message" in error) {
    const extensions = (error as { extensions?: { code?: unknown } }).extensions;
    const code = typeof extensions?.code === "string" ? extensions.code : "UNKNOWN";
    return new GatewayClientError(code, String((error as { message: unknown }).message));
  }
  // graphql-ws reports a closed socket as its CloseEvent.
  if (typeof error === "object" && error !== null && "code" in error) {
    const { code, reason } = error as { code: unknown; reason?: unknown };
    return new GatewayClientError(
      "NETWORK_ERROR",
      `WebSocket closed: ${code} ${reason ?? ""}`.trim(),
    );
  }
  return new GatewayClientError("UNKNOWN", String(error));
}

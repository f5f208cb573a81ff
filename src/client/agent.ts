import { GatewayClientError } from "./errors.js";
import { createGraphQLTransport, type TransportOptions } from "./graphql-transport.js";
import {
  type RegisterServiceInput,
  type ReportedStatus,
  SERVICE_FIELDS,
  type Service,
} from "./types.js";

export type ServiceAgentOptions = TransportOptions & {
  /** The registration, as GraphQL's registerService takes it. */
  service: RegisterServiceInput;
  /** Backoff while the gateway is unreachable: base 1000 ms, doubling up to 30000 ms, jittered. */
  backoff?: { baseMs?: number; maxMs?: number };
  /** A number in [0, 1); Math.random when omitted (tests pin the jitter with it). */
  random?: () => number;
};

/**
 * What the agent is doing. `registered` heartbeats; `retrying` (the gateway unreachable,
 * failing or refusing) backs off and then registers again: a gateway that lost its store
 * would answer the next heartbeat NOT_FOUND anyway, so registering first saves a round trip.
 */
export type AgentState =
  | { kind: "idle" }
  | { kind: "registering" }
  | { kind: "registered"; serviceId: string; lastHeartbeatAt: Date | null }
  | { kind: "retrying"; failures: number; lastError: GatewayClientError; retryAt: Date }
  | { kind: "stopped" };

type AgentEvents = {
  registered: (service: Service) => void;
  heartbeat: (service: Service) => void;
  error: (error: GatewayClientError) => void;
};

const REGISTER = `mutation($input: RegisterServiceInput!) { registerService(input: $input) { ${SERVICE_FIELDS} } }`;
const HEARTBEAT = `mutation($id: ID!, $status: ServiceStatus) { heartbeat(id: $id, status: $status) { ${SERVICE_FIELDS} } }`;
const UNREGISTER = `mutation($id: ID!) { unregisterService(id: $id) }`;

export type ServiceAgent = ReturnType<typeof createServiceAgent>;

/**
 * Keeps one service instance registered: registers on start, heartbeats every
 * heartbeatIntervalSeconds (±10 %), registers again when the gateway forgot it (NOT_FOUND),
 * backs off while the gateway is unreachable, and unregisters on stop. The background loop
 * never throws: its failures go to the "error" listeners and to `status()`.
 */
export function createServiceAgent(options: ServiceAgentOptions) {
  const transport = createGraphQLTransport(options);
  const random = options.random ?? Math.random;
  const baseMs = options.backoff?.baseMs ?? 1000;
  const maxMs = options.backoff?.maxMs ?? 30_000;
  const intervalMs = (options.service.heartbeatIntervalSeconds ?? 30) * 1000;
  const input: RegisterServiceInput = { ...options.service };
  const listeners: { [E in keyof AgentEvents]: Set<AgentEvents[E]> } = {
    registered: new Set(),
    heartbeat: new Set(),
    error: new Set(),
  };
  let state: AgentState = { kind: "idle" };
  let reported: ReportedStatus | undefined;
  let timer: NodeJS.Timeout | undefined;
  // One step at a time: the timer, reportStatus and stop all queue behind the running one.
  let running: Promise<void> = Promise.resolve();
  const stopping = new AbortController();

  function emit<E extends keyof AgentEvents>(event: E, ...args: Parameters<AgentEvents[E]>): void {
    for (const listener of listeners[event]) {
      try {
        (listener as (...a: Parameters<AgentEvents[E]>) => void)(...args);
      } catch {
        // A listener's bug must not stop the heartbeats.
      }
    }
  }

  function schedule(delayMs: number): void {
    clearTimeout(timer);
    if (state.kind === "stopped") return;
    timer = setTimeout(() => void enqueue(), delayMs);
    // The agent never keeps its process alive on its own.
    timer.unref();
  }

  function enqueue(): Promise<void> {
    running = running.then(step);
    return running;
  }

  // Read through a call: TypeScript would otherwise keep a narrowing across awaits.
  const current = (): AgentState => state;
  const jitter = (ms: number, spread: number) => ms * (1 - spread + 2 * spread * random());

  async function register(): Promise<void> {
    state = { kind: "registering" };
    const { registerService } = await transport.request<{ registerService: Service }>(
      REGISTER,
      { input },
      stopping.signal,
    );
    // Registering again after a gateway restart keeps the same id.
    input.id = registerService.id;
    if (current().kind === "stopped") return;
    state = { kind: "registered", serviceId: registerService.id, lastHeartbeatAt: null };
    emit("registered", registerService);
    // A status reported while the gateway was away is sent with the first heartbeat.
    if (reported && reported !== "ONLINE") await heartbeat(registerService.id);
  }

  async function heartbeat(id: string): Promise<void> {
    const { heartbeat: service } = await transport.request<{ heartbeat: Service }>(
      HEARTBEAT,
      { id, status: reported },
      stopping.signal,
    );
    if (current().kind === "stopped") return;
    state = { kind: "registered", serviceId: id, lastHeartbeatAt: new Date() };
    emit("heartbeat", service);
  }

  async function step(): Promise<void> {
    if (state.kind === "stopped") return;
    const failures = state.kind === "retrying" ? state.failures : 0;
    try {
      if (state.kind === "registered") {
        try {
          await heartbeat(state.serviceId);
        } catch (error) {
          // The gateway restarted on an empty store, or an operator removed us: register again.
          if (!(error instanceof GatewayClientError && error.code === "NOT_FOUND")) throw error;
          await register();
        }
      } else {
        await register();
      }
      schedule(jitter(intervalMs, 0.1));
    } catch (error) {
      // stop() may have run while the request was out.
      if (current().kind === "stopped") return;
      const failure = asClientError(error);
      const delay = jitter(Math.min(maxMs, baseMs * 2 ** failures), 0.2);
      state = {
        kind: "retrying",
        failures: failures + 1,
        lastError: failure,
        retryAt: new Date(Date.now() + delay),
      };
      emit("error", failure);
      schedule(delay);
    }
  }

  async function stop(): Promise<void> {
    if (state.kind === "stopped") return;
    state = { kind: "stopped" };
    clearTimeout(timer);
    stopping.abort();
    await running;
    // Also after a failed heartbeat: the gateway may still hold the registration.
    const id = input.id;
    if (!id) return;
    try {
      await transport.request(UNREGISTER, { id });
    } catch (error) {
      // Stopping must not fail a shutdown; the gateway expires us after ttlSeconds anyway.
      emit("error", asClientError(error));
    }
  }

  return {
    /**
     * Registers, then heartbeats in the background. Rejects when the gateway refuses the
     * registration (bad input, a token that may not register it): that is a configuration
     * error. While the gateway is unreachable it resolves and keeps trying in the background.
     */
    async start(): Promise<void> {
      if (state.kind !== "idle") return;
      await enqueue();
      const after = current();
      if (after.kind === "retrying" && !after.lastError.retryable) {
        const error = after.lastError;
        await stop();
        throw error;
      }
    },
    stop,
    /** The status sent with every heartbeat from now on; sends one now. */
    async reportStatus(status: ReportedStatus): Promise<void> {
      reported = status;
      if (state.kind === "registered") await enqueue();
    },
    /** On the first SIGTERM or SIGINT: stop (and unregister), then let the signal end the process. */
    stopOnSignals(): () => void {
      const onSignal = (signal: NodeJS.Signals) => {
        remove();
        void stop().finally(() => process.kill(process.pid, signal));
      };
      const remove = () => {
        process.off("SIGTERM", onSignal);
        process.off("SIGINT", onSignal);
      };
      process.once("SIGTERM", onSignal);
      process.once("SIGINT", onSignal);
      return remove;
    },
    status(): AgentState {
      return state;
    },
    /** Adds a listener; returns its removal. */
    on<E extends keyof AgentEvents>(event: E, listener: AgentEvents[E]): () => void {
      listeners[event].add(listener);
      return () => listeners[event].delete(listener);
    },
  };
}

function asClientError(error: unknown): GatewayClientError {
  if (error instanceof GatewayClientError) return error;
  return new GatewayClientError(
    "UNKNOWN",
    error instanceof Error ? error.message : String(error),
    undefined,
    {
      cause: error,
    },
  );
}

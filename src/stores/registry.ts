import type {
  HealthCheck,
  RegistryChangeEvent,
  ServiceRecord,
  ServiceStatus,
} from "../domain/service.js";
import { statusAfterHeartbeat } from "../domain/status.js";

/** Index lookups a store answers directly; every given criterion must hold. */
export type IndexQuery = {
  type?: string;
  /** Any of these statuses. */
  statuses?: readonly ServiceStatus[];
  capability?: string;
  /** All of these tags. */
  tags?: readonly string[];
};

/** A record as stored, with the version that optimistic writes compare against. */
export type StoredService = { record: ServiceRecord; version: number };

export type PutResult = { ok: true; revision: number } | { ok: false; reason: "conflict" };

export type RemoveResult =
  | { ok: true; removed: ServiceRecord; revision: number }
  | { ok: false; reason: "not_found" | "conflict" };

export type HeartbeatRequest = {
  id: string;
  at: string;
  /** Status the service reports; null applies statusAfterHeartbeat(). */
  status: ServiceStatus | null;
  /** Owner key of the caller; a service with an owner accepts heartbeats only from it. */
  callerOwner: string | null;
  callerIsAdmin: boolean;
  /** Whether a service without an owner accepts heartbeats from anyone (open mode). */
  unownedIsOpen: boolean;
};

export type HeartbeatResult =
  | { outcome: "ok"; previousStatus: ServiceStatus; record: ServiceRecord; revision: number | null }
  | { outcome: "not_found" }
  | { outcome: "forbidden" };

/**
 * Live registry state (strategy): memory for one process, Redis for replicas.
 * Every write is atomic: no reader sees a half-written service or a stale index entry.
 * Stores never publish events; the services layer does, from what these calls return.
 */
export interface RegistryStore {
  readonly kind: string;
  get(id: string): Promise<StoredService | null>;
  /** Records matching every criterion, in no particular order. */
  find(query: IndexQuery): Promise<ServiceRecord[]>;
  /**
   * Writes the whole record if the stored version still equals `expectedVersion`
   * (null: the id must not exist). A change of revision is counted on success.
   */
  put(record: ServiceRecord, expectedVersion: number | null): Promise<PutResult>;
  /**
   * Deletes the service and its index entries, if its version still equals
   * `expectedVersion` when one is given.
   */
  remove(id: string, expectedVersion?: number): Promise<RemoveResult>;
  /** Refreshes lastHeartbeat in one atomic step (the hot path: one round trip). */
  heartbeat(request: HeartbeatRequest): Promise<HeartbeatResult>;
  /**
   * Keeps the latest probe result, if the service's version still equals
   * `expectedVersion` when one is given.
   */
  saveHealth(
    check: HealthCheck,
    expectedVersion?: number,
  ): Promise<"saved" | "missing" | "conflict">;
  /**
   * Keeps one probe's result in the service's ring of recent checks, newest first; only
   * the newest `keep` are kept. Removing the service drops its ring.
   */
  appendHealthCheck(check: HealthCheck, keep: number): Promise<void>;
  /** The service's kept checks, newest first, at most `limit`; none for an unknown id. */
  recentHealthChecks(id: string, limit: number): Promise<HealthCheck[]>;
  /** Increments and returns a named counter (round-robin cursors). */
  nextCounter(name: string): Promise<number>;
  /** Registry revision: increments on every registration, update, status change and removal. */
  revision(): Promise<number>;
  /**
   * Whether this store was filled from the durable record since it last started empty.
   * A Redis that restarts or is flushed loses the mark with its data.
   */
  isRestored(): Promise<boolean>;
  markRestored(): Promise<void>;
  /** Keeps a registry change for clients catching up; only the newest `keep` are kept. */
  appendChange(event: RegistryChangeEvent, keep: number): Promise<void>;
  /** Kept changes after `revision`, oldest first, and the oldest revision still kept. */
  changesSince(
    revision: number,
    limit: number,
  ): Promise<{ events: RegistryChangeEvent[]; oldestKept: number | null }>;
  /** Throws when the backend is unreachable. */
  ping(): Promise<void>;
  /**
   * Tells when the connection to the backend is lost (false) and back (true), for a
   * store whose state can vanish with its server; absent where it cannot (memory).
   * Returns the unsubscribe function.
   */
  onConnectionChange?(listener: (connected: boolean) => void): () => void;
}

/**
 * The index entries of a service besides its status, as `<kind>:<value>`; both stores key
 * their indexes by these names.
 */
/**
 * What a heartbeat does to a stored record, for the stores that decide it in TypeScript
 * (Redis decides the same in lua/registry-heartbeat.lua): null when the caller may not
 * heartbeat it (another owner's, or an unowned one outside open mode), else its new
 * status and heartbeat time.
 */
export function heartbeatOutcome(
  record: ServiceRecord,
  request: HeartbeatRequest,
): { status: ServiceStatus; lastHeartbeat: string } | null {
  const mayChange =
    request.callerIsAdmin ||
    (record.owner === null ? request.unownedIsOpen : record.owner === request.callerOwner);
  if (!mayChange) return null;
  const status = statusAfterHeartbeat(
    record.status,
    request.status,
    record.health?.consecutiveFailures ?? 0,
  );
  return { status, lastHeartbeat: request.at };
}

export function indexNamesOf(record: ServiceRecord): string[] {
  return [
    `type:${record.type}`,
    ...record.tags.map((tag) => `tag:${tag}`),
    ...record.capabilities.map((capability) => `cap:${capability}`),
  ];
}

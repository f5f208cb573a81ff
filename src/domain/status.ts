import type { HealthCheck, ServiceStatus } from "./service.js";

// Every rule that moves a service from one status to another, written once. The Redis
// heartbeat script applies statusAfterHeartbeat() itself, in the same round trip as the
// write; the store contract suite checks it against this function for every input.

/** Statuses a caller may be routed to: discovery selects, expiry and health count these. */
export const CALLABLE_STATUSES: readonly ServiceStatus[] = ["ONLINE", "DEGRADED"];

/** Statuses active probes watch: an operator's MAINTENANCE is left alone. */
export const PROBED_STATUSES: readonly ServiceStatus[] = ["ONLINE", "DEGRADED", "OFFLINE"];

/** Statuses lists show unless a filter asks for others. */
export const VISIBLE_BY_DEFAULT: readonly ServiceStatus[] = ["ONLINE", "DEGRADED", "MAINTENANCE"];

export function isCallableStatus(status: ServiceStatus): boolean {
  return CALLABLE_STATUSES.includes(status);
}

/** A (re-)registration brings a service ONLINE, except out of an operator's MAINTENANCE. */
export function statusOnRegistration(existing: ServiceStatus | null): ServiceStatus {
  return existing === "MAINTENANCE" ? "MAINTENANCE" : "ONLINE";
}

/**
 * The status a heartbeat leaves a service in. A reported status wins. Otherwise an
 * OFFLINE service comes back ONLINE (it is alive after all), unless its probes are
 * failing: then the probes decide, or it would flap with every heartbeat.
 */
export function statusAfterHeartbeat(
  current: ServiceStatus,
  reported: ServiceStatus | null,
  probeFailures = 0,
): ServiceStatus {
  if (reported) return reported;
  return current === "OFFLINE" && probeFailures === 0 ? "ONLINE" : current;
}

/** A callable service whose heartbeat is overdue goes OFFLINE; null: expiry leaves it be. */
export function statusAfterExpiry(current: ServiceStatus): ServiceStatus | null {
  return isCallableStatus(current) ? "OFFLINE" : null;
}

/** Whether a heartbeat at `lastHeartbeat` with `ttlSeconds` is overdue at `nowMs`. */
export function heartbeatOverdue(
  service: { lastHeartbeat: string; ttlSeconds: number },
  nowMs: number,
): boolean {
  return Date.parse(service.lastHeartbeat) + service.ttlSeconds * 1000 < nowMs;
}

/** What one probe found: a health endpoint that answered well, said degraded, or failed. */
export type ProbeVerdict = "healthy" | "degraded" | "failing";

const statusOfVerdict: Record<ProbeVerdict, ServiceStatus> = {
  healthy: "ONLINE",
  degraded: "DEGRADED",
  failing: "OFFLINE",
};

export type ProbeThresholds = { fallAfter: number; riseAfter: number };

/** The probe's own reading of the service, with the runs of failures and successes so far. */
export function healthCheckOf(
  verdict: ProbeVerdict,
  previous: HealthCheck | null,
): Pick<HealthCheck, "status" | "consecutiveFailures" | "consecutiveSuccesses"> {
  return {
    status: statusOfVerdict[verdict],
    consecutiveFailures: verdict === "failing" ? (previous?.consecutiveFailures ?? 0) + 1 : 0,
    consecutiveSuccesses: verdict === "healthy" ? (previous?.consecutiveSuccesses ?? 0) + 1 : 0,
  };
}

/**
 * The status a probe leaves a service in, with hysteresis: failures degrade an ONLINE
 * service at once and take it OFFLINE after `fallAfter` in a row; `riseAfter` successes
 * in a row bring it back ONLINE. A service that reports "degraded" is DEGRADED.
 * MAINTENANCE is never changed, and a service whose heartbeat has expired is not revived
 * by probes alone (its heartbeat will do that).
 */
export function statusAfterProbe(
  current: ServiceStatus,
  check: Pick<HealthCheck, "status" | "consecutiveFailures" | "consecutiveSuccesses">,
  heartbeatFresh: boolean,
  { fallAfter, riseAfter }: ProbeThresholds,
): ServiceStatus {
  if (current === "MAINTENANCE") return current;
  switch (check.status) {
    case "OFFLINE":
      if (check.consecutiveFailures >= fallAfter) return "OFFLINE";
      return current === "ONLINE" ? "DEGRADED" : current;
    case "DEGRADED":
      return current === "OFFLINE" && !heartbeatFresh ? current : "DEGRADED";
    default:
      if (current === "ONLINE" || check.consecutiveSuccesses < riseAfter) return current;
      return current === "OFFLINE" && !heartbeatFresh ? current : "ONLINE";
  }
}

/** Why a probe changed the status, in words for the history. */
export function probeReason(check: HealthCheck): string {
  if (check.status === "ONLINE")
    return `probe healthy ${check.consecutiveSuccesses} times in a row`;
  if (check.status === "DEGRADED") return "probe reported degraded";
  return `probe failed ${check.consecutiveFailures} time(s) in a row: ${check.error}`;
}

/** An ONLINE instance whose circuit breaker refuses calls is no better than DEGRADED. */
export function statusWithBreaker(status: ServiceStatus, breakerRefuses: boolean): ServiceStatus {
  return status === "ONLINE" && breakerRefuses ? "DEGRADED" : status;
}

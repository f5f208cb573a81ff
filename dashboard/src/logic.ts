// The dashboard's rules, free of the DOM: test/dashboard/logic.test.ts runs them in Node.
import type {
  CircuitState,
  ExecutionSummary,
  LiveEvent,
  ServiceRow,
  ServiceStatus,
  WorkflowStatus,
} from "./types.js";

/** "12 s ago", "5 min ago", "3 h ago", "2 d ago"; "in 4 s" for a time ahead (clock skew). */
export function formatAge(iso: string, now: number): string {
  const elapsed = now - Date.parse(iso);
  if (!Number.isFinite(elapsed)) return "—";
  // A server clock a moment ahead of the browser's is not news: "0 s ago".
  const ms = elapsed > -2000 && elapsed < 0 ? 0 : elapsed;
  const ahead = ms < 0;
  const s = Math.round(Math.abs(ms) / 1000);
  const text =
    s < 60
      ? `${s} s`
      : s < 3600
        ? `${Math.floor(s / 60)} min`
        : s < 86_400
          ? `${Math.floor(s / 3600)} h`
          : `${Math.floor(s / 86_400)} d`;
  return ahead ? `in ${text}` : `${text} ago`;
}

/** The exact time, for a `title`: "2026-12-01 22:03:04 UTC". */
export function exactTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

export const STATUS_ICON: Record<ServiceStatus, string> = {
  ONLINE: "✔",
  DEGRADED: "▲",
  MAINTENANCE: "⚙",
  OFFLINE: "✖",
};

export const BREAKER_ICON: Record<CircuitState, string> = {
  CLOSED: "○",
  HALF_OPEN: "◐",
  OPEN: "●",
  ISOLATED: "■",
};

export const WORKFLOW_ICON: Record<WorkflowStatus, string> = {
  PENDING: "…",
  RUNNING: "▶",
  COMPLETED: "✔",
  FAILED: "✖",
  CANCELLED: "⊘",
  COMPENSATED: "↺",
};

/** An execution or step that will change no more. */
export function isTerminal(status: WorkflowStatus): boolean {
  return status !== "PENDING" && status !== "RUNNING";
}

/**
 * Each step's `dependsOn`, read from a definition's JSON (`{ steps: [{ id, dependsOn }] }`);
 * an empty map for anything else.
 */
export function dependenciesOf(definition: unknown): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  const steps = (definition as { steps?: unknown } | null)?.steps;
  if (!Array.isArray(steps)) return deps;
  for (const step of steps as { id?: unknown; dependsOn?: unknown }[]) {
    if (typeof step?.id !== "string") continue;
    const on = Array.isArray(step.dependsOn)
      ? step.dependsOn.filter((id): id is string => typeof id === "string")
      : [];
    deps.set(step.id, on);
  }
  return deps;
}

/**
 * The DAG's columns: a step sits one column right of its deepest dependency; steps
 * without known dependencies (or in a cycle, which a valid definition never has) in the
 * first. Within a column, steps keep the execution's order.
 */
export function dagLayers(
  stepIds: readonly string[],
  dependsOn: ReadonlyMap<string, readonly string[]>,
): string[][] {
  const known = new Set(stepIds);
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const depthOf = (id: string): number => {
    const cached = depth.get(id);
    if (cached !== undefined) return cached;
    if (visiting.has(id)) return 0;
    visiting.add(id);
    const parents = (dependsOn.get(id) ?? []).filter((parent) => known.has(parent));
    const value = parents.length === 0 ? 0 : 1 + Math.max(...parents.map(depthOf));
    visiting.delete(id);
    depth.set(id, value);
    return value;
  };
  const layers: string[][] = [];
  for (const id of stepIds) {
    const d = depthOf(id);
    while (layers.length <= d) layers.push([]);
    layers[d]?.push(id);
  }
  return layers;
}

export type ServiceFilter = { text: string; statuses: ReadonlySet<ServiceStatus> };

/** Whether a row passes the filter: any of the statuses (none: all), text in name, id, type or version. */
export function matchesFilter(service: ServiceRow, filter: ServiceFilter): boolean {
  if (filter.statuses.size > 0 && !filter.statuses.has(service.status)) return false;
  const text = filter.text.trim().toLowerCase();
  if (text === "") return true;
  return [service.name, service.id, service.type, service.version].some((field) =>
    field.toLowerCase().includes(text),
  );
}

export type ListRow =
  | { kind: "group"; type: string; count: number }
  | { kind: "service"; service: ServiceRow };

/** The rows of the services list: each type a heading, then its instances by name and id. */
export function groupRows(services: Iterable<ServiceRow>, filter: ServiceFilter): ListRow[] {
  const byType = new Map<string, ServiceRow[]>();
  for (const service of services) {
    if (!matchesFilter(service, filter)) continue;
    const group = byType.get(service.type);
    if (group) group.push(service);
    else byType.set(service.type, [service]);
  }
  const rows: ListRow[] = [];
  for (const type of [...byType.keys()].sort()) {
    const group = (byType.get(type) ?? []).sort(
      (a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id),
    );
    rows.push({ kind: "group", type, count: group.length });
    for (const service of group) rows.push({ kind: "service", service });
  }
  return rows;
}

/** The slice of a list of fixed-height rows to render for a viewport, with overscan. */
export function visibleWindow(
  total: number,
  rowHeight: number,
  scrollTop: number,
  viewportHeight: number,
  overscan = 8,
): { start: number; end: number } {
  const start = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const end = Math.min(total, Math.ceil((scrollTop + viewportHeight) / rowHeight) + overscan);
  return { start, end: Math.max(start, end) };
}

/**
 * The registry after one live event. Only registry events add and remove rows; a status
 * event carries the whole row and a breaker event the breaker, each for a service known
 * already. (Unregistering publishes UNREGISTERED, then OFFLINE with reason "unregistered":
 * that status event must not bring the row back. One for a service not known yet is
 * skipped: its registration's event, or a reload, brings it.) Returns the same map when
 * nothing changed.
 */
export function applyEvent(
  services: ReadonlyMap<string, ServiceRow>,
  event: LiveEvent,
): ReadonlyMap<string, ServiceRow> {
  if (event.kind === "breaker") {
    const known = services.get(event.serviceId);
    if (!known) return services;
    return new Map(services).set(event.serviceId, { ...known, circuitBreaker: event.breaker });
  }
  if (event.kind === "status" && !services.has(event.service.id)) return services;
  const next = new Map(services);
  if (event.kind === "registry" && event.change === "UNREGISTERED") next.delete(event.service.id);
  else next.set(event.service.id, event.service);
  return next;
}

/** Counts by status of the rows on screen (the overview's tiles follow live events). */
export function countByStatus(services: Iterable<ServiceRow>): Record<ServiceStatus, number> {
  const counts: Record<ServiceStatus, number> = {
    ONLINE: 0,
    DEGRADED: 0,
    MAINTENANCE: 0,
    OFFLINE: 0,
  };
  for (const service of services) counts[service.status] += 1;
  return counts;
}

/** One line of the event stream. */
export function describeEvent(event: LiveEvent): { serviceId: string; text: string } {
  if (event.kind === "registry") {
    return {
      serviceId: event.service.id,
      text: `${event.change.toLowerCase()} ${event.service.name} (${event.service.type})`,
    };
  }
  if (event.kind === "status") {
    return {
      serviceId: event.service.id,
      text: `${event.service.name}: ${event.previousStatus ?? "—"} → ${event.status} (${event.reason})`,
    };
  }
  return { serviceId: event.serviceId, text: `breaker of ${event.serviceId} → ${event.state}` };
}

/**
 * The points of a latency trend, oldest on the left, as an SVG polyline's `points`: one
 * per check, newest last. A check without a latency (unreachable) has no point, and the
 * scale runs from 0 to the highest latency, so a flat line is a steady service.
 */
export function trendPoints(
  newestFirst: readonly { latencyMs: number | null }[],
  width: number,
  height: number,
): string {
  const oldestFirst = [...newestFirst].reverse();
  const max = Math.max(0, ...oldestFirst.map((check) => check.latencyMs ?? 0));
  const step = oldestFirst.length > 1 ? width / (oldestFirst.length - 1) : 0;
  const points: string[] = [];
  oldestFirst.forEach((check, i) => {
    if (check.latencyMs == null) return;
    const y = max === 0 ? height : height - (check.latencyMs / max) * height;
    points.push(`${round1(i * step)},${round1(y)}`);
  });
  return points.join(" ");
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/**
 * The executions list after `updates` (newer than what `list` holds for the same id):
 * each replaces its row or is added, newest start first, the newest `limit` kept.
 */
export function upsertExecutions(
  list: readonly ExecutionSummary[],
  updates: readonly ExecutionSummary[],
  limit: number,
): ExecutionSummary[] {
  const byId = new Map(list.map((execution) => [execution.id, execution]));
  for (const update of updates) byId.set(update.id, update);
  return [...byId.values()]
    .sort(
      (a, b) =>
        Date.parse(b.startedAt) - Date.parse(a.startedAt) ||
        (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    )
    .slice(0, limit);
}

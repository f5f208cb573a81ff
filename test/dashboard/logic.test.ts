import { describe, expect, it } from "vitest";
import {
  applyEvent,
  countByStatus,
  dagLayers,
  dependenciesOf,
  exactTime,
  formatAge,
  groupRows,
  matchesFilter,
  trendPoints,
  upsertExecutions,
  visibleWindow,
} from "../../dashboard/src/logic.js";
import type { ExecutionSummary, ServiceRow } from "../../dashboard/src/types.js";

const NOW = Date.parse("2026-12-01T12:00:00.000Z");

function row(id: string, overrides: Partial<ServiceRow> = {}): ServiceRow {
  return {
    id,
    name: id,
    type: "ORDERS",
    version: "1.0.0",
    status: "ONLINE",
    lastHeartbeat: "2026-12-01T11:59:50.000Z",
    health: null,
    circuitBreaker: {
      serviceId: id,
      state: "CLOSED",
      consecutiveFailures: 0,
      lastStateChangeAt: null,
    },
    ...overrides,
  };
}

const noFilter = { text: "", statuses: new Set<never>() };

describe("the dashboard's rules", () => {
  it("shows times as ages, a clock a moment ahead as now, and the exact time for hover", () => {
    expect(formatAge("2026-12-01T11:59:48.000Z", NOW)).toBe("12 s ago");
    expect(formatAge("2026-12-01T11:55:00.000Z", NOW)).toBe("5 min ago");
    expect(formatAge("2026-12-01T09:00:00.000Z", NOW)).toBe("3 h ago");
    expect(formatAge("2026-11-29T12:00:00.000Z", NOW)).toBe("2 d ago");
    expect(formatAge("2026-12-01T12:00:00.900Z", NOW)).toBe("0 s ago");
    expect(formatAge("2026-12-01T12:00:10.000Z", NOW)).toBe("in 10 s");
    expect(formatAge("not a time", NOW)).toBe("—");
    expect(exactTime("2026-12-01T11:59:48.123Z")).toBe("2026-12-01 11:59:48 UTC");
  });

  it("groups by type, sorted, and filters by status and text", () => {
    const services = [
      row("b", { type: "PLANNER" }),
      row("c", { status: "OFFLINE" }),
      row("a", { version: "2.1.0" }),
    ];
    expect(
      groupRows(services, noFilter).map((r) => (r.kind === "group" ? r.type : r.service.id)),
    ).toEqual(["ORDERS", "a", "c", "PLANNER", "b"]);
    const offline = { text: "", statuses: new Set(["OFFLINE"] as const) };
    expect(groupRows(services, offline)).toEqual([
      { kind: "group", type: "ORDERS", count: 1 },
      { kind: "service", service: services[1] },
    ]);
    expect(matchesFilter(services[2] as ServiceRow, { text: " 2.1", statuses: new Set() })).toBe(
      true,
    );
    expect(matchesFilter(services[0] as ServiceRow, { text: "orders", statuses: new Set() })).toBe(
      false,
    );
  });

  it("renders only the rows in view of 5,000, with overscan", () => {
    expect(visibleWindow(5000, 40, 0, 800)).toEqual({ start: 0, end: 28 });
    expect(visibleWindow(5000, 40, 40_000, 800)).toEqual({ start: 992, end: 1028 });
    expect(visibleWindow(5000, 40, 199_900, 800)).toEqual({ start: 4989, end: 5000 });
    expect(visibleWindow(0, 40, 0, 800)).toEqual({ start: 0, end: 0 });
  });

  it("applies registry, status and breaker events to the rows it shows", () => {
    let services: ReadonlyMap<string, ServiceRow> = new Map([["a", row("a")]]);
    const at = "2026-12-01T12:00:00.000Z";
    services = applyEvent(services, {
      kind: "registry",
      change: "REGISTERED",
      service: row("b"),
      at,
    });
    expect([...services.keys()]).toEqual(["a", "b"]);
    services = applyEvent(services, {
      kind: "status",
      service: row("a", { status: "OFFLINE" }),
      previousStatus: "ONLINE",
      status: "OFFLINE",
      reason: "heartbeat expired",
      at,
    });
    expect(services.get("a")?.status).toBe("OFFLINE");
    const open = {
      serviceId: "b",
      state: "OPEN" as const,
      consecutiveFailures: 3,
      lastStateChangeAt: at,
    };
    services = applyEvent(services, {
      kind: "breaker",
      serviceId: "b",
      state: "OPEN",
      breaker: open,
      at,
    });
    expect(services.get("b")?.circuitBreaker.state).toBe("OPEN");
    // A breaker of a service the page does not know yet changes nothing.
    const unknown = applyEvent(services, {
      kind: "breaker",
      serviceId: "z",
      state: "OPEN",
      breaker: open,
      at,
    });
    expect(unknown).toBe(services);
    services = applyEvent(services, {
      kind: "registry",
      change: "UNREGISTERED",
      service: row("a"),
      at,
    });
    expect([...services.keys()]).toEqual(["b"]);
    // Unregistering publishes OFFLINE ("unregistered") after UNREGISTERED: no row again.
    const afterwards = applyEvent(services, {
      kind: "status",
      service: row("a", { status: "OFFLINE" }),
      previousStatus: "ONLINE",
      status: "OFFLINE",
      reason: "unregistered",
      at,
    });
    expect(afterwards).toBe(services);
    expect(countByStatus(services.values())).toEqual({
      ONLINE: 1,
      DEGRADED: 0,
      MAINTENANCE: 0,
      OFFLINE: 0,
    });
  });

  it("lays a workflow's steps out by dependency depth", () => {
    const deps = dependenciesOf({
      steps: [
        { id: "project" },
        { id: "strategic", dependsOn: ["project"] },
        { id: "tactical", dependsOn: ["strategic"] },
        { id: "risks", dependsOn: ["project", "tactical"] },
        { id: "notes", dependsOn: ["gone"] },
      ],
    });
    expect(dagLayers(["project", "strategic", "tactical", "risks", "notes"], deps)).toEqual([
      ["project", "notes"],
      ["strategic"],
      ["tactical"],
      ["risks"],
    ]);
    // A cycle (no valid definition has one) does not hang the page.
    const cycle = new Map([
      ["a", ["b"]],
      ["b", ["a"]],
    ]);
    expect(dagLayers(["a", "b"], cycle).flat().sort()).toEqual(["a", "b"]);
    expect(dependenciesOf(null).size).toBe(0);
  });
});

describe("trendPoints", () => {
  it("draws the oldest check on the left and scales latency from 0 to the highest", () => {
    const newestFirst = [{ latencyMs: 10 }, { latencyMs: 20 }, { latencyMs: 5 }];
    expect(trendPoints(newestFirst, 100, 40)).toBe("0,30 50,0 100,20");
  });

  it("leaves out unreachable checks, and draws nothing for none", () => {
    expect(trendPoints([{ latencyMs: 8 }, { latencyMs: null }], 100, 40)).toBe("100,0");
    expect(trendPoints([], 100, 40)).toBe("");
    expect(trendPoints([{ latencyMs: 0 }], 100, 40)).toBe("0,40");
  });
});

describe("upsertExecutions", () => {
  const run = (id: string, startedAt: string, status = "RUNNING"): ExecutionSummary => ({
    id,
    workflowType: "T",
    status: status as ExecutionSummary["status"],
    startedAt,
    finishedAt: null,
    executionTimeMs: null,
    steps: [],
  });

  it("replaces a run's row, adds a new one on top, and keeps the newest", () => {
    const list = [run("b", "2026-12-01T10:00:02Z"), run("a", "2026-12-01T10:00:01Z")];
    const updated = upsertExecutions(
      list,
      [run("a", "2026-12-01T10:00:01Z", "COMPLETED"), run("c", "2026-12-01T10:00:03Z")],
      2,
    );
    expect(updated.map((e) => `${e.id}:${e.status}`)).toEqual(["c:RUNNING", "b:RUNNING"]);
    expect(
      upsertExecutions(list, [run("a", list[1]?.startedAt ?? "", "FAILED")], 5)[1]?.status,
    ).toBe("FAILED");
  });
});

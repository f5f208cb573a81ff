import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ServiceRecord } from "../../src/domain/service.js";
import { dataOf, errorCodeOf, startGateway, type TestGateway } from "../helpers/gateway.js";
import { serviceRecord } from "../stores/registry-contract.js";

type Connection = {
  totalCount: number;
  nodes: { id: string }[];
  edges: { cursor: string; node: { id: string } }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
};

const SERVICES = /* GraphQL */ `
  query($filter: ServiceFilter, $first: Int, $after: String) {
    services(filter: $filter, first: $first, after: $after) {
      totalCount nodes { id } edges { cursor node { id } } pageInfo { hasNextPage endCursor }
    }
  }
`;
const SEARCH = /* GraphQL */ `
  query($where: ServiceWhere!, $first: Int, $after: String) {
    searchServices(where: $where, first: $first, after: $after) {
      totalCount nodes { id } edges { cursor node { id } } pageInfo { hasNextPage endCursor }
    }
  }
`;

describe("discovery over GraphQL", () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway.stop());
  beforeEach(async () => {
    await gateway.removeAllServices();
  });

  const seed = async (...records: ServiceRecord[]) => {
    for (const record of records) await gateway.store.put(record, null);
  };
  const list = async (filter: Record<string, unknown>, first?: number, after?: string) =>
    dataOf(await gateway.graphql<{ services: Connection }>(SERVICES, { filter, first, after }))
      .services;
  const search = async (where: Record<string, unknown>) =>
    dataOf(await gateway.graphql<{ searchServices: Connection }>(SEARCH, { where })).searchServices;
  const idsOf = (connection: Connection) => connection.nodes.map((node) => node.id);

  describe("services(filter)", () => {
    beforeEach(() =>
      seed(
        serviceRecord({ id: "a", status: "ONLINE", tags: ["eu", "gpu"], capabilities: ["plan"] }),
        serviceRecord({ id: "b", status: "DEGRADED", tags: ["eu"] }),
        serviceRecord({ id: "c", status: "MAINTENANCE" }),
        serviceRecord({ id: "d", status: "OFFLINE" }),
        serviceRecord({ id: "e", type: "AGENT_ORCHESTRATOR" }),
      ),
    );

    it("hides only OFFLINE services unless asked, never DEGRADED or MAINTENANCE", async () => {
      expect(idsOf(await list({}))).toEqual(["a", "b", "c", "e"]);
      expect(idsOf(await list({ includeOffline: true }))).toEqual(["a", "b", "c", "d", "e"]);
      expect(idsOf(await list({ status: ["OFFLINE"] }))).toEqual(["d"]);
    });

    it("filters by type in any spelling, capability and every tag", async () => {
      expect(idsOf(await list({ type: "planning-system" }))).toEqual(["a", "b", "c"]);
      expect(idsOf(await list({ type: "planningSystem", includeOffline: true }))).toEqual([
        "a",
        "b",
        "c",
        "d",
      ]);
      expect(idsOf(await list({ capability: "plan" }))).toEqual(["a"]);
      expect(idsOf(await list({ tags: ["eu", "gpu"] }))).toEqual(["a"]);
      expect(idsOf(await list({ tags: ["gpu"] }))).toEqual(["a"]);
      expect(idsOf(await list({ tags: ["eu"], status: ["DEGRADED"] }))).toEqual(["b"]);
    });

    it("pages with cursors and a totalCount, and stays stable when a service goes away", async () => {
      const page1 = await list({ includeOffline: true }, 2);
      expect(idsOf(page1)).toEqual(["a", "b"]);
      expect(page1).toMatchObject({ totalCount: 5, pageInfo: { hasNextPage: true } });
      expect(page1.edges.at(-1)?.cursor).toBe(page1.pageInfo.endCursor);

      await gateway.store.remove("a");
      const page2 = await list({ includeOffline: true }, 2, page1.pageInfo.endCursor ?? "");
      expect(idsOf(page2)).toEqual(["c", "d"]);
      const page3 = await list({ includeOffline: true }, 2, page2.pageInfo.endCursor ?? "");
      expect(idsOf(page3)).toEqual(["e"]);
      expect(page3.pageInfo.hasNextPage).toBe(false);
    });

    it("rejects a page size over the cap, a negative one, a forged cursor, too many tags", async () => {
      for (const [variables, field] of [
        [{ first: 501 }, "first"],
        [{ first: -1 }, "first"],
        [{ after: "not-a-cursor" }, "after"],
        [{ filter: { tags: Array.from({ length: 101 }, (_, i) => `t${i}`) } }, "filter.tags"],
      ] as const) {
        const response = await gateway.graphql(SERVICES, variables);
        expect(errorCodeOf(response)).toBe("BAD_USER_INPUT");
        expect(response.errors?.[0]?.extensions?.field).toBe(field);
      }
    });

    it("looks a service up by id, null when unknown", async () => {
      const found = await gateway.graphql(
        `{ service(id: "a") { id type } none: service(id: "zz") { id } }`,
      );
      expect(dataOf(found)).toEqual({ service: { id: "a", type: "PLANNING_SYSTEM" }, none: null });
    });
  });

  describe("searchServices(where)", () => {
    beforeEach(() =>
      seed(
        serviceRecord({
          id: "planner-eu",
          name: "Planner EU",
          version: "1.4.2",
          tags: ["eu", "primary"],
          capabilities: ["plan", "estimate"],
          metadata: { region: "eu-west-1", limits: { rpm: 100 }, weight: 2 },
          lastHeartbeat: new Date().toISOString(),
        }),
        serviceRecord({
          id: "planner-us",
          name: "Planner US",
          version: "2.1.0",
          status: "DEGRADED",
          tags: ["us"],
          capabilities: ["plan"],
          metadata: { region: "us-east-1", limits: { rpm: 50 } },
          lastHeartbeat: new Date(Date.now() - 600_000).toISOString(),
        }),
        serviceRecord({
          id: "orchestrator",
          name: "Agent Orchestrator",
          type: "AGENT_ORCHESTRATOR",
          version: "v3",
          tags: ["eu"],
          capabilities: ["execute"],
          metadata: { region: null },
          status: "OFFLINE",
        }),
      ),
    );

    it.each([
      ["type eq in another spelling", { type: { eq: "agent-orchestrator" } }, ["orchestrator"]],
      ["type in", { type: { in: ["PLANNING_SYSTEM"] } }, ["planner-eu", "planner-us"]],
      [
        "name contains, ignoring case",
        { name: { contains: "planner" } },
        ["planner-eu", "planner-us"],
      ],
      [
        "name startsWith and eq together",
        { name: { startsWith: "Agent", eq: "Agent Orchestrator" } },
        ["orchestrator"],
      ],
      ["status", { status: ["DEGRADED", "OFFLINE"] }, ["orchestrator", "planner-us"]],
      ["capabilities all", { capabilities: { all: ["plan", "estimate"] } }, ["planner-eu"]],
      [
        "capabilities any",
        { capabilities: { any: ["estimate", "execute"] } },
        ["orchestrator", "planner-eu"],
      ],
      ["tags none", { tags: { none: ["eu"] } }, ["planner-us"]],
      ["a caret range", { version: "^1.2.0" }, ["planner-eu"]],
      ["a compound range, coercing v3", { version: ">=2 <4" }, ["orchestrator", "planner-us"]],
      ["metadata eq", { metadata: [{ path: "region", eq: "us-east-1" }] }, ["planner-us"]],
      [
        "a nested metadata path with in",
        { metadata: [{ path: "limits.rpm", in: [100, 75] }] },
        ["planner-eu"],
      ],
      ["metadata exists", { metadata: [{ path: "limits", exists: false }] }, ["orchestrator"]],
      [
        "metadata equal to JSON null",
        { metadata: [{ path: "region", eq: null }] },
        ["orchestrator"],
      ],
      ["heartbeatWithinSeconds", { heartbeatWithinSeconds: 60 }, ["planner-eu"]],
      [
        "a path that only an object's prototype has",
        { metadata: [{ path: "constructor", exists: true }] },
        [],
      ],
      ["an array index in a path", { metadata: [{ path: "limits.rpm.0", exists: true }] }, []],
      [
        "or",
        { or: [{ tags: { all: ["us"] } }, { type: { eq: "AGENT_ORCHESTRATOR" } }] },
        ["orchestrator", "planner-us"],
      ],
      ["not", { not: { type: { eq: "PLANNING_SYSTEM" } } }, ["orchestrator"]],
      [
        "and with nested or",
        { and: [{ tags: { any: ["eu"] } }, { or: [{ version: "^1" }, { status: ["OFFLINE"] }] }] },
        ["orchestrator", "planner-eu"],
      ],
    ])("matches on %s", async (_case, where, expected) => {
      expect(idsOf(await search(where))).toEqual(expected);
    });

    it("takes -0 for 0, as JSON does, in the filter and in the stored metadata", async () => {
      // JSON text cannot tell them apart (JSON.stringify(-0) is "0"), so a store that
      // keeps values as given and one that keeps JSON must answer alike.
      await seed(serviceRecord({ id: "zero", metadata: { offset: -0, at: [0, { x: 0 }] } }));
      const literal = async (where: string) =>
        idsOf(
          dataOf(
            await gateway.graphql<{ searchServices: Connection }>(
              `{ searchServices(where: ${where}) { totalCount nodes { id } edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`,
            ),
          ).searchServices,
        );
      expect(await literal(`{ metadata: [{ path: "offset", eq: 0 }] }`)).toEqual(["zero"]);
      expect(await literal(`{ metadata: [{ path: "at", eq: [-0, { x: -0 }] }] }`)).toEqual([
        "zero",
      ]);
      expect(await literal(`{ metadata: [{ path: "at.1", in: [1, { x: -0 }] }] }`)).toEqual([
        "zero",
      ]);
    });

    it.each([
      ["an invalid semver range", { version: "one-ish" }, "where.version"],
      [
        "an empty metadata path segment",
        { metadata: [{ path: "limits..rpm", exists: true }] },
        "where.metadata.0.path",
      ],
      ["a string match with no operator", { name: {} }, "where.name"],
      [
        "a negative heartbeat window",
        { heartbeatWithinSeconds: -1 },
        "where.heartbeatWithinSeconds",
      ],
      [
        "a bad operand deep in the tree",
        { or: [{ not: { version: "???" } }] },
        "where.or.0.not.version",
      ],
    ])("rejects %s with BAD_USER_INPUT naming the field", async (_case, where, field) => {
      const response = await gateway.graphql(SEARCH, { where });
      expect(errorCodeOf(response)).toBe("BAD_USER_INPUT");
      expect(response.errors?.[0]?.extensions?.field).toBe(field);
    });
  });

  describe("serviceByType(type, strategy)", () => {
    const pick = async (type: string, strategy: string) =>
      dataOf(
        await gateway.graphql<{ serviceByType: { id: string } | null }>(
          `query($type: String!, $strategy: SelectionStrategy) { serviceByType(type: $type, strategy: $strategy) { id } }`,
          { type, strategy },
        ),
      ).serviceByType?.id ?? null;

    it("round-robins fairly across calls over ONLINE instances", async () => {
      await seed(
        serviceRecord({ id: "p1" }),
        serviceRecord({ id: "p2" }),
        serviceRecord({ id: "p3" }),
        serviceRecord({ id: "p4", status: "MAINTENANCE" }),
        serviceRecord({ id: "p5", status: "OFFLINE" }),
      );
      const picks: string[] = [];
      for (let i = 0; i < 9; i++) picks.push((await pick("planning_system", "ROUND_ROBIN")) ?? "");
      const counts = Object.fromEntries(
        ["p1", "p2", "p3"].map((id) => [id, picks.filter((p) => p === id).length]),
      );
      expect(counts).toEqual({ p1: 3, p2: 3, p3: 3 });
      expect(new Set(picks.slice(0, 3)).size).toBe(3);
    });

    it("falls back to DEGRADED instances only when no ONLINE one is left, else null", async () => {
      await seed(
        serviceRecord({ id: "slow", status: "DEGRADED" }),
        serviceRecord({ id: "off", status: "OFFLINE" }),
      );
      for (const strategy of ["ROUND_ROBIN", "RANDOM", "LEAST_LATENCY", "WEIGHTED"]) {
        expect(await pick("PLANNING_SYSTEM", strategy)).toBe("slow");
      }
      await gateway.store.remove("slow");
      for (const strategy of ["ROUND_ROBIN", "RANDOM", "LEAST_LATENCY", "WEIGHTED"]) {
        expect(await pick("PLANNING_SYSTEM", strategy)).toBeNull();
      }
      expect(await pick("NO_SUCH_TYPE", "ROUND_ROBIN")).toBeNull();
    });

    it("LEAST_LATENCY picks the instance with the fastest last probe", async () => {
      await seed(
        serviceRecord({ id: "p1" }),
        serviceRecord({ id: "p2" }),
        serviceRecord({ id: "p3" }),
      );
      const probe = (serviceId: string, latencyMs: number) =>
        gateway.store.saveHealth({
          serviceId,
          status: "ONLINE",
          reachable: true,
          httpStatus: 200,
          latencyMs,
          checkedAt: new Date().toISOString(),
          error: null,
          body: null,
          consecutiveFailures: 0,
          consecutiveSuccesses: 1,
        });
      await probe("p1", 40);
      await probe("p2", 7);
      for (let i = 0; i < 3; i++) expect(await pick("PLANNING_SYSTEM", "LEAST_LATENCY")).toBe("p2");
    });

    it("WEIGHTED never picks a drained (weight 0) instance", async () => {
      await seed(
        serviceRecord({ id: "heavy", metadata: { weight: 5 } }),
        serviceRecord({ id: "drained", metadata: { weight: 0 } }),
      );
      for (let i = 0; i < 20; i++) expect(await pick("PLANNING_SYSTEM", "WEIGHTED")).toBe("heavy");
    });
  });
});

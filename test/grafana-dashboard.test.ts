import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authHeaders, startGateway, type TestGateway } from "./helpers/gateway.js";

/*
 * The Grafana board in deploy/grafana/ against what a gateway's /metrics really exposes:
 * every query names families that exist, and every sig_ family is on the board, so the
 * board and the metrics cannot drift apart.
 */

type Panel = {
  id: number;
  type: string;
  title: string;
  datasource?: { uid: string };
  targets?: { expr: string }[];
};

const board = JSON.parse(
  readFileSync(
    new URL("../deploy/grafana/service-integration-gateway.json", import.meta.url),
    "utf8",
  ),
) as { uid: string; panels: Panel[]; templating: { list: { name: string }[] } };

const queries = board.panels.flatMap((panel) => panel.targets?.map((target) => target.expr) ?? []);

/** Metric names a PromQL expression reads, histogram series folded into their family. */
function familiesIn(expr: string): string[] {
  const names = expr.match(/\b(?:sig|nodejs|process)_[a-z0-9_]+/g) ?? [];
  return names.map((name) => name.replace(/_(bucket|count|sum)$/, ""));
}

describe("the Grafana dashboard", () => {
  let gateway: TestGateway;
  let exposed: Set<string>;

  beforeAll(async () => {
    gateway = await startGateway();
    const text = await (await fetch(`${gateway.url}/metrics`, { headers: authHeaders() })).text();
    exposed = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1] as string));
  });
  afterAll(async () => {
    await gateway.stop();
  });

  it("queries only families the gateway exposes", () => {
    const unknown = [...new Set(queries.flatMap(familiesIn))].filter((name) => !exposed.has(name));
    expect(unknown).toEqual([]);
  });

  it("shows every family of the gateway's own", () => {
    const shown = new Set(queries.flatMap(familiesIn));
    const missing = [...exposed].filter((name) => name.startsWith("sig_") && !shown.has(name));
    expect(missing).toEqual([]);
  });

  it("is importable: unique panel ids, a data source chosen on import, replicas to filter", () => {
    const ids = board.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(board.templating.list.map((variable) => variable.name)).toEqual([
      "datasource",
      "service",
      "instance",
    ]);
    for (const panel of board.panels.filter((p) => p.type !== "row")) {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax.
      expect(panel.datasource?.uid, panel.title).toBe("${datasource}");
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
    }
  });
});

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  productsSubgraph,
  type RunningSubgraph,
  reviewsSubgraph,
  startSubgraph,
} from "../../examples/federation/subgraphs.js";
import { authHeaders } from "../helpers/gateway.js";
import { type GatewayProcess, startGatewayProcess } from "../helpers/process.js";
import { eventually } from "../helpers/wait.js";

/*
 * SIGTERM with a federated mutation in flight: the gateway process drains it to its
 * answer before it exits. The gateway runtime would dispose itself on SIGTERM (and abort
 * the mutation after the subgraph ran it) unless the gateway stops it in order.
 */

const REGISTER = `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`;

describe("SIGTERM with a federated operation in flight", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "sig-federation-drain-"));
  let gateway: GatewayProcess | null = null;
  const subgraphs: RunningSubgraph[] = [];

  afterAll(async () => {
    if (gateway && gateway.process.exitCode === null && gateway.process.signalCode === null) {
      gateway.process.kill("SIGKILL");
    }
    for (const subgraph of subgraphs) await subgraph.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("answers the mutation the subgraph ran, then exits 0", async () => {
    const slow = productsSubgraph({ mutationDelayMs: 1500 });
    subgraphs.push(await startSubgraph(slow.spec), await startSubgraph(reviewsSubgraph().spec));
    gateway = await startGatewayProcess({ DATA_DIR: dataDir, SHUTDOWN_TIMEOUT_SECONDS: "10" });
    const { url, process: child } = gateway;
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    const post = (path: string, query: string, variables: Record<string, unknown> = {}) =>
      fetch(`${url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...authHeaders() },
        body: JSON.stringify({ query, variables }),
      });
    for (const [i, type] of ["products", "reviews"].entries()) {
      const baseUrl = subgraphs[i]?.baseUrl;
      const input = { id: `${type}-1`, name: type, type, version: "1.0.0", baseUrl, graphql: {} };
      expect((await post("/graphql", REGISTER, { input })).status).toBe(200);
    }
    await eventually(async () => {
      const response = await post("/federation/graphql", "{ products { reviewCount } }");
      expect(response.status).toBe(200);
    });

    const mutation = post(
      "/federation/graphql",
      `mutation { addProduct(name: "Kettle") { id name } }`,
    );
    await eventually(() => expect(slow.mutations.count).toBe(1));
    child.kill("SIGTERM");
    const response = await mutation;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { addProduct: { id: "p101", name: "Kettle" } } });
    expect(slow.mutations.count).toBe(1);
    expect(await exited).toBe(0);
  });
});

import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { STARTER_OPERATIONS } from "../../src/http/graphiql-starter.js";
import { type DemoProcess, startDemo } from "./demo-process.js";
import { type Answer, subscribe } from "./sse.js";
import { walkthroughSection, walkthroughSteps } from "./walkthrough.js";

const DEMO_SERVICES = [
  "coordinator-1",
  "flaky-1",
  "orchestrator-1",
  "planner-1",
  "products-1",
  "reviews-1",
];

/**
 * `npm run demo` as a real process: it comes up with live data, the README's walkthrough
 * runs against it as written, and SIGINT stops it cleanly. The machine may be busy: every
 * wait is bounded generously and the times are logged, never asserted.
 */
describe("npm run demo", () => {
  let demo: DemoProcess;
  beforeAll(async () => {
    demo = await startDemo();
    console.log(`demo: banner after ${(demo.bannerAfterMs / 1000).toFixed(1)} s`);
  });
  afterAll(async () => {
    await demo?.cleanUp();
  });

  async function post(path: string, body: string): Promise<Answer> {
    const response = await fetch(`${demo.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    return (await response.json()) as Answer;
  }
  const graphql = (query: string, operationName?: string) =>
    post("/graphql", JSON.stringify({ query, operationName }));

  /** Waits for `check` to pass, and logs when it did, counted from the demo's spawn. */
  /** The first event of a subscription. */
  async function firstEvent(query: string, operationName?: string): Promise<Answer> {
    const stream = subscribe(`${demo.url}/graphql`, query, operationName);
    try {
      return await stream.next();
    } finally {
      stream.close();
    }
  }

  async function until(what: string, check: () => Promise<void>): Promise<void> {
    await vi.waitFor(check, { timeout: 90_000, interval: 250 });
    console.log(
      `demo: ${what} ${((performance.now() - demo.spawnedAt) / 1000).toFixed(1)} s after spawn`,
    );
  }

  it("shows live data: services, a status change, the federated graph, a workflow run", async () => {
    await until("all six services registered", async () => {
      const { data } = await graphql(
        "{ services(filter: { includeOffline: true }) { nodes { id } } }",
      );
      const services = data?.services as { nodes: { id: string }[] } | undefined;
      const ids = services?.nodes.map((node) => node.id) ?? [];
      expect(ids.sort()).toEqual(DEMO_SERVICES);
    });
    await until("flaky-1 changed status", async () => {
      const { data } = await graphql(`{ serviceHistory(id: "flaky-1") { previousStatus } }`);
      const history = (data?.serviceHistory ?? []) as { previousStatus: string | null }[];
      expect(history.some((event) => event.previousStatus !== null)).toBe(true);
    });
    await until("the federated graph answered across both subgraphs", async () => {
      const answer = await post(
        "/federation/graphql",
        JSON.stringify({ query: "{ products { name reviews { body } } }" }),
      );
      expect(answer.errors).toBeUndefined();
      expect(answer.data?.products).toContainEqual({
        name: "Anvil",
        reviews: [{ body: "Heavy." }, { body: "Fell on my foot." }],
      });
    });
    await until("the demo's workflow execution COMPLETED", async () => {
      const { data } = await graphql(
        `{ workflowExecution(id: "${demo.executionId}") { status errors } }`,
      );
      expect(data?.workflowExecution).toEqual({ status: "COMPLETED", errors: [] });
    });
    await until("flaky-1's breaker was seen OPEN", async () => {
      const { data } = await graphql("{ circuitBreakers(state: [OPEN]) { serviceId } }");
      expect(data?.circuitBreakers).toEqual([{ serviceId: "flaky-1" }]);
    });
  }, 180_000);

  it("opens GraphiQL on the starter query, which the walkthrough begins with", async () => {
    const page = await fetch(`${demo.url}/graphql`, { headers: { accept: "text/html" } });
    const html = await page.text();
    expect(html).toContain("query Overview");
    expect(walkthroughSection()).toContain(STARTER_OPERATIONS.trim());
    const overview = await graphql(STARTER_OPERATIONS, "Overview");
    expect(overview.errors).toBeUndefined();
  });

  it("runs every example of the README's walkthrough as written, top to bottom", async () => {
    const steps = walkthroughSteps();
    expect(steps.length).toBeGreaterThan(10);
    for (const step of steps) {
      const label =
        step.kind === "curl" ? `curl ${step.path}` : (step.operationName ?? "anonymous");
      const answer =
        step.kind === "curl"
          ? await post(step.path, step.body)
          : step.subscription
            ? await firstEvent(step.document, step.operationName)
            : await graphql(step.document, step.operationName);
      expect({ step: label, errors: answer.errors }).toEqual({ step: label, errors: undefined });
      expect(answer.data, label).toBeTruthy();
    }
  }, 180_000);

  it("stops on SIGINT: the services unregister, the gateway drains, exit code 0", async () => {
    const changes = subscribe(
      `${demo.url}/graphql`,
      "subscription { registryChanged { change service { id } } }",
    );
    // A registration of its own tells that the subscription is live.
    const marker = `subscribed-${Date.now()}`;
    await graphql(
      `mutation { registerService(input: { id: "${marker}", name: "m", type: "marker", version: "1", baseUrl: "http://127.0.0.1:9" }) { id } }`,
    );
    await changes.next((event) => JSON.stringify(event).includes(marker));
    await graphql(`mutation { unregisterService(id: "${marker}") }`);
    demo.child.kill("SIGINT");
    expect(await demo.exited).toBe(0);
    await changes.ended;
    const unregistered = changes.events
      .map((event) => event.data?.registryChanged as { change: string; service: { id: string } })
      .filter((event) => event.change === "UNREGISTERED" && event.service.id !== marker)
      .map((event) => event.service.id);
    expect(unregistered.sort()).toEqual(DEMO_SERVICES);
    expect(demo.output.join("\n")).toContain("stopped (gateway exit code 0)");
  }, 60_000);
});

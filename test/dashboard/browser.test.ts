import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Browser,
  type BrowserContext,
  chromium,
  type Page,
  type WebSocketRoute,
} from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildDashboard } from "../../scripts/build-dashboard.mjs";
import { startUpstreamService, type UpstreamService } from "../fixtures/upstream-service.js";
import { dataOf, startGateway, type TestGateway, tokensMode } from "../helpers/gateway.js";

// Debian's chromium, driven by playwright-core: no browser download (.ci/run installs it).
const CHROMIUM = "/usr/bin/chromium";
const ADMIN_TOKEN = "admin-token-for-dashboard-browser-tests";
const READER_TOKEN = "reader-token-for-dashboard-browser-tests";
const ARTIFACTS = new URL("../../test-artifacts/dashboard/", import.meta.url).pathname;
// Generous: the machine running the suite is busy; a condition met sooner ends the wait.
const WAIT = { timeout: 20_000 };

const REGISTER = `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`;
const CALL = `mutation($input: CallServiceInput!) { callService(input: $input) { status } }`;
const DEFINE = `mutation($definition: JSON!) { registerWorkflowDefinition(definition: $definition) { type } }`;
const CREATE_TOKEN = `mutation($name: String!) {
  createApiToken(role: OPERATOR, name: $name) { secret token { id } }
}`;
const REVOKE_TOKEN = `mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }`;
const SET_STATUS = `mutation($id: ID!, $status: ServiceStatus!) {
  updateServiceStatus(id: $id, status: $status) { id }
}`;
const SERVICE = `query($id: ID!) { service(id: $id) { status circuitBreaker { state } } }`;
const CHECK = `query($id: ID!) { checkServiceHealth(id: $id) { checkedAt } }`;
const EXECUTE = `mutation($input: ExecuteWorkflowInput!) { executeWorkflow(input: $input) { id } }`;

describe("the dashboard in a real browser", () => {
  let dir: string;
  let gateway: TestGateway;
  let upstream: UpstreamService;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
    }
    dir = await mkdtemp(join(tmpdir(), "sig-dashboard-"));
    await Promise.all([buildDashboard(dir), mkdir(ARTIFACTS, { recursive: true })]);
    upstream = await startUpstreamService();
    gateway = await startGateway({
      adminToken: ADMIN_TOKEN,
      tokens: [{ secret: READER_TOKEN, role: "reader", name: "watcher", serviceTypes: null }],
      dashboardDir: dir,
      breakers: { failureThreshold: 2 },
      // One attempt, so two failing calls open the breaker; a deadline above the slow
      // workflow steps' 1.5 s.
      calls: { maxAttempts: 1, timeoutMs: 10_000 },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  });
  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await gateway?.stop();
    await upstream?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function newPage(options: Parameters<Browser["newContext"]>[0] = {}): Promise<Page> {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      ...options,
    });
    contexts.push(context);
    return context.newPage();
  }

  /** A page signed in with the token, the registry loaded and live. */
  async function signedIn(token: string, hash = "#/", options = {}): Promise<Page> {
    const page = await newPage(options);
    await page.goto(`${gateway.url}/${hash}`);
    await page.fill("input[name=token]", token);
    await page.click("button[type=submit]");
    await page.waitForSelector('main[data-loaded="true"]', WAIT);
    await page.waitForSelector('[data-testid=connection]:has-text("live")', WAIT);
    return page;
  }

  const register = async (input: Record<string, unknown>) =>
    dataOf(
      await gateway.graphql<{ registerService: { id: string } }>(REGISTER, {
        input: { version: "1.0.0", baseUrl: upstream.url, ...input },
      }),
    ).registerService.id;

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  it("asks for a token in tokens mode, refuses a wrong one, then shows the overview", async () => {
    const page = await newPage();
    await page.goto(`${gateway.url}/`);
    await page.waitForSelector("input[name=token]", WAIT);
    await shot(page, "token-prompt");
    await page.fill("input[name=token]", "not-a-token");
    await page.click("button[type=submit]");
    await page.waitForSelector('.error:has-text("not valid")', WAIT);
    await page.fill("input[name=token]", ADMIN_TOKEN);
    await page.click("button[type=submit]");
    await page.waitForSelector('[data-testid=who]:has-text("ADMIN")', WAIT);
    await page.waitForSelector("[data-testid=system-health]", WAIT);
    expect(await page.locator("[data-testid=open-mode]").count()).toBe(0);
    // The token is this tab's: kept in session storage, never in local storage.
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    await shot(page, "overview");
  });

  it("drops a token revoked while the page is open and asks for another", async () => {
    const { secret, token } = dataOf(
      await gateway.graphql<{ createApiToken: { secret: string; token: { id: string } } }>(
        CREATE_TOKEN,
        { name: "dash-revoked" },
      ),
    ).createApiToken;
    const page = await signedIn(secret, "#/services");
    await page.waitForSelector('[data-testid=who]:has-text("OPERATOR")', WAIT);
    dataOf(await gateway.graphql(REVOKE_TOKEN, { id: token.id }));
    // The gateway closes the page's WebSocket with 4403: the prompt, not "reconnecting".
    await page.waitForSelector('.error:has-text("no longer accepts this token")', WAIT);
    await page.waitForSelector("input[name=token]", WAIT);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await shot(page, "token-revoked");
    // A valid token brings the page back.
    await page.fill("input[name=token]", ADMIN_TOKEN);
    await page.click("button[type=submit]");
    await page.waitForSelector('[data-testid=connection]:has-text("live")', WAIT);
  });

  it("shows a service registered over the API as it happens, without a reload", async () => {
    const page = await signedIn(ADMIN_TOKEN, "#/services");
    // Gone if the page reloads: the row must come by the subscription.
    await page.evaluate(() => {
      (window as unknown as { sameDocument: boolean }).sameDocument = true;
    });
    const started = Date.now();
    const id = await register({ id: "dash-orders-1", name: "orders-1", type: "orders_api" });
    await page.waitForSelector(`[data-service-id="${id}"]`, WAIT);
    // The second the issue asks for is a figure of npm run bench:dashboard (event to
    // screen, p99), not an assertion that a busy machine could fail.
    console.log(`dashboard: registered service on screen after ${Date.now() - started} ms`);
    expect(
      await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument),
    ).toBe(true);
    await page.waitForSelector('.group h3:has-text("ORDERS_API")', WAIT);
    await shot(page, "services");
    await page.setViewportSize({ width: 390, height: 844 });
    // Phone width: nothing wider than the screen, so nothing to scroll sideways.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
      390,
    );
    await shot(page, "services-phone");
  });

  it("turns a service whose heartbeats stopped OFFLINE on screen", async () => {
    const page = await signedIn(ADMIN_TOKEN, "#/services");
    const id = await register({
      id: "dash-expiring",
      name: "expiring",
      type: "ephemeral",
      heartbeatIntervalSeconds: 1,
      ttlSeconds: 2,
    });
    // ONLINE from its registration's event, then OFFLINE from the sweeper's (every 5 s in
    // tests): both pushed, the page is never reloaded.
    const row = `[data-service-id="${id}"]`;
    await page.waitForSelector(`${row} [data-status="ONLINE"]`, WAIT);
    await page.waitForSelector(`${row} [data-status="OFFLINE"]`, { timeout: 30_000 });
    await page.click(row);
    await page.waitForSelector('[data-testid=service-status] [data-status="OFFLINE"]', WAIT);
    await shot(page, "service-offline");
  });

  it("shows a breaker opened by failing calls as OPEN, and the page's reset closes it", async () => {
    const id = await register({
      id: "dash-flaky",
      name: "flaky",
      type: "flaky_api",
      endpoints: [{ path: "/work", method: "GET" }],
    });
    const page = await signedIn(ADMIN_TOKEN, `#/service/${id}`);
    upstream.answer({ status: 500, body: { error: "down" } });
    for (let i = 0; i < 2; i++)
      await gateway.graphql(CALL, { input: { serviceId: id, path: "/work" } });
    await page.waitForSelector('[data-testid=service-breaker] [data-breaker="OPEN"]', WAIT);
    await shot(page, "service-breaker-open");
    upstream.answer({ status: 200, body: { ok: true } });
    await page.click('button:has-text("Reset breaker")');
    await page.waitForSelector('[data-testid=service-breaker] [data-breaker="CLOSED"]', WAIT);
    await page.goto(`${gateway.url}/#/`);
    await page.waitForSelector("[data-testid=system-health]", WAIT);
  });

  it("shows a service's recent health checks as a latency trend and a list", async () => {
    upstream.answer({ status: 200, body: { status: "healthy" } });
    const id = await register({ id: "dash-probed", name: "probed", type: "probed_api" });
    for (let i = 0; i < 3; i++) dataOf(await gateway.graphql(CHECK, { id }));
    const page = await signedIn(ADMIN_TOKEN, `#/service/${id}`);
    await page.waitForSelector("[data-testid=recent-checks] svg polyline", WAIT);
    await page.waitForSelector('.checks li:nth-child(3) [data-status="ONLINE"]', WAIT);
    expect(await page.locator(".checks li").count()).toBe(3);
    expect(await page.locator("[data-testid=recent-checks] figcaption").textContent()).toContain(
      "Last 3 probes",
    );
    await shot(page, "service-recent-checks");
  });

  it("starts and ends maintenance, and isolates the breaker, from the service page", async () => {
    const id = await register({ id: "dash-actions", name: "actions", type: "actions_api" });
    const page = await signedIn(ADMIN_TOKEN, `#/service/${id}`);
    const status = (value: string) => `[data-testid=service-status] [data-status="${value}"]`;
    await page.waitForSelector(status("ONLINE"), WAIT);
    await page.click('button:has-text("Start maintenance")');
    await page.waitForSelector(status("MAINTENANCE"), WAIT);
    await page.waitForSelector('[data-testid=action-message]:has-text("In maintenance")', WAIT);
    await page.click('button:has-text("End maintenance")');
    await page.waitForSelector(status("ONLINE"), WAIT);
    await page.click('button:has-text("Isolate breaker")');
    await page.waitForSelector('[data-testid=service-breaker] [data-breaker="ISOLATED"]', WAIT);
    await shot(page, "service-isolated");
    // The gateway holds what the page shows.
    const held = dataOf(
      await gateway.graphql<{ service: { status: string; circuitBreaker: { state: string } } }>(
        SERVICE,
        { id },
      ),
    ).service;
    expect(held).toEqual({ status: "ONLINE", circuitBreaker: { state: "ISOLATED" } });
    await page.click('button:has-text("Reset breaker")');
    await page.waitForSelector('[data-testid=service-breaker] [data-breaker="CLOSED"]', WAIT);
  });

  it("unregisters a service from its page only once the dialog is confirmed", async () => {
    const id = await register({ id: "dash-doomed", name: "doomed", type: "actions_api" });
    const page = await signedIn(ADMIN_TOKEN, `#/service/${id}`);
    await page.waitForSelector("[data-testid=service-status]", WAIT);
    page.once("dialog", (dialog) => void dialog.dismiss());
    await page.click('button:has-text("Unregister")');
    // Dismissed: nothing sent, the service stays.
    expect(await page.locator("[data-testid=action-message]").count()).toBe(0);
    expect(
      dataOf(await gateway.graphql<{ service: unknown }>(SERVICE, { id })).service,
    ).not.toBeNull();
    page.once("dialog", (dialog) => {
      expect(dialog.message()).toContain(id);
      void dialog.accept();
    });
    await page.click('button:has-text("Unregister")');
    await page.waitForSelector(`h2:has-text("No service ${id}")`, WAIT);
    expect(dataOf(await gateway.graphql<{ service: unknown }>(SERVICE, { id })).service).toBeNull();
    await page.click('a:has-text("All services")');
    await page.waitForSelector("#services-h", WAIT);
    expect(await page.locator(`[data-service-id="${id}"]`).count()).toBe(0);
  });

  it("searches and filters the services view by status", async () => {
    const ids = await Promise.all(
      ["alpha", "beta", "gamma"].map((name) =>
        register({ id: `dash-filter-${name}`, name: `filter-${name}`, type: "filter_api" }),
      ),
    );
    dataOf(await gateway.graphql(SET_STATUS, { id: "dash-filter-beta", status: "MAINTENANCE" }));
    const page = await signedIn(ADMIN_TOKEN, "#/services");
    for (const id of ids) await page.waitForSelector(`[data-service-id="${id}"]`, WAIT);
    const shownIds = () =>
      page.$$eval("[data-service-id]", (rows) =>
        rows.map((row) => row.getAttribute("data-service-id")),
      );

    await page.fill("input[type=search]", "filter-ga");
    await page.waitForSelector('[data-service-id="dash-filter-alpha"]', {
      ...WAIT,
      state: "detached",
    });
    expect(await shownIds()).toEqual(["dash-filter-gamma"]);
    await page.waitForSelector('[data-testid=shown-count]:has-text("1 of")', WAIT);

    // By type, then narrowed to MAINTENANCE.
    await page.fill("input[type=search]", "FILTER_API");
    await page.waitForSelector('[data-service-id="dash-filter-alpha"]', WAIT);
    expect((await shownIds()).sort()).toEqual(ids.sort());
    await page.check('label.check:has-text("MAINTENANCE") input');
    await page.waitForSelector('[data-service-id="dash-filter-alpha"]', {
      ...WAIT,
      state: "detached",
    });
    expect(await shownIds()).toEqual(["dash-filter-beta"]);
    await shot(page, "services-filtered");

    // Nothing matches: said so.
    await page.fill("input[type=search]", "no-such-service-anywhere");
    await page.waitForSelector('p:has-text("No service matches")', WAIT);
    // Cleared: every instance again.
    await page.uncheck('label.check:has-text("MAINTENANCE") input');
    await page.fill("input[type=search]", "");
    for (const id of ids) await page.waitForSelector(`[data-service-id="${id}"]`, WAIT);
  });

  it("shows a workflow run's steps progressing to COMPLETED, pushed live", async () => {
    await register({ id: "dash-worker", name: "worker", type: "dash_worker" });
    dataOf(
      await gateway.graphql(DEFINE, {
        definition: {
          type: "dash_two_steps",
          steps: [
            { id: "first", serviceType: "dash_worker", method: "GET", path: "/first" },
            {
              id: "second",
              serviceType: "dash_worker",
              method: "GET",
              path: "/second",
              dependsOn: ["first"],
            },
          ],
        },
      }),
    );
    // The page watches the id before the execution exists: every update is pushed to it.
    const id = randomUUID();
    const page = await signedIn(ADMIN_TOKEN, `#/workflow/${id}`);
    await page.waitForSelector(`h2:has-text("No execution")`, WAIT);
    // Each call takes a while, so the steps are seen in turn.
    upstream.answer({ status: 200, body: { ok: true } });
    upstream.queue(
      { status: 200, body: { step: 1 }, delayMs: 1500 },
      { status: 200, body: { step: 2 }, delayMs: 1500 },
    );
    dataOf(
      await gateway.graphql(EXECUTE, {
        input: { id, workflowType: "dash_two_steps", data: {}, options: { wait: false } },
      }),
    );
    const step = (stepId: string, status: string) =>
      `[data-step-id="${stepId}"] [data-workflow-status="${status}"]`;
    await page.waitForSelector(step("first", "RUNNING"), WAIT);
    await page.waitForSelector(step("first", "COMPLETED"), WAIT);
    expect(await page.locator(step("second", "COMPLETED")).count()).toBe(0);
    await page.waitForSelector(step("second", "COMPLETED"), WAIT);
    await page.waitForSelector(
      '[data-testid=workflow-status] [data-workflow-status="COMPLETED"]',
      WAIT,
    );
    // Two columns: second depends on first.
    expect(await page.locator(".dag-layer").count()).toBe(2);
    await shot(page, "workflow");
    await page.goto(`${gateway.url}/#/workflows`);
    await page.waitForSelector(
      `[data-execution-id="${id}"] [data-workflow-status="COMPLETED"]`,
      WAIT,
    );
    await shot(page, "workflows");
  });

  it("lists a run started over the API as it starts, and its end, without a reload", async () => {
    await register({ id: "dash-list-worker", name: "list-worker", type: "dash_list_worker" });
    dataOf(
      await gateway.graphql(DEFINE, {
        definition: {
          type: "dash_listed",
          steps: [{ id: "only", serviceType: "dash_list_worker", method: "GET", path: "/only" }],
        },
      }),
    );
    const page = await newPage();
    // Every read of the list: pushed updates must keep it, not reading it again.
    let listReads = 0;
    page.on("request", (request) => {
      if (request.postData()?.includes("query Executions")) listReads += 1;
    });
    await page.goto(`${gateway.url}/#/workflows`);
    await page.fill("input[name=token]", ADMIN_TOKEN);
    await page.click("button[type=submit]");
    await page.waitForSelector('[data-testid=connection]:has-text("live")', WAIT);
    await page.waitForSelector("#workflows-h", WAIT);
    await page.evaluate(() => {
      (window as unknown as { sameDocument: boolean }).sameDocument = true;
    });
    // Slow enough that the run is seen RUNNING before it ends; the list is never read again.
    upstream.queue({ status: 200, body: { ok: true }, delayMs: 1500 });
    const id = randomUUID();
    dataOf(
      await gateway.graphql(EXECUTE, {
        input: { id, workflowType: "dash_listed", data: {}, options: { wait: false } },
      }),
    );
    const row = `[data-execution-id="${id}"]`;
    await page.waitForSelector(`${row} [data-workflow-status="RUNNING"]`, WAIT);
    await page.waitForSelector(`${row} [data-workflow-status="COMPLETED"]`, WAIT);
    expect(
      await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument),
    ).toBe(true);
    // Newest first: the run just started is the first row.
    expect(await page.locator("tbody tr").first().getAttribute("data-execution-id")).toBe(id);
    expect(listReads).toBe(1);
  });

  it("shows the supergraph's status and subgraphs", async () => {
    const page = await signedIn(ADMIN_TOKEN, "#/federation");
    await page.waitForSelector("[data-testid=supergraph-status]", WAIT);
    await shot(page, "federation");
  });

  it("says it may be stale while disconnected, and reloads what it missed once back", async () => {
    const page = await newPage();
    // Every graphql-ws connection goes through this route, so the test can drop it and
    // refuse new ones for a while, as a restarting gateway does (1012 and 1013: codes
    // graphql-ws retries after; a 1011 would end its retries).
    let refusing = false;
    let open: WebSocketRoute | null = null;
    await page.routeWebSocket(/\/graphql$/, (ws) => {
      if (refusing) return ws.close({ code: 1013, reason: "test: gateway unreachable" });
      open = ws;
      ws.connectToServer();
    });
    await page.goto(`${gateway.url}/#/services`);
    await page.fill("input[name=token]", ADMIN_TOKEN);
    await page.click("button[type=submit]");
    await page.waitForSelector('[data-testid=connection]:has-text("live")', WAIT);
    refusing = true;
    await (open as WebSocketRoute | null)?.close({
      code: 1012,
      reason: "test: the gateway restarts",
    });
    await page.waitForSelector('[data-testid=stale]:has-text("stale")', WAIT);
    const id = await register({ id: "dash-missed", name: "missed", type: "orders_api" });
    await shot(page, "services-reconnecting");
    expect(await page.locator(`[data-service-id="${id}"]`).count()).toBe(0);
    refusing = false;
    // Its registration's event went nowhere: the reload after the reconnect brings it.
    await page.waitForSelector(`[data-service-id="${id}"]`, WAIT);
    await page.waitForSelector('[data-testid=connection]:has-text("live")', WAIT);
    expect(await page.locator("[data-testid=stale]").count()).toBe(0);
  });

  it("shows a reader no action buttons", async () => {
    const id = await register({ id: "dash-readonly", name: "readonly", type: "orders_api" });
    const page = await signedIn(READER_TOKEN, `#/service/${id}`);
    await page.waitForSelector('[data-testid=who]:has-text("READER")', WAIT);
    await page.waitForSelector("[data-testid=service-status]", WAIT);
    expect(await page.locator("[data-testid=actions]").count()).toBe(0);
    expect(await page.locator("main button").count()).toBe(0);
    await shot(page, "service-reader");
  });

  it("is readable in dark mode", async () => {
    const page = await signedIn(ADMIN_TOKEN, "#/", { colorScheme: "dark" });
    await page.waitForSelector("[data-testid=system-health]", WAIT);
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(background).toBe("rgb(13, 17, 23)");
    await shot(page, "overview-dark");
  });

  it.skipIf(tokensMode)("warns in open mode, with no token asked", async () => {
    const open = await startGateway({ dashboardDir: dir });
    try {
      const page = await newPage();
      await page.goto(`${open.url}/dashboard`);
      await page.waitForSelector("[data-testid=open-mode]", WAIT);
      expect(await page.locator("input[name=token]").count()).toBe(0);
      await shot(page, "open-mode");
    } finally {
      await open.stop();
    }
  });
});

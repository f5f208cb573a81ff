/**
 * `npm run bench:dashboard`: the dashboard as a browser sees it, against a gateway in this
 * process (embedded PGlite, open mode) holding BENCH_DASHBOARD_SERVICES instances (5,000
 * by default). Reported against the targets:
 * - the bundle, gzipped (target < 150 KB), as scripts/build-dashboard.mjs writes it;
 * - time to first render: navigation start to the app's first render, to the first rows
 *   on screen (target < 1 s) and to the whole registry read, median of 5 fresh page loads;
 * - event to screen: a status change sent over GraphQL until the row shows it, p50/p99
 *   over BENCH_DASHBOARD_EVENTS changes (target p99 < 250 ms).
 * Debian's chromium (/usr/bin/chromium) driven by playwright-core. It reports; it never
 * fails on a figure.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { chromium } from "playwright-core";
import { buildDashboard } from "../scripts/build-dashboard.mjs";
import { createApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { openDatabase } from "../src/db/client.js";
import { anonymousCaller } from "../src/domain/access.js";
import { createInProcessEvents } from "../src/events.js";
import { createMemoryRegistryStore } from "../src/stores/memory-registry.js";

const SERVICES = Number(process.env.BENCH_DASHBOARD_SERVICES ?? 5000);
const EVENTS = Number(process.env.BENCH_DASHBOARD_EVENTS ?? 100);
const LOADS = 5;

const percentile = (values: number[], p: number) =>
  values.slice().sort((x, y) => x - y)[
    Math.min(values.length - 1, Math.floor(values.length * p))
  ] ?? 0;

const dir = await mkdtemp(join(tmpdir(), "sig-dashboard-bench-"));
const assets = await buildDashboard(dir);
const gzipped = assets.reduce((sum, asset) => sum + asset.gzipped, 0);

const config = loadConfig({
  ...process.env,
  SERVICE_PORT: "0",
  SERVICE_HOST: "127.0.0.1",
  LOG_LEVEL: "warn",
  RATE_LIMIT_PER_MINUTE: "0",
  PROBES: "false",
});
const database = await openDatabase({ dataDir: "memory://" });
await database.migrate();
const app = createApp({
  config,
  store: createMemoryRegistryStore(),
  database,
  events: createInProcessEvents(),
  log: pino({ level: "warn" }),
  dashboardDir: dir,
});
const { url } = await app.start();

const registering = performance.now();
const caller = anonymousCaller();
for (let start = 0; start < SERVICES; start += 50) {
  await Promise.all(
    Array.from({ length: Math.min(50, SERVICES - start) }, (_, i) =>
      app.services.registry.register(
        {
          id: `bench-${start + i}`,
          name: `svc-${start + i}`,
          type: `TYPE_${(start + i) % 20}`,
          version: "1.0.0",
          baseUrl: "http://127.0.0.1:9",
          ttlSeconds: 86_400,
          heartbeatIntervalSeconds: 3600,
        },
        caller,
      ),
    ),
  );
}
console.error(
  `${SERVICES} services registered in ${Math.round(performance.now() - registering)} ms`,
);

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
const shell: number[] = [];
const rows: number[] = [];
const loaded: number[] = [];
for (let i = 0; i < LOADS; i++) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${url}/#/services`);
  // Times on the page's own clock, from navigation start.
  // A string, not a function: tsx would wrap a named closure in a helper the page lacks.
  rows.push(
    await page.evaluate<number>(`new Promise((resolve) => {
      const check = () => document.querySelector("a.row")
        ? resolve(performance.now()) : requestAnimationFrame(check);
      check();
    })`),
  );
  await page.waitForSelector('main[data-loaded="true"] a.row', { timeout: 60_000 });
  const [first, all] = await page.evaluate(() => [
    (window as Window & { __dashboardRenderedAt?: number }).__dashboardRenderedAt ?? 0,
    performance.now(),
  ]);
  shell.push(first);
  loaded.push(all);
  await context.close();
}

// Event to screen: one row in view (searched for: the last id matches only itself), its
// status toggled over GraphQL.
const target = `bench-${SERVICES - 1}`;
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
await page.goto(`${url}/#/services`);
await page.waitForSelector('main[data-loaded="true"] a.row', { timeout: 60_000 });
await page.fill("input[type=search]", target);
await page.waitForSelector(`[data-service-id="${target}"]`);
const latencies: number[] = [];
for (let i = 0; i < EVENTS; i++) {
  const status = i % 2 === 0 ? "MAINTENANCE" : "ONLINE";
  const onScreen = page.waitForFunction(
    ([id, wanted]) => document.querySelector(`[data-service-id="${id}"] [data-status="${wanted}"]`),
    [target, status],
    { polling: "raf", timeout: 10_000 },
  );
  const sent = performance.now();
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      query: `mutation($id: ID!, $status: ServiceStatus!) {
        updateServiceStatus(id: $id, status: $status) { id }
      }`,
      variables: { id: target, status },
    }),
  });
  await response.arrayBuffer();
  await onScreen;
  latencies.push(performance.now() - sent);
}
await context.close();
await browser.close();
await app.stop();
await database.close();
await rm(dir, { recursive: true, force: true });

const median = (values: number[]) => percentile(values, 0.5);
const verdict = (ok: boolean) => (ok ? "within target" : "OVER TARGET");
console.log(
  JSON.stringify(
    {
      services: SERVICES,
      bundleGzippedKB: Number((gzipped / 1024).toFixed(1)),
      bundle: verdict(gzipped < 150 * 1024),
      appRenderedMs: Math.round(median(shell)),
      firstRowsOnScreenMs: Math.round(median(rows)),
      firstRender: verdict(median(rows) < 1000),
      allRowsLoadedMs: Math.round(median(loaded)),
      eventToScreenP50Ms: Number(percentile(latencies, 0.5).toFixed(1)),
      eventToScreenP99Ms: Number(percentile(latencies, 0.99).toFixed(1)),
      eventToScreen: verdict(percentile(latencies, 0.99) < 250),
    },
    null,
    2,
  ),
);

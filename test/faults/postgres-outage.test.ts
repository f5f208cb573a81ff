import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { privateCluster } from "./cluster.js";
import { graphqlAt, msUntilReady, readinessOf } from "./gateway-process.js";

const REGISTER = `mutation ($input: RegisterServiceInput!) { registerService(input: $input) { id } }`;

/**
 * Registrations sent as fast as `workers` loops can, until stopped: which ids were
 * acknowledged, and every other answer by its code.
 */
function registrationBurst(urls: string[], prefix: string, workers = 4) {
  const acknowledged = new Set<string>();
  const refusals = new Map<string, number>();
  let running = true;
  let sequence = 0;
  const loops = urls.flatMap((url) =>
    Array.from({ length: workers }, async () => {
      // Bounded in count as well as by stop(), so it can never run away.
      for (let n = 0; running && n < 20_000; n++) {
        const id = `${prefix}-${sequence++}`;
        const answer = await graphqlAt(url, REGISTER, {
          input: { id, name: id, type: "burst_worker", version: "1.0.0", baseUrl: "http://x.test" },
        });
        if ("network" in answer) {
          refusals.set("network", (refusals.get("network") ?? 0) + 1);
          // A real client's back-off between attempts: it paces the load, nothing waits on it.
          await sleep(20);
        } else if (answer.data?.registerService) {
          acknowledged.add(id);
        } else {
          const code = answer.errors?.[0]?.extensions?.code ?? "none";
          refusals.set(code, (refusals.get(code) ?? 0) + 1);
          // A client backs off a little while the gateway says it cannot take writes.
          await sleep(20);
        }
      }
    }),
  );
  return {
    acknowledged,
    refusals,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function durableIds(url: string, prefix: string): Promise<Set<string>> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>(
      "SELECT id FROM services WHERE id LIKE $1",
      [`${prefix}-%`],
    );
    return new Set(rows.map((row) => row.id));
  } finally {
    await client.end();
  }
}

describe("PostgreSQL outages", () => {
  const cluster = privateCluster();

  it("keeps two replicas up through immediate stops under a registration burst, losing nothing acknowledged", async () => {
    const replicas = await Promise.all([cluster.spawnReplica(), cluster.spawnReplica()]);
    for (const replica of replicas) await msUntilReady(replica.url);
    const urls = replicas.map((replica) => replica.url);
    const steady = await graphqlAt(urls[0] as string, REGISTER, {
      input: {
        id: "steady",
        name: "steady",
        type: "steady",
        version: "1.0.0",
        baseUrl: "http://s.test",
      },
    });
    expect("network" in steady ? null : steady.data).toEqual({ registerService: { id: "steady" } });
    const burst = registrationBurst(urls, "pg-burst", 12);

    const recoveries: number[] = [];
    // Real time throughout: load runs against real processes through outages of a set
    // length, and what is measured is how long real replicas take to be ready again.
    for (const outageMs of [3000, 1000, 1000, 1000]) {
      await sleep(1000);
      await cluster.postgres.stopImmediately();
      await sleep(outageMs / 2);
      for (const url of urls) {
        const readiness = await readinessOf(url);
        expect(readiness.status).toBe(503);
        expect(readiness.body).toContain("database (postgres)");
        // The hot paths live in Redis: heartbeats and discovery go on without the database.
        const beat = await graphqlAt(url, `mutation { heartbeat(id: "steady") { id } }`);
        expect("network" in beat ? null : beat.data).toEqual({ heartbeat: { id: "steady" } });
        const found = await graphqlAt(url, `{ serviceByType(type: "STEADY") { id } }`);
        expect("network" in found ? null : found.data).toEqual({ serviceByType: { id: "steady" } });
      }
      await sleep(outageMs / 2);
      await cluster.postgres.start();
      const back = performance.now();
      await Promise.all(urls.map((url) => msUntilReady(url)));
      recoveries.push(performance.now() - back);
    }
    await sleep(1000);
    await burst.stop();

    console.info(
      `postgres outages: ${burst.acknowledged.size} registrations acknowledged, refused ` +
        `${JSON.stringify(Object.fromEntries(burst.refusals))}, ready again after ` +
        `${recoveries.map((ms) => Math.round(ms)).join(" and ")} ms`,
    );
    expect(replicas.map((replica) => replica.running())).toEqual([true, true]);
    expect(replicas.flatMap((replica) => replica.errors())).toEqual([]);
    // The only refusal during an outage is the retryable one.
    expect([...burst.refusals.keys()]).toEqual(
      burst.refusals.size === 0 ? [] : ["SERVICE_UNAVAILABLE"],
    );
    expect(burst.refusals.get("SERVICE_UNAVAILABLE") ?? 0).toBeGreaterThan(0);
    expect(burst.acknowledged.size).toBeGreaterThan(50);

    // Nothing acknowledged is lost: every id is in the database and served by both.
    const stored = await durableIds(cluster.postgres.url, "pg-burst");
    expect([...burst.acknowledged].filter((id) => !stored.has(id))).toEqual([]);
    for (const url of urls) {
      const listed = await graphqlAt(
        url,
        `{ services(filter:{type:"burst_worker"}, first: 1) { totalCount } }`,
      );
      expect("network" in listed ? null : listed.data?.services).toEqual({
        totalCount: stored.size,
      });
    }
    // Ready again within a second of PostgreSQL accepting connections (twice that as
    // the bound, for a loaded machine; the figures printed above are the measurement).
    for (const ms of recoveries) expect(ms).toBeLessThan(2000);
  });

  it("starts while PostgreSQL is down: alive, not ready naming the database, ready once it is up", async () => {
    await cluster.postgres.stopImmediately();
    const gateway = await cluster.spawnReplica();
    // Long enough for a process that would exit on the refused connection to have done so:
    // "still running" can only be shown by letting real time pass.
    await sleep(1500);
    expect(gateway.running()).toBe(true);
    expect((await fetch(`${gateway.url}/health/alive`)).status).toBe(200);
    const readiness = await readinessOf(gateway.url);
    expect(readiness.status).toBe(503);
    expect(readiness.body).toContain("database (postgres)");
    const refused = await graphqlAt(gateway.url, "{ services { totalCount } }");
    expect("network" in refused ? null : refused.errors?.[0]?.extensions?.code).toBe(
      "SERVICE_UNAVAILABLE",
    );

    await cluster.postgres.start();
    const ms = await msUntilReady(gateway.url);
    console.info(`started with PostgreSQL down: ready ${Math.round(ms)} ms after it came up`);
    expect(ms).toBeLessThan(2000);
    await gateway.stop();
    expect((await gateway.exited).code).toBe(0);
  });
});

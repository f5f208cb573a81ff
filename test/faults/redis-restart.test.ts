import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { privateCluster } from "./cluster.js";
import { graphqlAt, msUntilReady } from "./gateway-process.js";

const SERVICES = 200;
const owner = { authorization: "Bearer token-of-the-owner" };
const intruder = { authorization: "Bearer token-of-someone-else" };

const REGISTER = `mutation ($input: RegisterServiceInput!) {
  registerService(input: $input) { id registeredAt status } }`;
const HEARTBEAT = `mutation ($id: ID!) { heartbeat(id: $id) { id } }`;
const LIST = `{ services(filter: { type: "REDIS_WORKER" }, first: 1) { totalCount } }`;

const input = (id: string) => ({
  id,
  name: id,
  type: "redis_worker",
  version: "1.0.0",
  baseUrl: "http://worker.test",
});

type Tally = Map<string, number>;
const count = (tally: Tally, key: string) => tally.set(key, (tally.get(key) ?? 0) + 1);

/**
 * Three kinds of client at once, each answer sorted as right (ok, or the retryable
 * SERVICE_UNAVAILABLE) or wrong (anything else): the owner heartbeating, a dashboard
 * listing, another token trying to register the owner's ids.
 */
function clientsUnderLoad(urls: string[]) {
  const right: Tally = new Map();
  const wrong: Tally = new Map();
  let running = true;
  const loop = async (work: (url: string, n: number) => Promise<void>) => {
    for (let n = 0; running && n < 50_000; n++) await work(urls[n % urls.length] as string, n);
  };
  const verdict = (kind: string, answer: Awaited<ReturnType<typeof graphqlAt>>, ok: boolean) => {
    if ("network" in answer) return count(wrong, `${kind}: network`);
    const code = answer.errors?.[0]?.extensions?.code;
    if (ok) return count(right, `${kind}: ok`);
    if (code === "SERVICE_UNAVAILABLE") return count(right, `${kind}: SERVICE_UNAVAILABLE`);
    count(wrong, `${kind}: ${code ?? JSON.stringify(answer.data)}`);
  };
  const loops = [
    ...[0, 1, 2, 3].map(() =>
      loop(async (url, n) => {
        const answer = await graphqlAt(url, HEARTBEAT, { id: `w-${n % SERVICES}` }, owner);
        verdict("heartbeat", answer, !("network" in answer) && Boolean(answer.data?.heartbeat));
      }),
    ),
    loop(async (url) => {
      const answer = await graphqlAt(url, LIST);
      const listed = "network" in answer ? null : (answer.data?.services as { totalCount: number });
      verdict("list", answer, listed?.totalCount === SERVICES);
    }),
    loop(async (url, n) => {
      const answer = await graphqlAt(
        url,
        REGISTER,
        { input: input(`w-${n % SERVICES}`) },
        intruder,
      );
      const code = "network" in answer ? null : answer.errors?.[0]?.extensions?.code;
      // The only right refusals of a takeover: not yours, or not now.
      if (code === "FORBIDDEN") return void count(right, "takeover: FORBIDDEN");
      verdict("takeover", answer, false);
    }),
  ];
  return {
    right,
    wrong,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

describe("Redis restarted empty under load", () => {
  const cluster = privateCluster();

  it("answers nothing wrong, lets no token take over an id, and is ready within a second of Redis", async () => {
    const replicas = await Promise.all([cluster.spawnReplica(), cluster.spawnReplica()]);
    for (const replica of replicas) await msUntilReady(replica.url);
    const urls = replicas.map((replica) => replica.url);
    const [first] = urls as [string, string];

    const registeredAt = new Map<string, string>();
    for (let n = 0; n < SERVICES; n++) {
      const answer = await graphqlAt(first, REGISTER, { input: input(`w-${n}`) }, owner);
      const service =
        "network" in answer ? null : (answer.data?.registerService as { registeredAt: string });
      expect(service).not.toBeNull();
      registeredAt.set(`w-${n}`, service?.registeredAt as string);
    }
    const maintenance = await graphqlAt(
      first,
      `mutation { updateServiceStatus(id: "w-7", status: MAINTENANCE) { status } }`,
      {},
      owner,
    );
    expect("network" in maintenance ? null : maintenance.data).toEqual({
      updateServiceStatus: { status: "MAINTENANCE" },
    });

    const clients = clientsUnderLoad(urls);
    const recoveries: number[] = [];
    // Real time throughout: the load runs against real processes through outages of a
    // set length, and what is measured is how long real replicas take to come back.
    for (let round = 0; round < 3; round++) {
      await sleep(800);
      await cluster.redis.kill();
      await sleep(round === 0 ? 2000 : 500);
      await cluster.redis.start();
      const back = performance.now();
      await Promise.all(urls.map((url) => msUntilReady(url)));
      recoveries.push(performance.now() - back);
    }
    await sleep(800);
    await clients.stop();

    console.info(
      `redis restarts: right ${JSON.stringify(Object.fromEntries(clients.right))}; wrong ` +
        `${JSON.stringify(Object.fromEntries(clients.wrong))}; ready again after ` +
        `${recoveries.map((ms) => Math.round(ms)).join(", ")} ms`,
    );
    expect(Object.fromEntries(clients.wrong)).toEqual({});
    expect(replicas.map((replica) => replica.running())).toEqual([true, true]);
    // The load did run on both sides of the outages.
    expect(clients.right.get("heartbeat: ok") ?? 0).toBeGreaterThan(100);
    expect(clients.right.get("heartbeat: SERVICE_UNAVAILABLE") ?? 0).toBeGreaterThan(0);
    expect(clients.right.get("takeover: FORBIDDEN") ?? 0).toBeGreaterThan(0);

    // What the empty Redis forgot came back from the database, as it was.
    for (const url of urls) {
      const listed = await graphqlAt(
        url,
        `{ services(filter: { type: "REDIS_WORKER" }, first: 500) { nodes { id registeredAt status } } }`,
      );
      type Node = { id: string; registeredAt: string; status: string };
      const services = "network" in listed ? null : listed.data?.services;
      const nodes = (services as { nodes: Node[] } | null | undefined)?.nodes ?? [];
      expect(nodes).toHaveLength(SERVICES);
      for (const node of nodes) expect(node.registeredAt).toBe(registeredAt.get(node.id));
      expect(nodes.find((node) => node.id === "w-7")?.status).toBe("MAINTENANCE");
    }
    const takeover = await graphqlAt(first, REGISTER, { input: input("w-3") }, intruder);
    expect("network" in takeover ? null : takeover.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const beat = await graphqlAt(first, HEARTBEAT, { id: "w-3" }, owner);
    expect("network" in beat ? null : beat.data).toEqual({ heartbeat: { id: "w-3" } });

    // Within a second of Redis accepting connections (twice that as the bound, for a
    // loaded machine; the figures printed above are the measurement).
    for (const ms of recoveries) expect(ms).toBeLessThan(2000);
  });
});

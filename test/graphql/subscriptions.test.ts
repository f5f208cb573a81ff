import type { Etcd3 } from "etcd3";
import { createClient } from "graphql-ws";
import type { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createEtcdEvents, createRedisEvents } from "../../src/events.js";
import { createEtcdRegistryStore } from "../../src/stores/etcd-registry.js";
import { createRedisRegistryStore } from "../../src/stores/redis-registry.js";
import { deleteEtcdPrefix, etcdIsAvailable, isolatedEtcdPrefix, newEtcd } from "../helpers/etcd.js";
import {
  authHeaders,
  dataOf,
  startGateway,
  type TestGateway,
  wsConnectionParams,
} from "../helpers/gateway.js";
import { deleteKeys, isolatedPrefix, newRedis, redisIsAvailable } from "../helpers/redis.js";

const REGISTER = `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`;
const STATUS_SUBSCRIPTION = /* GraphQL */ `
  subscription($serviceId: ID, $type: String) {
    serviceStatusChanged(serviceId: $serviceId, type: $type) {
      previousStatus status reason at service { id type status }
    }
  }
`;

type StatusEvent = {
  serviceStatusChanged: {
    previousStatus: string | null;
    status: string;
    reason: string;
    service: { id: string; type: string; status: string };
  };
};

const register = (gateway: TestGateway, id: string, type = "planning_system") =>
  gateway.graphql(REGISTER, {
    input: { id, name: id, type, version: "1.0.0", baseUrl: `http://${id}.test` },
  });

/**
 * graphql-ws has no acknowledgement that a subscription is in place, so the change is
 * made again, alternating, until the first event arrives (bounded).
 */
async function firstEventOf<T>(
  iterator: AsyncIterator<{ data?: T | null }>,
  change: (round: number) => Promise<unknown>,
): Promise<T> {
  const next = iterator.next();
  // Each round waits 100 ms for the event, then changes again: a bound per round, not a
  // sleep before an assertion.
  for (let round = 0; round < 40; round++) {
    await change(round);
    const arrived = await Promise.race([
      next,
      new Promise<null>((resolve) => setTimeout(() => resolve(null), 100)),
    ]);
    if (arrived && !arrived.done && arrived.value.data) return arrived.value.data;
  }
  throw new Error("no event arrived");
}

function wsClient(gateway: TestGateway) {
  return createClient({
    url: `${gateway.url.replace("http", "ws")}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: wsConnectionParams(),
    retryAttempts: 0,
  });
}

const toggle = (gateway: TestGateway, id: string) => (round: number) =>
  gateway.graphql(
    `mutation($id: ID!, $status: ServiceStatus!) { updateServiceStatus(id: $id, status: $status) { id } }`,
    { id, status: round % 2 === 0 ? "MAINTENANCE" : "ONLINE" },
  );

describe("subscriptions on one gateway", () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway();
    dataOf(await register(gateway, "watched"));
    dataOf(await register(gateway, "other", "agent_orchestrator"));
  });
  afterAll(() => gateway.stop());

  it("delivers status transitions over graphql-ws, only for the service asked for", async () => {
    const client = wsClient(gateway);
    const events = client.iterate<StatusEvent>({
      query: STATUS_SUBSCRIPTION,
      variables: { serviceId: "watched" },
    });
    try {
      const { serviceStatusChanged: event } = await firstEventOf(
        events,
        toggle(gateway, "watched"),
      );
      // Which toggle arrives first depends on when the subscription took hold.
      expect(event).toMatchObject({
        reason: "set manually",
        service: { id: "watched", type: "PLANNING_SYSTEM", status: event.status },
      });
      expect([event.previousStatus, event.status].sort()).toEqual(["MAINTENANCE", "ONLINE"]);

      // Now that the subscription is surely live: another service's change is not
      // delivered, so the next event is the watched one's.
      const next = events.next();
      await toggle(gateway, "other")(0);
      await toggle(gateway, "watched")(event.status === "MAINTENANCE" ? 1 : 0);
      expect((await next).value?.data?.serviceStatusChanged.service.id).toBe("watched");
    } finally {
      await events.return?.();
      await client.dispose();
    }
  });

  it("delivers registry changes over SSE, filtered by type in any spelling", async () => {
    const controller = new AbortController();
    const response = await fetch(`${gateway.url}/graphql`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "text/event-stream",
        ...authHeaders(),
      },
      body: JSON.stringify({
        query: `subscription { registryChanged(type: "agent-orchestrator") { change revision service { id } } }`,
      }),
      signal: controller.signal,
    });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    try {
      let text = "";
      for (let round = 0; round < 40 && !text.includes('"registryChanged"'); round++) {
        await register(gateway, `planner-${round}`);
        await register(gateway, `agent-${round}`, "agent_orchestrator");
        // As firstEventOf: at most 100 ms for the event per round.
        const chunk = await Promise.race([
          reader.read(),
          new Promise<null>((resolve) => setTimeout(() => resolve(null), 100)),
        ]);
        if (chunk && !chunk.done) text += new TextDecoder().decode(chunk.value);
      }
      const data = text.split("\n").find((line) => line.startsWith("data: {"));
      const event = JSON.parse(data?.slice(6) ?? "null");
      expect(event.data.registryChanged.change).toBe("REGISTERED");
      expect(event.data.registryChanged.service.id).toMatch(/^agent-/);
      expect(event.data.registryChanged.revision).toBeGreaterThan(0);
    } finally {
      controller.abort();
    }
  });
});

const redisAvailable = await redisIsAvailable();

describe.runIf(redisAvailable)("subscriptions across replicas on one Redis", () => {
  const keyPrefix = isolatedPrefix();
  const connections: Redis[] = [];
  let a: TestGateway;
  let b: TestGateway;

  async function replica(): Promise<TestGateway> {
    const redis = newRedis();
    const subscriber = newRedis();
    connections.push(redis, subscriber);
    return startGateway({
      store: createRedisRegistryStore({ redis, keyPrefix }),
      events: createRedisEvents({
        publisher: redis,
        subscriber,
        channelPrefix: keyPrefix,
        log: pino({ level: "silent" }),
      }),
    });
  }

  beforeAll(async () => {
    a = await replica();
    b = await replica();
  });
  afterAll(async () => {
    await a.stop();
    await b.stop();
    await deleteKeys(connections[0] as Redis, keyPrefix);
    for (const connection of connections) connection.disconnect();
  });

  it("shows a subscriber on replica A a change made on replica B, once", async () => {
    dataOf(await register(b, "shared"));
    const client = wsClient(a);
    const events = client.iterate<StatusEvent>({
      query: STATUS_SUBSCRIPTION,
      variables: { type: "PLANNING_SYSTEM" },
    });
    try {
      const event = await firstEventOf(events, toggle(b, "shared"));
      expect(event.serviceStatusChanged.service.id).toBe("shared");
      // Exactly once: the next event is the next change, not a copy of this one.
      const second = events.next();
      const previous = event.serviceStatusChanged.status;
      await toggle(b, "shared")(previous === "MAINTENANCE" ? 1 : 0);
      const next = await second;
      expect(next.done).toBe(false);
      expect(next.value?.data?.serviceStatusChanged.previousStatus).toBe(previous);

      // However many clients subscribe, each replica holds one Redis subscription.
      const more = Array.from({ length: 5 }, (_, i) =>
        wsClient(i % 2 === 0 ? a : b).iterate({
          query: STATUS_SUBSCRIPTION,
          variables: { serviceId: `other-${i}` },
        }),
      );
      // Asking for the first event is what starts each subscription. Real time on
      // purpose: what is checked is that they open no Redis subscription of their own,
      // which only waiting after they start can show.
      const pending = more.map((iterator) => iterator.next());
      await new Promise((resolve) => setTimeout(resolve, 300));
      const [, subscribers] = (await (connections[0] as Redis).pubsub(
        "NUMSUB",
        `${keyPrefix}events:service.statusChanged`,
      )) as [string, number];
      expect(subscribers).toBe(2);
      for (const iterator of more) await iterator.return?.();
      await Promise.allSettled(pending);
    } finally {
      await events.return?.();
      await client.dispose();
    }
  });
});

const etcdAvailable = await etcdIsAvailable();

describe.runIf(etcdAvailable)("subscriptions across replicas on one etcd", () => {
  const keyPrefix = isolatedEtcdPrefix();
  const clients: Etcd3[] = [];
  let a: TestGateway;
  let b: TestGateway;

  async function replica(): Promise<TestGateway> {
    const client = newEtcd();
    clients.push(client);
    const store = createEtcdRegistryStore({ client, keyPrefix });
    const events = createEtcdEvents({
      client,
      keyPrefix,
      changesSince: (since, limit) => store.changesSince(since, limit),
      log: pino({ level: "silent" }),
    });
    await events.watching;
    return startGateway({ store, events });
  }

  beforeAll(async () => {
    a = await replica();
    b = await replica();
  });
  afterAll(async () => {
    await a.stop();
    await b.stop();
    await deleteEtcdPrefix(clients[0] as Etcd3, keyPrefix);
    for (const client of clients) client.close();
  });

  it("shows a subscriber on replica A a change made on replica B, once", async () => {
    dataOf(await register(b, "shared-etcd"));
    const client = wsClient(a);
    const events = client.iterate<StatusEvent>({
      query: STATUS_SUBSCRIPTION,
      variables: { serviceId: "shared-etcd" },
    });
    try {
      const event = await firstEventOf(events, toggle(b, "shared-etcd"));
      expect(event.serviceStatusChanged.service.id).toBe("shared-etcd");
      const second = events.next();
      const previous = event.serviceStatusChanged.status;
      await toggle(b, "shared-etcd")(previous === "MAINTENANCE" ? 1 : 0);
      const next = await second;
      expect(next.done).toBe(false);
      expect(next.value?.data?.serviceStatusChanged.previousStatus).toBe(previous);
    } finally {
      await events.return?.();
      await client.dispose();
    }
  });

  it("gives registryChanged events on A with the revisions registryChanges reports on B", async () => {
    const client = wsClient(a);
    const events = client.iterate<{ registryChanged: { change: string; revision: number } }>({
      query: `subscription { registryChanged(type: "AGENT_ORCHESTRATOR") { change revision } }`,
    });
    try {
      let round = 0;
      const first = await firstEventOf(events, () =>
        register(b, `registry-etcd-${round++}`, "agent_orchestrator"),
      );
      const { revision } = first.registryChanged;
      const changes = dataOf(
        await b.graphql<{
          registryChanges: { events: { revision: number }[]; resyncRequired: boolean };
        }>(
          `query($since: Int!) { registryChanges(sinceRevision: $since) {
              events { revision } resyncRequired } }`,
          { since: revision - 1 },
        ),
      );
      expect(changes.registryChanges.resyncRequired).toBe(false);
      expect(changes.registryChanges.events[0]?.revision).toBe(revision);
    } finally {
      await events.return?.();
      await client.dispose();
    }
  });
});

import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisRegistryStore } from "../../src/stores/redis-registry.js";
import { dataOf, startGateway, type TestGateway } from "../helpers/gateway.js";
import { deleteKeys, isolatedPrefix, newRedis, redisIsAvailable } from "../helpers/redis.js";

const available = await redisIsAvailable();

describe.runIf(available)("two gateways on one Redis", () => {
  let redis: Redis;
  const keyPrefix = isolatedPrefix();
  let first: TestGateway;
  let second: TestGateway;

  beforeAll(async () => {
    redis = newRedis();
    first = await startGateway({ store: createRedisRegistryStore({ redis, keyPrefix }) });
    second = await startGateway({
      store: createRedisRegistryStore({ redis: newRedis(), keyPrefix }),
    });
  });
  afterAll(async () => {
    await first.stop();
    await second.stop();
    await deleteKeys(redis, keyPrefix);
    redis.disconnect();
  });

  it("share one registry: what one registers, the other discovers and balances", async () => {
    for (const id of ["r1", "r2"]) {
      dataOf(
        await first.graphql(
          `mutation($input: RegisterServiceInput!) { registerService(input: $input) { id } }`,
          {
            input: {
              id,
              name: id,
              type: "agent_orchestrator",
              version: "2.0.0",
              baseUrl: `http://${id}.test`,
            },
          },
        ),
      );
    }
    const listed = dataOf(
      await second.graphql<{ services: { totalCount: number } }>(
        `{ services(filter: { type: "AGENT_ORCHESTRATOR" }) { totalCount } }`,
      ),
    );
    expect(listed.services.totalCount).toBe(2);

    // The round-robin cursor lives in Redis, so alternating replicas still alternate instances.
    const picks: string[] = [];
    for (const gateway of [first, second, first, second]) {
      const { serviceByType } = dataOf(
        await gateway.graphql<{ serviceByType: { id: string } }>(
          `{ serviceByType(type: "AGENT_ORCHESTRATOR") { id } }`,
        ),
      );
      picks.push(serviceByType.id);
    }
    expect(picks.filter((id) => id === "r1")).toHaveLength(2);
    expect(picks[0]).not.toBe(picks[1]);

    dataOf(
      await second.graphql(
        `mutation { updateServiceStatus(id: "r1", status: MAINTENANCE) { id } }`,
      ),
    );
    const searched = dataOf(
      await first.graphql<{ searchServices: { nodes: { id: string }[] } }>(
        `{ searchServices(where: { status: [MAINTENANCE], version: "^2" }) { nodes { id } } }`,
      ),
    );
    expect(searched.searchServices.nodes).toEqual([{ id: "r1" }]);
  });
});

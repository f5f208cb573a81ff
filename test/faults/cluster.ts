import { afterAll, beforeAll } from "vitest";
import {
  type PrivatePostgres,
  type PrivateRedis,
  startPrivatePostgres,
  startPrivateRedis,
} from "./backends.js";
import { type GatewayProcess, spawnGateway } from "./gateway-process.js";

/**
 * A private Redis and PostgreSQL for one test file, started before its tests, and the
 * gateways it spawns on them; everything is killed (by pid) after the file.
 */
export function privateCluster() {
  const gateways: GatewayProcess[] = [];
  let backends: { postgres: PrivatePostgres; redis: PrivateRedis } | null = null;
  const started = () => {
    if (!backends) throw new Error("the private backends start in beforeAll");
    return backends;
  };

  beforeAll(async () => {
    const [postgres, redis] = await Promise.all([startPrivatePostgres(), startPrivateRedis()]);
    backends = { postgres, redis };
  });

  afterAll(async () => {
    await Promise.all(gateways.map((gateway) => gateway.stop("SIGKILL")));
    await Promise.all([backends?.postgres.dispose(), backends?.redis.dispose()]);
  });

  return {
    get postgres() {
      return started().postgres;
    },
    get redis() {
      return started().redis;
    },
    /** A gateway replica on both, with `env` besides; killed after the file. */
    async spawnReplica(env: Record<string, string> = {}): Promise<GatewayProcess> {
      const { postgres, redis } = started();
      const gateway = await spawnGateway({
        DATABASE_URL: postgres.url,
        REDIS_URL: redis.url,
        ...env,
      });
      gateways.push(gateway);
      return gateway;
    },
  };
}

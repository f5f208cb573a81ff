import { readFileSync } from "node:fs";
import {
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  noop,
  retry,
} from "cockatiel";
import { Etcd3, isRecoverableError } from "etcd3";
import type { EtcdConfig } from "./config.js";

/** Every unary call gets this long; a hung etcd answers SERVICE_UNAVAILABLE, not a hang. */
const CALL_DEADLINE_MS = 2000;

/**
 * An etcd client that fails fast while etcd is away (one try per endpoint, then the
 * error), so callers get SERVICE_UNAVAILABLE at once, and whose watches reconnect
 * within about a second of etcd coming back. The library's defaults (three retries and
 * a five-second breaker per host, watch backoff up to thirty seconds) would hold a
 * request and a recovery far longer than the Redis connection does.
 */
export function createEtcdClient(config: Omit<EtcdConfig, "keyPrefix">): Etcd3 {
  const ca = config.caFile ? readFileSync(config.caFile) : null;
  return new Etcd3({
    hosts: config.endpoints,
    ...(config.username !== null
      ? { auth: { username: config.username, password: config.password ?? "" } }
      : {}),
    ...(ca
      ? {
          credentials: {
            rootCertificate: ca,
            ...(config.keyFile ? { privateKey: readFileSync(config.keyFile) } : {}),
            ...(config.certFile ? { certChain: readFileSync(config.certFile) } : {}),
          },
        }
      : {}),
    dialTimeout: CALL_DEADLINE_MS,
    // gRPC's own reconnect backoff grows to two minutes; a second at most here.
    grpcOptions: {
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 1000,
    },
    defaultCallOptions: (context) =>
      context.isStream ? {} : { deadline: Date.now() + CALL_DEADLINE_MS },
    faultHandling: {
      // With several endpoints, a failed call moves on to the next one, once.
      global: retry(handleWhen(isRecoverableError), {
        maxAttempts: Math.max(0, config.endpoints.length - 1),
      }),
      // Between several endpoints, one that keeps failing is skipped for a second.
      host: () =>
        config.endpoints.length > 1
          ? circuitBreaker(handleWhen(isRecoverableError), {
              halfOpenAfter: 1000,
              breaker: new ConsecutiveBreaker(3),
            })
          : noop,
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }).next(),
    },
  });
}

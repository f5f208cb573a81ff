import type { GatewayClient } from "../../src/client/index.js";

/**
 * Calls `GET /work` of a service through the gateway every `everyMs`, as a client of it
 * would: while the service fails, its circuit breaker opens, and the gateway refuses the
 * calls at once until a trial succeeds. The outcomes are what the breaker shows; they
 * are not reported here.
 */
export function sendTraffic(
  client: GatewayClient,
  { serviceId, everyMs = 1000 }: { serviceId: string; everyMs?: number },
) {
  let inFlight: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    inFlight = client.callService({ serviceId, method: "GET", path: "/work" }).catch(() => {});
  }, everyMs);
  return {
    async stop(): Promise<void> {
      clearInterval(timer);
      await inFlight;
    },
  };
}

import { type DemoService, HEARTBEATS } from "./demo-service.js";
import { startJsonService } from "./json-service.js";

export type FlakyService = DemoService & {
  /** Starts the flapping: unhealthy for `phaseMs`, healthy for `phaseMs`, and again. */
  startFlapping(): void;
};

/**
 * A service that flaps: its health endpoint and its one endpoint, `GET /work`, answer 503
 * for `phaseMs`, then 200 for `phaseMs`, over and over. Probed every second, it goes
 * DEGRADED, then OFFLINE, then ONLINE again; calls sent to it while it fails open its
 * circuit breaker.
 */
export async function startFlakyService({ phaseMs = 6000 } = {}): Promise<FlakyService> {
  // Healthy until the flapping starts, so that it registers like any other service.
  let flappingSince: number | null = null;
  const healthy = () =>
    flappingSince === null || Math.floor((Date.now() - flappingSince) / phaseMs) % 2 === 1;
  const service = await startJsonService(
    ({ method, path }) => {
      if (method === "GET" && path === "/work") {
        return healthy()
          ? { status: 200, body: { done: true } }
          : { status: 503, body: { detail: "overloaded, try later" } };
      }
      return { status: 404, body: { detail: `no route ${method} ${path}` } };
    },
    {
      health: () =>
        healthy()
          ? { status: 200, body: { status: "healthy" } }
          : { status: 503, body: { status: "unhealthy", detail: "overloaded" } },
    },
  );
  return {
    registration: {
      id: "flaky-1",
      name: "Flaky Service",
      type: "flaky",
      version: "0.1.0",
      baseUrl: service.baseUrl,
      endpoints: [{ path: "/work", method: "GET", description: "fails half of the time" }],
      tags: ["demo"],
      // Its own probe period, shorter than the gateway's default.
      probeIntervalSeconds: 1,
      ...HEARTBEATS,
    },
    close: service.close,
    startFlapping() {
      flappingSince ??= Date.now();
    },
  };
}

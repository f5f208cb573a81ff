import { TaskCancelledError, TimeoutStrategy, timeout } from "cockatiel";

export type DependencyCheck = { name: string; check: () => Promise<void> };

export type DependencyStatus = {
  name: string;
  ok: boolean;
  latencyMs: number;
  error: string | null;
};

/** Bounded, so a hung backend makes readiness fail rather than hang the probe. */
const CHECK_TIMEOUT_MS = 2000;
/** Aggressive: the answer comes at the deadline, whether or not the check ever ends. */
const checkTimeout = timeout(CHECK_TIMEOUT_MS, TimeoutStrategy.Aggressive);

export function createReadiness(dependencies: DependencyCheck[]) {
  let leaving = false;
  return {
    /** Checks every dependency concurrently; not ready at all once the gateway is leaving. */
    async check(): Promise<{ ready: boolean; dependencies: DependencyStatus[] }> {
      const results = await Promise.all(dependencies.map(checkOne));
      if (leaving) results.push(LEAVING);
      return { ready: results.every((result) => result.ok), dependencies: results };
    },

    /**
     * From the shutdown signal on: a load balancer polling readiness over a connection it
     * keeps open hears 503 at once, and sends nothing more while requests drain.
     */
    leave(): void {
      leaving = true;
    },
  };
}

const LEAVING: DependencyStatus = {
  name: "gateway",
  ok: false,
  latencyMs: 0,
  error: "shutting down: finishing the requests in flight",
};

async function checkOne({ name, check }: DependencyCheck): Promise<DependencyStatus> {
  const started = performance.now();
  try {
    await checkTimeout.execute(() => check());
    return { name, ok: true, latencyMs: performance.now() - started, error: null };
  } catch (error) {
    return { name, ok: false, latencyMs: performance.now() - started, error: describe(error) };
  }
}

function describe(error: unknown): string {
  if (error instanceof TaskCancelledError) return `no answer in ${CHECK_TIMEOUT_MS} ms`;
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}

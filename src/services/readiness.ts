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
  return {
    /** Checks every dependency concurrently. */
    async check(): Promise<{ ready: boolean; dependencies: DependencyStatus[] }> {
      const results = await Promise.all(dependencies.map(checkOne));
      return { ready: results.every((result) => result.ok), dependencies: results };
    },
  };
}

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

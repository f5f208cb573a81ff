export type DependencyCheck = { name: string; check: () => Promise<void> };

export type DependencyStatus = {
  name: string;
  ok: boolean;
  latencyMs: number;
  error: string | null;
};

/** Bounded, so a hung backend makes readiness fail rather than hang the probe. */
const CHECK_TIMEOUT_MS = 2000;

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
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer in ${CHECK_TIMEOUT_MS} ms`)),
          CHECK_TIMEOUT_MS,
        );
      }),
    ]);
    return { name, ok: true, latencyMs: performance.now() - started, error: null };
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    const message = cause instanceof Error ? cause.message : String(cause);
    return { name, ok: false, latencyMs: performance.now() - started, error: message };
  } finally {
    clearTimeout(timer);
  }
}

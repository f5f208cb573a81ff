import type { Logger } from "pino";

/**
 * A task run every `intervalMs`, one run at a time (a slow run is never overlapped by
 * the next). Failures are logged, once per run of failures rather than every interval,
 * and never thrown. The timer does not keep the process alive; `stop` waits for a run
 * in progress.
 */
export function every(
  intervalMs: number,
  task: () => Promise<unknown>,
  { log, name }: { log: Logger; name: string },
) {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  let failing = false;

  const tick = () => {
    running ??= task()
      .then(() => {
        if (failing) log.info(`${name} works again`);
        failing = false;
      })
      .catch((error: unknown) => {
        if (!failing) log.warn({ err: error }, `${name} failed; retrying every ${intervalMs} ms`);
        failing = true;
      })
      .finally(() => {
        running = null;
      });
  };

  return {
    start(): void {
      timer ??= setInterval(tick, intervalMs);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = null;
      await running;
    },
  };
}

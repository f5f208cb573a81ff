import { setTimeout as delay } from "node:timers/promises";

/**
 * Waits `ms`, or until the signal stops the run. A stopped wait rejects with the signal's
 * reason, not node's AbortError: the runner reads the reason to know why the run ended.
 */
export async function wait(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw error;
  }
}

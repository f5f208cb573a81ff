/**
 * Group commit: callers hand in items and wait; whatever arrives while one batch is
 * being written goes out together in the next, in arrival order. Under load a write
 * costs one transaction per batch instead of one per caller; alone, it waits for no one.
 */
export function createBatcher<T>(write: (items: T[]) => Promise<void>, maxBatch = 500) {
  type Waiting = { item: T; resolve: () => void; reject: (error: unknown) => void };
  let queue: Waiting[] = [];
  let writing = false;

  async function drain(): Promise<void> {
    writing = true;
    while (queue.length > 0) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      try {
        await write(batch.map((waiting) => waiting.item));
        for (const waiting of batch) waiting.resolve();
      } catch (error) {
        if (batch.length === 1) {
          batch[0]?.reject(error);
          continue;
        }
        // One bad item must not fail its neighbours: write each alone to find it.
        for (const waiting of batch) {
          await write([waiting.item]).then(waiting.resolve, waiting.reject);
        }
      }
    }
    writing = false;
  }

  return (item: T): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (!writing) void drain();
    });
}

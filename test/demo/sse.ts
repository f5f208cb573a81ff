import { vi } from "vitest";

export type Answer = { data?: Record<string, unknown> | null; errors?: { message: string }[] };

/**
 * A subscription over SSE, read in the background: `events` grows as they come (yoga sends
 * the response headers with the first one), `ended` resolves when the stream ends.
 */
export function subscribe(url: string, query: string, operationName?: string) {
  const aborted = new AbortController();
  const events: Answer[] = [];
  const ended = (async () => {
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "text/event-stream" },
        body: JSON.stringify({ query, operationName }),
        signal: aborted.signal,
      });
      const decoder = new TextDecoder();
      let text = "";
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        text += decoder.decode(chunk, { stream: true });
        let end = text.indexOf("\n\n");
        while (end >= 0) {
          const data = /^event: next\ndata: (.*)$/m.exec(text.slice(0, end));
          if (data) events.push(JSON.parse(data[1] as string) as Answer);
          text = text.slice(end + 2);
          end = text.indexOf("\n\n");
        }
      }
    } catch {
      // Aborted here, or cut by a gateway that stopped.
    }
  })();
  return {
    events,
    ended,
    /** Waits (bounded generously) for an event that `matches`. */
    async next(matches: (event: Answer) => boolean = () => true): Promise<Answer> {
      return vi.waitFor(
        () => {
          const found = events.find(matches);
          if (!found) throw new Error(`no such event yet among ${events.length}`);
          return found;
        },
        { timeout: 60_000, interval: 50 },
      );
    },
    close(): void {
      aborted.abort();
    },
  };
}

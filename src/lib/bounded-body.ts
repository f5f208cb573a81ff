/** A response body as undici gives it: a stream that can be read chunk by chunk and dropped. */
export type ReadableBody = AsyncIterable<Buffer> & {
  destroy(): void;
  on(event: "error", listener: () => void): unknown;
};

/**
 * Reads a body up to `limit` bytes. A longer one is cut there and the rest is never read:
 * the stream is destroyed, so a service that streams without end costs `limit` bytes of
 * memory and no more.
 */
export async function readUpTo(
  body: ReadableBody,
  limit: number,
): Promise<{ bytes: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    chunks.push(chunk);
    if (size > limit) {
      // Destroying the stream makes it emit an error nobody else listens for.
      body.on("error", () => {});
      body.destroy();
      break;
    }
  }
  const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
  return size > limit
    ? { bytes: bytes.subarray(0, limit), truncated: true }
    : { bytes, truncated: false };
}

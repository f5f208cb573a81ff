import type { IncomingMessage } from "node:http";
import { GatewayError } from "../domain/errors.js";

export class PayloadTooLargeError extends GatewayError {
  constructor(readonly limit: number) {
    super("BAD_USER_INPUT", `Request body exceeds ${limit} bytes.`, { limit });
  }
}

/**
 * Reads the whole body, refusing it as soon as it passes `limit` bytes, whether the
 * size was declared (Content-Length) or streamed (chunked). The rest of an oversized
 * body is drained and dropped, so the socket stays usable for the 413 answer.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  if (Number(req.headers["content-length"]) > limit) {
    req.resume();
    return Promise.reject(new PayloadTooLargeError(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on("data", (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > limit) {
        refused = true;
        reject(new PayloadTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (!refused)
        resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    });
    req.on("error", reject);
  });
}

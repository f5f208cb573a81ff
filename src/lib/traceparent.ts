import { randomBytes } from "node:crypto";

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * W3C trace context: the gateway is a hop of its own, so the service gets the caller's
 * trace id under a new parent id; without a valid incoming one, a new sampled trace.
 */
export function childTraceparent(incoming: string | null): string {
  const match = incoming ? TRACEPARENT.exec(incoming.trim().toLowerCase()) : null;
  const spanId = randomBytes(8).toString("hex");
  if (match && match[2] !== "0".repeat(32) && match[1] !== "ff") {
    return `00-${match[2]}-${spanId}-${match[4]}`;
  }
  return `00-${randomBytes(16).toString("hex")}-${spanId}-01`;
}

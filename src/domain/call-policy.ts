/** How the gateway calls one instance: deadlines, retries, the bulkhead, the body limit. */
export type CallPolicySettings = {
  /** Deadline of one attempt: connect, headers and body. */
  timeoutMs: number;
  /** Attempts of an idempotent call, the first included. */
  maxAttempts: number;
  /** First retry delay; it doubles each retry, with jitter, up to retryMaxDelayMs. */
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  /** Calls in flight to one instance (the bulkhead); more wait in a queue of maxQueued. */
  maxConcurrent: number;
  maxQueued: number;
  /** Largest response body read from a service. */
  maxResponseBytes: number;
};

export const defaultCallPolicy: CallPolicySettings = {
  timeoutMs: 5000,
  maxAttempts: 3,
  retryBaseDelayMs: 100,
  retryMaxDelayMs: 2000,
  maxConcurrent: 100,
  maxQueued: 100,
  maxResponseBytes: 1024 * 1024,
};

import type { RegisterServiceInput } from "../../src/client/index.js";

/** One running demo service and how it registers (all but `baseUrl`'s port are fixed). */
export type DemoService = {
  registration: RegisterServiceInput;
  close(): Promise<void>;
};

/** Heartbeats every 5 s, expired after 15 s of silence: statuses move while you watch. */
export const HEARTBEATS = { heartbeatIntervalSeconds: 5, ttlSeconds: 15 } as const;

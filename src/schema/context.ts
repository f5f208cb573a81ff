import type { Logger } from "pino";
import type { Caller } from "../domain/access.js";
import type { Services } from "../services/index.js";

/** Built once per HTTP request or WebSocket operation. */
export type GatewayContext = {
  services: Services;
  caller: Caller;
  requestId: string;
  /** The caller's W3C trace context, passed on (as a child) to services it calls. */
  traceparent: string | null;
  /** Errors logged from here carry requestId themselves; a child per request costs too much. */
  log: Logger;
};

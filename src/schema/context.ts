import type { Logger } from "pino";
import type { Caller } from "../services/caller.js";
import type { Services } from "../services/index.js";

/** Built once per HTTP request or WebSocket operation. */
export type GatewayContext = {
  services: Services;
  caller: Caller;
  requestId: string;
  /** Errors logged from here carry requestId themselves; a child per request costs too much. */
  log: Logger;
};

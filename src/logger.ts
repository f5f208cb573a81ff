import { type Logger, pino } from "pino";
import type { Config } from "./config.js";

/** JSON lines on stdout; the level comes from LOG_LEVEL. */
export function createLogger(config: Pick<Config, "logLevel" | "serviceName">): Logger {
  return pino({
    name: config.serviceName,
    level: config.logLevel,
    redact: ["req.headers.authorization", "headers.authorization"],
  });
}

import { type Logger, pino } from "pino";
import type { Config } from "./config.js";

/**
 * Log lines on stdout; the level comes from LOG_LEVEL, the format from LOG_FORMAT: JSON
 * lines, or pino-pretty's for a person. pino-pretty is loaded only when pretty is chosen
 * (a transport in a worker thread), so a JSON-logging production never loads it.
 */
export function createLogger(
  config: Pick<Config, "logLevel" | "serviceName" | "logFormat">,
): Logger {
  return pino({
    name: config.serviceName,
    level: config.logLevel,
    redact: ["req.headers.authorization", "headers.authorization"],
    ...(config.logFormat === "pretty"
      ? {
          transport: {
            target: "pino-pretty",
            options: {
              destination: 1,
              colorize: process.stdout.isTTY === true,
              translateTime: "SYS:HH:MM:ss.l",
              ignore: "pid,hostname",
            },
          },
        }
      : {}),
  });
}

/** JSON lines in production, readable lines in the sandbox (LOG_FORMAT), at LOG_LEVEL. */
import { Layer, Logger, type LogLevel } from "effect"

export const LoggingLive = (format: "json" | "pretty", level: LogLevel.LogLevel) =>
  Layer.merge(Logger.minimumLogLevel(level), format === "json" ? Logger.json : Logger.pretty)

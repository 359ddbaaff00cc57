/**
 * JSON lines in production, readable lines in the sandbox (LOG_FORMAT), at LOG_LEVEL. Every
 * line logged inside a span carries its traceId and spanId, so a request's or an event's
 * lines can be found together (and next to its trace, when traces are exported).
 */
import { Layer, Logger, type LogLevel } from "effect"

export const LoggingLive = (format: "json" | "pretty", level: LogLevel.LogLevel) =>
  Layer.merge(
    Logger.minimumLogLevel(level),
    Logger.replace(
      Logger.defaultLogger,
      Logger.withSpanAnnotations(format === "json" ? Logger.withConsoleLog(Logger.jsonLogger) : Logger.prettyLogger())
    )
  )

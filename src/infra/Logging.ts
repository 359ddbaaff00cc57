/**
 * JSON lines in production, readable lines in the sandbox (LOG_FORMAT), at LOG_LEVEL; either way
 * one line per entry (a failure's cause follows its line). Every line logged inside an exported
 * span carries its traceId and spanId, so a request's or an event's lines can be found together
 * and next to its trace; without tracing, spans are no-ops whose ids ("noop") say nothing, and
 * are left out. Health checks' access lines are logged at debug: a probe every few seconds
 * would bury everything else at info.
 */
import {
  Cause,
  Context,
  FiberRef,
  FiberRefs,
  HashMap,
  Inspectable,
  Layer,
  Logger,
  LogLevel,
  Option,
  Tracer
} from "effect"

/** Whether the line is logged inside a real span (a no-op span's ids are "noop"). */
const inTracedSpan = (context: FiberRefs.FiberRefs) =>
  Option.exists(
    Option.flatMap(FiberRefs.get(context, FiberRef.currentContext), Context.getOption(Tracer.ParentSpan)),
    (span) => span.traceId !== "noop"
  )

/** `self`, with the span's ids when there is a real one. */
const withTraceIds = <M, O>(self: Logger.Logger<M, O>): Logger.Logger<M, O> => {
  const annotated = Logger.withSpanAnnotations(self)
  return Logger.make((options) => (inTracedSpan(options.context) ? annotated : self).log(options))
}

/** `12:00:01.234 INFO  message key=value …`: the pretty format, on one line. */
const prettyLine = Logger.make(({ annotations, cause, date, logLevel, message }) => {
  const text = (Array.isArray(message) ? message : [message]).map((part) =>
    typeof part === "string" ? part : Inspectable.toStringUnknown(Inspectable.redact(part), 0)
  )
  const fields = [...annotations].map(([key, value]) =>
    `${key}=${typeof value === "string" ? value : Inspectable.toStringUnknown(Inspectable.redact(value), 0)}`
  )
  const line = [date.toISOString().slice(11, 23), logLevel.label.padEnd(5), ...text, ...fields].join(" ")
  globalThis.console.log(Cause.isEmpty(cause) ? line : `${line}\n${Cause.pretty(cause, { renderErrorCause: true })}`)
})

/** The probes' own routes, exactly (a scan of other paths under /health/ stays at info). */
const healthChecks = new Set(["/health/live", "/health/ready"])

const isHealthCheck = (annotations: HashMap.HashMap<string, unknown>) =>
  Option.exists(
    HashMap.get(annotations, "http.url"),
    (url) => typeof url === "string" && healthChecks.has(url.split("?", 1)[0]!)
  )

/** `self`, with the access lines of health checks (HttpMiddleware.logger's, at info) logged at debug, and so dropped above it. */
const healthChecksAtDebug = <M, O>(self: Logger.Logger<M, O>, level: LogLevel.LogLevel): Logger.Logger<M, O | void> =>
  Logger.make((options) => {
    if (!isHealthCheck(options.annotations)) return self.log(options)
    if (LogLevel.greaterThan(level, LogLevel.Debug)) return
    return self.log({ ...options, logLevel: LogLevel.Debug })
  })

export const LoggingLive = (format: "json" | "pretty", level: LogLevel.LogLevel) =>
  Layer.merge(
    Logger.minimumLogLevel(level),
    Logger.replace(
      Logger.defaultLogger,
      healthChecksAtDebug(
        withTraceIds(format === "json" ? Logger.withConsoleLog(Logger.jsonLogger) : prettyLine),
        level
      )
    )
  )

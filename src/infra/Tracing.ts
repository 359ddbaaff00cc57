/**
 * Spans (HTTP requests, provider calls, ingest, delivery) are Effect's own; they are exported
 * over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT (`/v1/traces`, JSON) when it is set, and log
 * lines carry their trace ids. Without it tracing is off: making spans nobody reads cost
 * 10-18% of the CPU per ingested event (measured with npm run bench), and log lines then
 * correlate by sessionId alone (perf: docs/ARCHITECTURE.md#perf-tracing-off).
 */
import { OtlpSerialization, OtlpTracer } from "@effect/opentelemetry"
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, FiberRef, Layer, type Tracer } from "effect"

// perf: docs/ARCHITECTURE.md#perf-tracing-off
export const TracingLive = (otlpEndpoint: string | undefined) =>
  otlpEndpoint === undefined
    ? Layer.setTracerEnabled(false)
    : OtlpTracer.layer({
      url: `${otlpEndpoint}/v1/traces`,
      resource: { serviceName: "hbf-lcg" },
      exportInterval: "1 second"
    }).pipe(
      Layer.provide(OtlpSerialization.layerJson),
      Layer.provide(NodeHttpClient.layerUndici)
    )

/**
 * `Effect.withSpan` while the tracer is enabled, and the effect alone otherwise: a span with
 * the tracer disabled still costs ~6 µs of CPU (a no-op span, a context change, an exit hook),
 * and a forwarded message or an ingested event passes through three or four. `options` may be a
 * function, for options that cost something to build (a parent read from headers)
 * (perf: docs/ARCHITECTURE.md#perf-tracing-off).
 */
export const traced =
  (name: string, options: Tracer.SpanOptions | (() => Tracer.SpanOptions)) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    // One fiber op (FiberRef.get and a flatMap took three).
    Effect.withFiberRuntime((fiber) =>
      fiber.getFiberRef(FiberRef.currentTracerEnabled)
        ? Effect.withSpan(self, name, typeof options === "function" ? options() : options)
        : self
    )

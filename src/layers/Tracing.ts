/**
 * Spans (HTTP requests, provider calls, ingest, delivery) are Effect's own; they are exported
 * over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT (`/v1/traces`, JSON) when it is set, and log
 * lines carry their trace ids. Without it tracing is off: making spans nobody reads cost
 * 10-18% of the CPU per ingested event (measured with npm run bench), and log lines then
 * correlate by sessionId alone.
 */
import { OtlpSerialization, OtlpTracer } from "@effect/opentelemetry"
import { NodeHttpClient } from "@effect/platform-node"
import { Layer } from "effect"

export const TracingLive = (otlpEndpoint: string | undefined) =>
  otlpEndpoint === undefined
    ? Layer.setTracerEnabled(false)
    : OtlpTracer.layer({ url: `${otlpEndpoint}/v1/traces`, resource: { serviceName: "hbf-lcg" }, exportInterval: "1 second" }).pipe(
        Layer.provide(OtlpSerialization.layerJson),
        Layer.provide(NodeHttpClient.layerUndici)
      )

/**
 * Spans (HTTP requests, provider calls, ingest, delivery) are Effect's own; they are exported
 * over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT (`/v1/traces`, JSON) when it is set. Without
 * it nothing is exported: the spans only give log lines their trace ids.
 */
import { OtlpSerialization, OtlpTracer } from "@effect/opentelemetry"
import { NodeHttpClient } from "@effect/platform-node"
import { Layer } from "effect"

export const TracingLive = (otlpEndpoint: string | undefined) =>
  otlpEndpoint === undefined
    ? Layer.empty
    : OtlpTracer.layer({ url: `${otlpEndpoint}/v1/traces`, resource: { serviceName: "hbf-lcg" }, exportInterval: "1 second" }).pipe(
        Layer.provide(OtlpSerialization.layerJson),
        Layer.provide(NodeHttpClient.layerUndici)
      )

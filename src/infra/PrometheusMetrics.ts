/**
 * /metrics: Effect's metrics bridged into OpenTelemetry (@effect/opentelemetry's producer)
 * and read by the OpenTelemetry Prometheus exporter, which the gateway's own route serves
 * (the exporter's server is not started). Also keeps the cluster gauges current.
 */
import { Metrics, Resource } from "@effect/opentelemetry"
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import { Effect, Layer, Schedule } from "effect"
import { Coordinator } from "../services/Coordinator.js"
import { MetricsExport } from "../services/MetricsExport.js"
import { recordCluster } from "./metrics.js"

export const PrometheusMetricsLive = Layer.unwrapEffect(
  Effect.sync(() => {
    const exporter = new PrometheusExporter({ preventServerStart: true })
    const serializer = new PrometheusSerializer()
    const scrape = MetricsExport.of({
      prometheusText: Effect.promise(() => exporter.collect()).pipe(
        Effect.map(({ resourceMetrics }) => serializer.serialize(resourceMetrics))
      )
    })
    return Layer.merge(
      Layer.succeed(MetricsExport, scrape),
      Metrics.layer(() => exporter).pipe(Layer.provide(Resource.layer({ serviceName: "hbf-lcg" })))
    )
  })
)

/** The cluster gauges (role, members, owned partitions), refreshed from the coordinator every 15 s. */
export const ClusterGaugesLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const coordinator = yield* Coordinator
    yield* coordinator.status.pipe(
      Effect.flatMap((status) =>
        recordCluster(
          status.leader === coordinator.instanceId,
          status.members.length,
          status.partitions.filter((p) => p.owner === coordinator.instanceId).length
        )
      ),
      Effect.catchAll((e) => Effect.logDebug("cluster gauges not refreshed", { reason: e.message })),
      Effect.repeat(Schedule.spaced("15 seconds")),
      Effect.forkScoped
    )
  })
)

/**
 * The gateway's assembly. `CoreLive` is everything behind the HTTP surface;
 * `GatewayServerLive` adds the HTTP server. Both need `AppConfig`; the state follows it
 * (Redis with REDIS_URL; memory with LCG_STORE=memory, and in the sandbox).
 */
import { Effect, Layer } from "effect"
import { RedisCoordinatorLive } from "../cluster/RedisCoordinator.js"
import { SingleNodeCoordinatorLive } from "../cluster/SingleNode.js"
import { DeliveryWorkerLive } from "../gateway/DeliveryWorker.js"
import { SweeperLive } from "../gateway/Sweeper.js"
import { TimelineRecorderLive } from "../gateway/TimelineRecorder.js"
import { UseCasesLive } from "../gateway/UseCasesLive.js"
import { EventPublisherHttp } from "../hbf/EventPublisherHttp.js"
import { HbfBotHttp } from "../hbf/HbfBotHttp.js"
import { HbfCoreHttp } from "../hbf/HbfCoreHttp.js"
import { HbfLcmHttp } from "../hbf/HbfLcmHttp.js"
import { NodeServerWithDirectRoutes } from "../http/directRoutes.js"
import { HttpLive } from "../http/server.js"
import { OutboundHttpLive } from "../infra/outbound.js"
import { ClusterGaugesLive, PrometheusMetricsLive } from "../infra/PrometheusMetrics.js"
import { ProviderEgressGuardLive } from "../infra/ProviderEgressGuardLive.js"
import { CiscoApiLive } from "../providers/cisco/client.js"
import { CiscoPollerLive } from "../providers/cisco/poller.js"
import { GenesysApiLive } from "../providers/genesys/client.js"
import { GenesysNotificationsLive } from "../providers/genesys/notifications.js"
import { ProviderCallHealthLive } from "../providers/providerCallHealth.js"
import { ProviderRegistryLive } from "../providers/ProviderRegistryLive.js"
import { ZendeskApiLive } from "../providers/zendesk/client.js"
import { ZendeskBackstopLive } from "../providers/zendesk/poller.js"
import { AppConfig, type AppConfigValues } from "../services/AppConfig.js"
import { MemoryStoreLive } from "../stores/MemoryStore.js"
import { RedisStoreLive } from "../stores/RedisStore.js"
import { DrainOnShutdownLive, LifecycleLive } from "./Drain.js"
import { type GatewayMode, StartLineLive } from "./StartLine.js"

/**
 * The outbound clients; the provider egress policy they (and the notifications socket) are
 * confined by; the health of the provider calls they make, which the use cases read.
 */
export const ClientsLive = Layer.mergeAll(
  HbfCoreHttp,
  HbfLcmHttp,
  HbfBotHttp,
  EventPublisherHttp,
  GenesysApiLive,
  CiscoApiLive,
  ZendeskApiLive
).pipe(
  Layer.provide(OutboundHttpLive),
  Layer.provideMerge(Layer.merge(ProviderEgressGuardLive, ProviderCallHealthLive))
)

/**
 * The shared state and the cluster, chosen together: with REDIS_URL the Redis store and the
 * Redis coordinator (whose partition leases the store's outbox is fenced by); with
 * LCG_STORE=memory (the configuration requires one of the two) the in-memory store and this instance alone.
 */
export const StateLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    config.redis !== undefined
      ? Layer.merge(RedisStoreLive, RedisCoordinatorLive)
      : Layer.merge(
        MemoryStoreLive({
          partitions: config.partitions,
          endedRetention: config.retention.endedSessions,
          dedupRetention: config.retention.dedup,
          timelineEntries: config.timelineEntries
        }),
        SingleNodeCoordinatorLive
      ))
)

/** Everything behind the HTTP surface: coordinator, store, clients, providers, the use cases, and the per-partition workers. */
export const CoreLive = Layer.mergeAll(
  DeliveryWorkerLive,
  SweeperLive,
  GenesysNotificationsLive,
  CiscoPollerLive,
  ZendeskBackstopLive,
  ClusterGaugesLive,
  PrometheusMetricsLive,
  LifecycleLive
).pipe(
  Layer.provideMerge(UseCasesLive),
  Layer.provideMerge(ProviderRegistryLive),
  Layer.provideMerge(ClientsLive),
  Layer.provideMerge(TimelineRecorderLive),
  Layer.provideMerge(StateLive)
)

/**
 * The gateway listening on `config.port`, with `config` as its AppConfig; its start line names
 * `mode`. The core is built before the server listens: a connection accepted earlier would wait
 * with no handler to answer it (a load balancer's probe during boot would hang instead of being
 * refused).
 */
export const GatewayServerLive = (config: AppConfigValues, mode: GatewayMode) =>
  Layer.merge(DrainOnShutdownLive, StartLineLive(mode)).pipe(
    // The server first, then the drain and the start line: on shutdown the drain runs while the
    // server still answers, and the line is logged only once the server listens.
    // perf: docs/ARCHITECTURE.md#perf-direct-routes
    Layer.provide(HttpLive.pipe(Layer.provideMerge(NodeServerWithDirectRoutes(config.port, config.httpServer)))),
    Layer.provide(CoreLive),
    Layer.provide(Layer.succeed(AppConfig, config))
  )

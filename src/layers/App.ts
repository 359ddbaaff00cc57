/**
 * The gateway's assembly. `CoreLive` is everything behind the HTTP surface; `AppLive` adds
 * the HTTP server. Both need `AppConfig`; the store follows it (memory until REDIS_URL
 * gets its Redis Layer).
 */
import { NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { createServer } from "node:http"
import { Effect, Layer } from "effect"
import { HttpLive } from "../http/server.js"
import { AppConfig, type AppConfigValues } from "../services/AppConfig.js"
import { DeliveryWorkerLive } from "./DeliveryWorker.js"
import { EventPublisherHttp } from "./EventPublisherHttp.js"
import { GatewayLive } from "./GatewayLive.js"
import { HbfBotHttp } from "./HbfBotHttp.js"
import { HbfCoreHttp } from "./HbfCoreHttp.js"
import { HbfLcmHttp } from "./HbfLcmHttp.js"
import { MemoryStoreLive } from "./MemoryStore.js"
import { ProviderRegistryLive } from "./ProviderRegistryLive.js"
import { SweeperLive } from "./Sweeper.js"

export const ClientsLive = Layer.mergeAll(HbfCoreHttp, HbfLcmHttp, HbfBotHttp, EventPublisherHttp).pipe(
  Layer.provide(NodeHttpClient.layerUndici)
)

export const StoreLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) => {
    if (config.redis !== undefined) {
      return Layer.effectDiscard(
        Effect.logWarning("REDIS_URL is set but the Redis store is not built yet: state is kept in memory")
      ).pipe(Layer.provideMerge(MemoryStoreLive({ partitions: config.partitions })))
    }
    return MemoryStoreLive({ partitions: config.partitions })
  })
)

/** Everything behind the HTTP surface: store, clients, providers, Gateway, delivery worker, sweeper. */
export const CoreLive = Layer.mergeAll(DeliveryWorkerLive, SweeperLive).pipe(
  Layer.provideMerge(GatewayLive),
  Layer.provideMerge(ProviderRegistryLive),
  Layer.provideMerge(ClientsLive),
  Layer.provideMerge(StoreLive)
)

/** The HTTP surface on top of the core; needs an `HttpServer` and `AppConfig`. */
export const AppLive = HttpLive.pipe(Layer.provide(CoreLive))

/** The gateway listening on `config.port`, with `config` as its AppConfig. */
export const GatewayServerLive = (config: AppConfigValues) =>
  AppLive.pipe(
    Layer.provide(NodeHttpServer.layer(createServer, { port: config.port })),
    Layer.provide(Layer.succeed(AppConfig, config))
  )

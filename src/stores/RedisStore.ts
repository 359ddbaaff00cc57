/**
 * The production store: SessionStore (RedisSessionStore.ts), Outbox (RedisOutbox.ts) and TimelineStore (RedisTimelineStore.ts) on
 * Redis, sharing one command connection and one subscriber connection (RedisStoreConnections.ts).
 */
import { Effect, Layer, type Redacted } from "effect"
import { AppConfig } from "../services/AppConfig.js"
import { redisOutboxLayer, type RedisOutboxSettings } from "./RedisOutbox.js"
import { redisSessionStoreLayer, type RedisSessionStoreSettings } from "./RedisSessionStore.js"
import { redisStoreConnectionsLayer } from "./RedisStoreConnections.js"
import { redisTimelineStoreLayer, type RedisTimelineStoreSettings } from "./RedisTimelineStore.js"

export interface RedisStoreSettings extends RedisSessionStoreSettings, RedisOutboxSettings, RedisTimelineStoreSettings {
  readonly url: Redacted.Redacted<string>
}

/** SessionStore, Outbox and TimelineStore on their own command and subscriber connections. */
export const redisStoreLayer = (settings: RedisStoreSettings) =>
  Layer.mergeAll(redisSessionStoreLayer(settings), redisOutboxLayer(settings), redisTimelineStoreLayer(settings)).pipe(
    Layer.provide(redisStoreConnectionsLayer(settings.url))
  )

/** The store on the Redis of `config.redis`. */
export const RedisStoreLive = Layer.unwrapEffect(
  Effect.gen(function*() {
    const config = yield* AppConfig
    if (config.redis === undefined) return yield* Effect.dieMessage("RedisStoreLive needs REDIS_URL")
    return redisStoreLayer({
      url: config.redis.url,
      prefix: config.redis.prefix,
      partitions: config.partitions,
      consumer: config.instanceId,
      endedRetention: config.retention.endedSessions,
      dedupRetention: config.retention.dedup,
      timelineEntries: config.timelineEntries,
      // Partition leases are held by the Redis coordinator that always runs with this store.
      fenced: true
    })
  })
)

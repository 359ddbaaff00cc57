/**
 * The Redis store's two connections, shared by the session store and the outbox: one for
 * commands (no blocking command is ever sent on it), and one in subscriber mode for the
 * outbox's wake-ups.
 */
import { Context, Effect, Layer, type Redacted } from "effect"
import type { Redis } from "ioredis"
import { redisConnection } from "../infra/redis/connection.js"

export interface RedisStoreConnectionsService {
  readonly redis: Redis
  readonly subscriber: Redis
}

export class RedisStoreConnections extends Context.Tag("hbf-lcg/RedisStoreConnections")<
  RedisStoreConnections,
  RedisStoreConnectionsService
>() {}

/** Both connections to the Redis at `url`, opened together. */
export const redisStoreConnectionsLayer = (url: Redacted.Redacted<string>) =>
  Layer.scoped(
    RedisStoreConnections,
    Effect.map(
      Effect.all([
        redisConnection({ url, name: "store" }),
        redisConnection({ url, name: "outbox-subscriber", subscriber: true })
      ], {
        concurrency: 2
      }),
      ([redis, subscriber]) => ({ redis, subscriber })
    )
  )

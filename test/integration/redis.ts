/**
 * Real Redis for integration tests: REDIS_URL or 127.0.0.1:6379, and a key prefix unique
 * to each use so test runs (and tests) never see each other's keys.
 */
import type { Duration } from "effect"
import { Redacted } from "effect"
import { Redis } from "ioredis"
import { randomBytes } from "node:crypto"
import { defaultAppConfig } from "../../src/services/AppConfig.js"
import { redisStoreLayer } from "../../src/stores/RedisStore.js"

export const testRedisUrl = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379"

export const uniquePrefix = (label: string) => `lcg-test-${label}-${randomBytes(4).toString("hex")}`

/** Deletes every key under the prefix. */
export const deleteKeys = async (prefix: string, url = testRedisUrl) => {
  const redis = new Redis(url)
  try {
    let cursor = "0"
    do {
      const [next, found] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000)
      cursor = next
      if (found.length > 0) await redis.del(...found)
    } while (cursor !== "0")
  } finally {
    redis.disconnect()
  }
}

export const testStoreLayer = (
  prefix: string,
  options: {
    partitions: number
    url?: string
    endedRetention?: Duration.Duration
    dedupRetention?: Duration.Duration
    timelineEntries?: number
  }
) =>
  redisStoreLayer({
    url: Redacted.make(options.url ?? testRedisUrl),
    prefix,
    partitions: options.partitions,
    consumer: "test-consumer",
    endedRetention: options.endedRetention ?? defaultAppConfig.retention.endedSessions,
    dedupRetention: options.dedupRetention ?? defaultAppConfig.retention.dedup,
    ...(options.timelineEntries !== undefined ? { timelineEntries: options.timelineEntries } : {}),
    fenced: false
  })

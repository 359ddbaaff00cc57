import { afterAll } from "@effect/vitest"
import { Effect } from "effect"
import { Redis } from "ioredis"
import { redisKeys } from "../../src/infra/redis/keys.js"
import { PARTITIONS, type StaleOpenIndex, storeContract } from "../unit/storeContract.js"
import { deleteKeys, testRedisUrl, testStoreLayer, uniquePrefix } from "./redis.js"

const prefixes: Array<string> = []

const withRedis = <A>(use: (redis: Redis, keys: ReturnType<typeof redisKeys>) => Promise<A>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => new Redis(testRedisUrl)),
    // The layer the running test was given is the latest made.
    (redis) => Effect.promise(() => use(redis, redisKeys(prefixes[prefixes.length - 1]!))),
    (redis) => Effect.sync(() => redis.disconnect())
  )

/** A tenant's open index as an older version leaves it: members added by hand, as the index holds them. */
const staleOpenIndex: StaleOpenIndex = {
  plant: (session, status) =>
    withRedis((redis, keys) =>
      redis.zadd(
        keys.tenantOpen(session.tenantId, status),
        0,
        `${String(Date.parse(session.createdAt)).padStart(13, "0")}:${session.sessionId}`
      )
    ),
  listed: (session, status) =>
    withRedis(async (redis, keys) =>
      (await redis.zscore(
        keys.tenantOpen(session.tenantId, status),
        `${String(Date.parse(session.createdAt)).padStart(13, "0")}:${session.sessionId}`
      )) !== null
    )
}

storeContract(
  "RedisStoreLive",
  (retention) => {
    const prefix = uniquePrefix("contract")
    prefixes.push(prefix)
    return testStoreLayer(prefix, { partitions: PARTITIONS, ...retention })
  },
  "live",
  staleOpenIndex
)

afterAll(async () => {
  for (const prefix of prefixes) await deleteKeys(prefix)
})

/** What the Redis store does beyond the shared contract: retention, reclaim by another instance, fail-fast. */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Chunk, Clock, Duration, Effect, Layer, Redacted, Stream, TestClock } from "effect"
import { Redis } from "ioredis"
import { redisKeys } from "../../src/infra/redis/keys.js"
import { defaultAppConfig } from "../../src/services/AppConfig.js"
import { Outbox, partitionOf } from "../../src/services/Outbox.js"
import { SessionStore } from "../../src/services/SessionStore.js"
import { redisStoreLayer } from "../../src/stores/RedisStore.js"
import { makeEvent, makeRecord, PARTITIONS } from "../unit/storeContract.js"
import { deleteKeys, testRedisUrl, testStoreLayer, uniquePrefix } from "./redis.js"

const prefixes: Array<string> = []
const freshPrefix = () => {
  const prefix = uniquePrefix("behaviour")
  prefixes.push(prefix)
  return prefix
}
afterAll(async () => {
  for (const prefix of prefixes) await deleteKeys(prefix)
})

const withRedis = <A>(f: (redis: Redis) => Promise<A>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => new Redis(testRedisUrl)),
    (redis) => Effect.promise(() => f(redis)),
    (redis) => Effect.sync(() => redis.disconnect())
  )

const DAY = 24 * 3600 * 1000

describe("Redis store retention", () => {
  // What is forgotten when, and what stays, is the store contract's retention test (both stores); here, that Redis does it with TTLs.
  it.live("an open session's keys have no TTL; an ended session's record and indices get the retention as theirs, a seen id the de-duplication one", () => {
    const prefix = freshPrefix()
    const keys = redisKeys(prefix)
    return Effect.gen(function*() {
      const store = yield* SessionStore
      const record = makeRecord({ providerConversationId: "conv-1" })
      yield* store.create(record)
      const event = makeEvent(record, 1)
      yield* store.commit({
        expectedVersion: 0,
        next: { ...record, version: 1, lastSeq: 1 },
        seen: [event.id],
        events: [event]
      })

      const ttls = (ids: ReadonlyArray<string>) => withRedis((r) => Promise.all(ids.map((k) => r.pttl(k))))
      const sessionKeys = [
        keys.session(record.sessionId),
        keys.subscriber(record.subHandle),
        keys.tenantSubscriber(record.tenantId, record.subHandle),
        keys.conversation(record.provider, record.tenantId, "conv-1")
      ]
      // Open: no TTL on anything that belongs to the session; the seen ids have the de-duplication TTL.
      expect(yield* ttls(sessionKeys)).toEqual([-1, -1, -1, -1])
      const [seenTtl] = yield* ttls([keys.seen(record.sessionId)])
      expect(seenTtl).toBeGreaterThan(0)
      expect(seenTtl).toBeLessThanOrEqual(2_000)

      yield* store.commit({
        expectedVersion: 1,
        next: {
          ...record,
          version: 2,
          lastSeq: 1,
          status: "ended",
          endReason: "user",
          endedAt: new Date().toISOString()
        }
      })
      const ended = yield* ttls(sessionKeys)
      for (const ttl of ended) {
        expect(ttl).toBeGreaterThan(0)
        expect(ttl).toBeLessThanOrEqual(1_500)
      }
    }).pipe(
      Effect.provide(
        testStoreLayer(prefix, {
          partitions: PARTITIONS,
          endedRetention: Duration.millis(1_500),
          dedupRetention: Duration.seconds(2)
        })
      )
    )
  })

  it.scoped("the waiting-time average keeps its baseline when old samples are trimmed", () => {
    const prefix = freshPrefix()
    return Effect.gen(function*() {
      const store = yield* SessionStore
      const tenantId = "tenant-trim"
      const now = Date.parse("2026-11-25T12:00:00Z")
      // Waits of 100 s and 200 s more than 31 days ago, then one of 10 s now.
      const waits: Array<[assignedAt: number, waitSeconds: number]> = [
        [now - 40 * DAY, 100],
        [now - 35 * DAY, 200],
        [now, 10]
      ]
      for (const [assignedAt, wait] of waits) {
        const record = makeRecord({ tenantId, createdAt: new Date(assignedAt - wait * 1000).toISOString() })
        yield* store.create(record)
        yield* store.commit({
          expectedVersion: 0,
          next: { ...record, version: 1, status: "active", assignedAt: new Date(assignedAt).toISOString() }
        })
      }
      // Without the kept baseline the 30-day window would count all three samples.
      expect(yield* store.waitingStats(tenantId, now - 30 * DAY)).toEqual({
        averageSeconds: 10,
        assigned: 1,
        pending: 0
      })
    }).pipe(Effect.provide(testStoreLayer(prefix, { partitions: PARTITIONS })))
  })

  it.scoped("a tenant's counts never go below zero for a session open before they were kept (an upgrade)", () => {
    const prefix = freshPrefix()
    const keys = redisKeys(prefix)
    return Effect.gen(function*() {
      const store = yield* SessionStore
      const record = makeRecord()
      yield* store.create(record)
      // As a session created by a version that kept no per-tenant counts.
      yield* withRedis((r) => r.hdel(keys.orgCounts(record.organizationId), `pending:${record.tenantId}`))
      yield* store.commit({
        expectedVersion: 0,
        next: { ...record, version: 1, status: "ended", endReason: "user", endedAt: new Date().toISOString() }
      })
      expect(yield* store.count(record.organizationId, "pending", [record.tenantId])).toBe(0)
      yield* store.create(makeRecord({ organizationId: record.organizationId }))
      expect(yield* store.count(record.organizationId, "pending", [record.tenantId])).toBe(1)
    }).pipe(Effect.provide(testStoreLayer(prefix, { partitions: PARTITIONS })))
  })

  it.scoped("a message reservation left by a crashed forward can be claimed again after its lease", () => {
    const prefix = freshPrefix()
    return Effect.gen(function*() {
      const store = yield* SessionStore
      expect(yield* store.reserveMessage("s1", "m1", "fp")).toEqual({ _tag: "Reserved" })
      yield* TestClock.adjust(Duration.seconds(60))
      expect(yield* store.reserveMessage("s1", "m1", "fp")).toEqual({ _tag: "InFlight", fingerprint: "fp" })
      yield* TestClock.adjust(Duration.seconds(61))
      expect(yield* store.reserveMessage("s1", "m1", "fp")).toEqual({ _tag: "Reserved" })
    }).pipe(Effect.provide(testStoreLayer(prefix, { partitions: PARTITIONS })))
  })

  it.scoped("an event seen before the upgrade to the seen hash (a key per id) is still a duplicate: in a commit and in seen", () => {
    const prefix = freshPrefix()
    const keys = redisKeys(prefix)
    return Effect.gen(function*() {
      const store = yield* SessionStore
      const record = makeRecord()
      yield* store.create(record)
      const before = makeEvent(record, 1)
      // As the earlier version marked it seen (a Genesys re-read after the restart brings it again).
      yield* withRedis((r) => r.set(keys.seenBefore(record.sessionId, before.id), "1", "PX", DAY))
      expect(yield* store.seen(record.sessionId, [before.id, "never"])).toEqual(new Set([before.id]))
      const next = { ...record, version: 1, lastSeq: 1 }
      expect(yield* store.commit({ expectedVersion: 0, next, seen: [before.id], events: [before] })).toBe("duplicate")
      const fresh = makeEvent(record, 1)
      expect(yield* store.commit({ expectedVersion: 0, next, seen: [fresh.id], events: [fresh] })).toBe("committed")
      // Written only to the hash: nothing per id.
      expect(yield* withRedis((r) => r.exists(keys.seenBefore(record.sessionId, fresh.id)))).toBe(0)
      expect(yield* store.seen(record.sessionId, [fresh.id, before.id])).toEqual(new Set([fresh.id, before.id]))
    }).pipe(Effect.provide(testStoreLayer(prefix, { partitions: PARTITIONS })))
  })

  it.scoped("a session's seen ids stay in Redis's compact encoding however long the provider's ids are", () => {
    const prefix = freshPrefix()
    const keys = redisKeys(prefix)
    return Effect.gen(function*() {
      const store = yield* SessionStore
      const record = makeRecord()
      yield* store.create(record)
      const ids = Array.from({ length: 100 }, (_, i) => `genesys-livechat:${"x".repeat(80)}-${i}`)
      yield* store.commit({ expectedVersion: 0, next: { ...record, version: 1 }, seen: ids })
      expect(yield* withRedis((r) => r.call("OBJECT", "ENCODING", keys.seen(record.sessionId)))).toMatch(
        /^(listpack|ziplist)$/
      )
      expect((yield* store.seen(record.sessionId, [...ids, "other"])).size).toBe(100)
    }).pipe(Effect.provide(testStoreLayer(prefix, { partitions: PARTITIONS })))
  })

  it.scoped("message claims written before fingerprints were kept still read: as claims of unknown content", () => {
    const prefix = freshPrefix()
    return Effect.gen(function*() {
      const store = yield* SessionStore
      const messages = redisKeys(prefix).messages("s1")
      const now = yield* Clock.currentTimeMillis
      yield* withRedis((redis) =>
        redis.hset(messages, "forwarded", `f:{"providerMessageId":"p1"}`, "claimed", `r:${now + 60_000}`)
      )
      expect(yield* store.reserveMessage("s1", "forwarded", "fp")).toEqual({
        _tag: "Forwarded",
        result: { providerMessageId: "p1" }
      })
      expect(yield* store.reserveMessage("s1", "claimed", "fp")).toEqual({ _tag: "InFlight" })
    }).pipe(Effect.provide(testStoreLayer(prefix, { partitions: PARTITIONS })))
  })

  it.scoped("message claims keep the shapes instances from before fingerprints read (a rolling upgrade): r:<lease> and f:<json>", () => {
    const prefix = freshPrefix()
    return Effect.gen(function*() {
      const store = yield* SessionStore
      const messages = redisKeys(prefix).messages("s1")
      const claimOf = (messageId: string) => withRedis((redis) => redis.hget(messages, messageId))
      yield* store.reserveMessage("s1", "m1", "fp-1")
      // What the earlier reserve script parses: "r:" and a number.
      expect(yield* claimOf("m1")).toMatch(/^r:\d+$/)
      expect(yield* store.reserveMessage("s1", "m1", "fp-2")).toEqual({ _tag: "InFlight", fingerprint: "fp-1" })
      yield* store.completeMessage("s1", "m1", "fp-1", { providerMessageId: "p1" }, new Date().toISOString())
      // What the earlier decoder reads (it ignores the extra key); the fingerprint's field is gone.
      expect(JSON.parse((yield* claimOf("m1"))!.slice(2))).toEqual({ providerMessageId: "p1", fingerprint: "fp-1" })
      expect(yield* withRedis((redis) => redis.hlen(messages))).toBe(1)
      // A release leaves nothing behind either.
      yield* store.reserveMessage("s1", "m2", "fp")
      yield* store.releaseMessage("s1", "m2")
      expect(yield* withRedis((redis) => redis.hkeys(messages))).toEqual(["m1"])
    }).pipe(Effect.provide(testStoreLayer(prefix, { partitions: PARTITIONS })))
  })
})

describe("Redis outbox across instances", () => {
  it.live("entries one instance took and never acked are reclaimed, in order, by the partition's next consumer", () => {
    const prefix = freshPrefix()
    const instance = (consumer: string) =>
      redisStoreLayer({
        url: Redacted.make(testRedisUrl),
        prefix,
        partitions: PARTITIONS,
        consumer,
        endedRetention: defaultAppConfig.retention.endedSessions,
        dedupRetention: defaultAppConfig.retention.dedup,
        fenced: false
      })
    const record = makeRecord()
    const events = [1, 2, 3, 4].map((seq) => makeEvent(record, seq))
    const partition = partitionOf(record.sessionId, PARTITIONS)
    const take = (n: number) =>
      Effect.flatMap(
        Outbox,
        (outbox) => outbox.consume(partition).pipe(Stream.take(n), Stream.runCollect, Effect.map(Chunk.toReadonlyArray))
      )
    return Effect.gen(function*() {
      // Instance a: appends four events, takes them all, acks only the first, and goes away.
      yield* Effect.gen(function*() {
        const store = yield* SessionStore
        yield* store.create(record)
        yield* store.commit({ expectedVersion: 0, next: { ...record, version: 1, lastSeq: 4 }, events })
        const taken = yield* take(4)
        yield* Effect.flatMap(Outbox, (outbox) => outbox.ack(taken[0]!))
      }).pipe(Effect.provide(Layer.fresh(instance("instance-a"))))
      // Instance b takes the partition over.
      const reclaimed = yield* take(3).pipe(Effect.provide(Layer.fresh(instance("instance-b"))))
      expect(reclaimed.map((e) => e.event.seq)).toEqual([2, 3, 4])
      // The consumer that held them is gone from the group.
      const consumers = yield* withRedis((r) => r.xinfo("CONSUMERS", redisKeys(prefix).outbox(partition), "delivery"))
      expect((consumers as Array<Array<unknown>>).map((fields) => fields[1])).toEqual(["instance-b"])
    })
  })

  it.live("an outbox entry that does not decode is acked and left in the stream, and the entries around it are handed out", () => {
    const prefix = freshPrefix()
    const keys = redisKeys(prefix)
    const record = makeRecord()
    const partition = partitionOf(record.sessionId, PARTITIONS)
    const take = (n: number) =>
      Effect.flatMap(
        Outbox,
        (outbox) => outbox.consume(partition).pipe(Stream.take(n), Stream.runCollect, Effect.map(Chunk.toReadonlyArray))
      )
    return Effect.gen(function*() {
      const store = yield* SessionStore
      yield* store.create(record)
      yield* store.commit({
        expectedVersion: 0,
        next: { ...record, version: 1, lastSeq: 1 },
        events: [makeEvent(record, 1)]
      })
      const garbage = yield* withRedis((r) => r.xadd(keys.outbox(partition), "*", "e", "{\"not\":\"an event\"}"))
      yield* store.commit({
        expectedVersion: 1,
        next: { ...record, version: 2, lastSeq: 2 },
        events: [makeEvent(record, 2)]
      })
      const taken = yield* take(2)
      expect(taken.map((e) => e.event.seq)).toEqual([1, 2])
      const pending = yield* withRedis((r) => r.xpending(keys.outbox(partition), "delivery", "-", "+", 10))
      expect((pending as Array<[string]>).map(([id]) => id)).toEqual(taken.map((e) => e.id))
      const kept = yield* withRedis((r) => r.xrange(keys.outbox(partition), garbage!, garbage!))
      expect(kept).toHaveLength(1)
    }).pipe(Effect.provide(testStoreLayer(prefix, { partitions: PARTITIONS })))
  })

  it.live("with Redis unreachable, calls fail fast with StoreUnavailable and ping says so", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      expect(yield* store.ping).toBe(false)
      const started = Date.now()
      const error = yield* Effect.flip(store.get("any"))
      expect(error._tag).toBe("StoreUnavailable")
      expect(Date.now() - started).toBeLessThan(500)
    }).pipe(Effect.provide(testStoreLayer(freshPrefix(), { partitions: PARTITIONS, url: "redis://127.0.0.1:1" }))))
})

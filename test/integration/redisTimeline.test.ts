/** The timeline on Redis: one list per session, trimmed to LCG_TIMELINE_ENTRIES, living as long as its session. */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { Redis } from "ioredis"
import type { TimelineEntry } from "../../src/domain/timeline.js"
import { redisKeys } from "../../src/infra/redis/keys.js"
import { appendTimelines } from "../../src/infra/redis/timelineScripts.js"
import { SessionStore } from "../../src/services/SessionStore.js"
import { TimelineStore } from "../../src/services/Timeline.js"
import { makeRecord, PARTITIONS } from "../unit/storeContract.js"
import { deleteKeys, testRedisUrl, testStoreLayer, uniquePrefix } from "./redis.js"

const ENTRIES = 5
const RETENTION = Duration.minutes(10)

const prefix = uniquePrefix("timeline")
const keys = redisKeys(prefix)
afterAll(() => deleteKeys(prefix))

const layer = testStoreLayer(prefix, { partitions: PARTITIONS, endedRetention: RETENTION, timelineEntries: ENTRIES })

const withRedis = <A>(use: (redis: Redis) => Promise<A>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => new Redis(testRedisUrl)),
    (redis) => Effect.promise(() => use(redis)),
    (redis) => Effect.sync(() => redis.disconnect())
  )

const pttl = (key: string) => withRedis((redis) => redis.pttl(key))

const delivery = (at: number, attempt: number): TimelineEntry => ({
  at,
  kind: "delivery",
  eventId: "e1",
  target: "hbf-bot",
  attempt,
  outcome: "failed",
  status: 503,
  latencyMs: 3
})

describe("RedisTimelineStore", () => {
  it.live("keeps the first and the newest LCG_TIMELINE_ENTRIES - 1, in the order appended, over several batches", () =>
    Effect.gen(function*() {
      const timelines = yield* TimelineStore
      const sessionId = makeRecord().sessionId
      yield* timelines.append([{ sessionId, entries: [1, 2, 3, 4].map((n) => delivery(n, n)) }])
      yield* timelines.append([{ sessionId, entries: [5, 6, 7].map((n) => delivery(n, n)) }])
      expect((yield* timelines.read(sessionId)).map((e) => e.kind === "delivery" ? e.attempt : 0)).toEqual([
        1,
        4,
        5,
        6,
        7
      ])
      // A batch longer than the timeline keeps: the timeline's first stays, with the batch's newest.
      yield* timelines.append([{ sessionId, entries: [8, 9, 10, 11, 12, 13, 14].map((n) => delivery(n, n)) }])
      expect((yield* timelines.read(sessionId)).map((e) => e.at)).toEqual([1, 11, 12, 13, 14])
      // A new timeline's first batch, longer than it keeps: its first and its newest.
      const other = makeRecord().sessionId
      yield* timelines.append([{ sessionId: other, entries: [1, 2, 3, 4, 5, 6, 7].map((n) => delivery(n, n)) }])
      expect((yield* timelines.read(other)).map((e) => e.at)).toEqual([1, 4, 5, 6, 7])
    }).pipe(Effect.provide(layer)))

  it.live("an entry this version cannot read is left out; the rest are read", () =>
    Effect.gen(function*() {
      const timelines = yield* TimelineStore
      const sessionId = makeRecord().sessionId
      yield* timelines.append([{ sessionId, entries: [delivery(1, 1)] }])
      // As a newer version would store a kind this one does not know.
      yield* withRedis((redis) => redis.rpush(keys.timeline(sessionId), `["agent.typing",2,"x"]`))
      yield* timelines.append([{ sessionId, entries: [delivery(3, 2)] }])
      expect((yield* timelines.read(sessionId)).map((e) => e.at)).toEqual([1, 3])
    }).pipe(Effect.provide(layer)))

  it.live("a session in its last millisecond (PTTL 0) still gives its timeline an expiry", () =>
    Effect.gen(function*() {
      const sessionId = makeRecord().sessionId
      const timelineKey = keys.timeline(sessionId)
      // The script as it is, with PTTL answering 0 (too short a moment to reach on a real key).
      const lastMillisecond = `local realRedis = redis
local redis = { call = function(command, ...)
  if command == 'PTTL' then return 0 end
  return realRedis.call(command, ...)
end }
${appendTimelines}`
      yield* withRedis((redis) =>
        redis.eval(
          lastMillisecond,
          2,
          timelineKey,
          keys.session(sessionId),
          "5",
          "60000",
          "1",
          `["replayed",1,"e1","hbf-bot"]`
        )
      )
      // Expiring (or already gone), never kept for ever.
      expect(yield* pttl(timelineKey)).not.toBe(-1)
    }))

  it.live("no expiry while the session is open; the session's remaining time once it ended", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const timelines = yield* TimelineStore
      const record = makeRecord()
      yield* store.create(record)
      yield* timelines.append([{ sessionId: record.sessionId, entries: [delivery(1, 1)] }])
      expect(yield* pttl(keys.timeline(record.sessionId))).toBe(-1)

      yield* store.commit({
        expectedVersion: 0,
        next: { ...record, status: "ended", endReason: "agent", endedAt: record.createdAt, version: 1 }
      })
      // The end's commit gives it the session's retention: no later entry is needed for it to go.
      expect(yield* pttl(keys.timeline(record.sessionId))).toBeGreaterThan(0)
      yield* timelines.append([{
        sessionId: record.sessionId,
        entries: [{ at: 2, kind: "state", from: "pending", to: "ended" }]
      }])
      const sessionTtl = yield* pttl(keys.session(record.sessionId))
      const timelineTtl = yield* pttl(keys.timeline(record.sessionId))
      expect(sessionTtl).toBeGreaterThan(0)
      expect(timelineTtl).toBeGreaterThan(sessionTtl - 1_000)
      expect(timelineTtl).toBeLessThanOrEqual(sessionTtl)
      expect(yield* timelines.read(record.sessionId)).toHaveLength(2)
    }).pipe(Effect.provide(layer)))

  it.live("a timeline whose session is not kept expires after the ended retention", () =>
    Effect.gen(function*() {
      const timelines = yield* TimelineStore
      const sessionId = makeRecord().sessionId
      yield* timelines.append([{ sessionId, entries: [delivery(1, 1)] }])
      const ttl = yield* pttl(keys.timeline(sessionId))
      expect(ttl).toBeGreaterThan(Duration.toMillis(RETENTION) - 5_000)
      expect(ttl).toBeLessThanOrEqual(Duration.toMillis(RETENTION))
    }).pipe(Effect.provide(layer)))
})

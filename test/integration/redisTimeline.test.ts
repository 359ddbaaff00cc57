/** The timeline on Redis: one list per session, trimmed to LCG_TIMELINE_ENTRIES, living as long as its session. */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { Redis } from "ioredis"
import type { TimelineEntry } from "../../src/domain/timeline.js"
import { redisKeys } from "../../src/infra/redis/keys.js"
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

const pttl = (key: string) =>
  Effect.acquireUseRelease(
    Effect.sync(() => new Redis(testRedisUrl)),
    (redis) => Effect.promise(() => redis.pttl(key)),
    (redis) => Effect.sync(() => redis.disconnect())
  )

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
  it.live("keeps the newest LCG_TIMELINE_ENTRIES, in the order appended, over several batches", () =>
    Effect.gen(function*() {
      const timelines = yield* TimelineStore
      const sessionId = makeRecord().sessionId
      yield* timelines.append([{ sessionId, entries: [1, 2, 3, 4].map((n) => delivery(n, n)) }])
      yield* timelines.append([{ sessionId, entries: [5, 6, 7].map((n) => delivery(n, n)) }])
      expect((yield* timelines.read(sessionId)).map((e) => e.kind === "delivery" ? e.attempt : 0)).toEqual([
        3,
        4,
        5,
        6,
        7
      ])
      // A batch longer than the timeline keeps only its newest.
      yield* timelines.append([{ sessionId, entries: [8, 9, 10, 11, 12, 13, 14].map((n) => delivery(n, n)) }])
      expect((yield* timelines.read(sessionId)).map((e) => e.at)).toEqual([10, 11, 12, 13, 14])
    }).pipe(Effect.provide(layer)))

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

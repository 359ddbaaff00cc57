import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Layer, Logger, TestClock } from "effect"
import type { SessionRecord } from "../../src/domain/model.js"
import {
  decodeStoredEntry,
  encodeStoredEntry,
  type TimelineEntry,
  type TimelineEntryInput
} from "../../src/domain/timeline.js"
import { FLUSH_INTERVAL, TimelineRecorderLive } from "../../src/gateway/TimelineRecorder.js"
import { StoreUnavailable } from "../../src/services/errors.js"
import { SessionStore } from "../../src/services/SessionStore.js"
import { Timeline, type TimelineAppend, TimelineAppendFailed, TimelineStore } from "../../src/services/Timeline.js"
import { MemoryStoreLive } from "../../src/stores/MemoryStore.js"

const ENTRIES = 5
const RETENTION = Duration.hours(1)

const memoryStore = MemoryStoreLive({ partitions: 4, timelineEntries: ENTRIES, endedRetention: RETENTION })

/** The recorder over the memory store, as the gateway has it. */
const recorder = TimelineRecorderLive.pipe(Layer.provideMerge(memoryStore))

const storeAway = new StoreUnavailable({ message: "store away" })

/**
 * The store's timeline store, refusing appends as Redis away would while `outage.left` (counted
 * down by each) is above 0, and telling in `attempts` every batch it was given.
 */
const failingAppends = (outage: { left: number }, attempts: Array<ReadonlyArray<TimelineAppend>> = []) =>
  Layer.effect(
    TimelineStore,
    Effect.map(TimelineStore, (store) => ({
      ...store,
      append: (appends) =>
        Effect.suspend(() => {
          attempts.push(appends)
          return outage.left-- > 0
            ? Effect.fail(new TimelineAppendFailed({ cause: storeAway, unwritten: appends.map((a) => a.sessionId) }))
            : store.append(appends)
        })
    }))
  )

/** The log lines written while `effect` runs, by level. */
const capturingLogs = (logs: Array<{ level: string; message: unknown }>) =>
  Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ logLevel, message }) => void logs.push({ level: logLevel.label, message }))
  )

const session = (sessionId: string): SessionRecord => ({
  sessionId,
  tenantId: "t1",
  organizationId: "org1",
  subHandle: `sub-${sessionId}`,
  provider: "helvia-livechat",
  status: "pending",
  createdAt: "1970-01-01T00:00:00.000Z",
  lastActivityAt: "1970-01-01T00:00:00.000Z",
  version: 0,
  lastSeq: 0
})

const delivery = (attempt: number): TimelineEntryInput => ({
  kind: "delivery",
  eventId: "e1",
  target: "hbf-bot",
  attempt,
  outcome: "failed",
  status: 503,
  latencyMs: 4
})

const attemptsOf = (entries: ReadonlyArray<{ readonly kind: string; readonly attempt?: number }>) =>
  entries.map((e) => e.attempt)

/** Past the recorder's next flush. */
const flushed = TestClock.adjust(FLUSH_INTERVAL)

describe("Timeline", () => {
  it.scoped("keeps the first and the newest LCG_TIMELINE_ENTRIES - 1 of a session, oldest first", () =>
    Effect.gen(function*() {
      const timeline = yield* Timeline
      for (let attempt = 1; attempt <= ENTRIES + 3; attempt++) {
        yield* timeline.record("s1", delivery(attempt))
        yield* TestClock.adjust(Duration.millis(10))
      }
      const entries = yield* timeline.read("s1")
      expect(attemptsOf(entries)).toEqual([1, 5, 6, 7, 8])
      expect(entries.map((e) => e.at)).toEqual([0, 40, 50, 60, 70])
    }).pipe(Effect.provide(recorder)))

  it.scoped("an ended session's timeline goes with the session after the ended retention; an open one's is kept", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const timeline = yield* Timeline
      yield* store.create(session("open"))
      yield* store.create(session("ended"))
      yield* store.commit({
        expectedVersion: 0,
        next: {
          ...session("ended"),
          status: "ended",
          endReason: "user",
          endedAt: "1970-01-01T00:00:00.000Z",
          version: 1
        }
      })
      for (const id of ["open", "ended"]) yield* timeline.record(id, { kind: "created", provider: "helvia-livechat" })
      yield* flushed

      yield* TestClock.adjust(Duration.subtract(RETENTION, Duration.seconds(1)))
      expect(yield* timeline.read("ended")).toHaveLength(1)
      yield* TestClock.adjust(Duration.seconds(2))
      expect(yield* timeline.read("ended")).toEqual([])

      yield* TestClock.adjust(Duration.days(60))
      expect((yield* timeline.read("open")).map((e) => e.kind)).toEqual(["created"])
    }).pipe(Effect.provide(recorder)))

  it.scoped("the timeline of a session the store does not keep goes after the ended retention", () =>
    Effect.gen(function*() {
      const timeline = yield* Timeline
      yield* timeline.record("gone", delivery(1))
      yield* flushed
      yield* TestClock.adjust(Duration.subtract(RETENTION, Duration.seconds(1)))
      expect(yield* timeline.read("gone")).toHaveLength(1)
      yield* TestClock.adjust(Duration.seconds(2))
      expect(yield* timeline.read("gone")).toEqual([])
    }).pipe(Effect.provide(recorder)))

  it.scoped("a batch the store refuses is written with a later try, in the order it was recorded", () =>
    Effect.gen(function*() {
      const timeline = yield* Timeline
      const store = yield* TimelineStore
      yield* timeline.record("s1", delivery(1))
      yield* flushed
      expect(yield* store.read("s1")).toEqual([])
      yield* timeline.record("s1", delivery(2))
      yield* TestClock.adjust(Duration.times(FLUSH_INTERVAL, 2))
      expect(attemptsOf(yield* store.read("s1"))).toEqual([1, 2])
    }).pipe(
      Effect.provide(
        TimelineRecorderLive.pipe(Layer.provideMerge(failingAppends({ left: 1 })), Layer.provideMerge(memoryStore))
      )
    ))

  it.scoped("while the store refuses writes, the tries back off (one warning), and it says when writes work again", () => {
    const attempts: Array<ReadonlyArray<TimelineAppend>> = []
    const logs: Array<{ level: string; message: unknown }> = []
    const outage = { left: Number.POSITIVE_INFINITY }
    return Effect.gen(function*() {
      const timeline = yield* Timeline
      const store = yield* TimelineStore
      yield* timeline.record("s1", delivery(1))
      for (let second = 0; second < 60; second++) {
        yield* timeline.record("s1", delivery(second + 2))
        yield* TestClock.adjust(Duration.seconds(1))
      }
      // Every 25 ms, a minute is 2400 tries; backing off to 5 s, about 20.
      expect(attempts.length).toBeLessThan(25)
      expect(logs.filter((l) => l.level === "WARN")).toHaveLength(1)
      // A read in the outage tries to write at once and reads what the store has, without waiting for the next try.
      expect(yield* timeline.read("s1")).toEqual([])

      outage.left = 0
      yield* TestClock.adjust(Duration.seconds(5))
      expect(attemptsOf(yield* store.read("s1"))).toEqual([1, 58, 59, 60, 61])
      expect(logs.filter((l) => l.level === "INFO")).toHaveLength(1)
      expect(logs.filter((l) => l.level === "WARN")).toHaveLength(1)
      // Working again: the next entry is written within a flush interval.
      yield* timeline.record("s1", delivery(62))
      yield* flushed
      expect(attemptsOf(yield* store.read("s1"))).toContain(62)
    }).pipe(
      Effect.provide(
        TimelineRecorderLive.pipe(
          Layer.provideMerge(failingAppends(outage, attempts)),
          Layer.provideMerge(memoryStore)
        )
      ),
      Effect.provide(capturingLogs(logs))
    )
  })

  it.scoped("when the store wrote some sessions of a batch, only the others are sent again", () => {
    const attempts: Array<ReadonlyArray<TimelineAppend>> = []
    return Effect.gen(function*() {
      const timeline = yield* Timeline
      const store = yield* TimelineStore
      yield* timeline.record("s1", delivery(1))
      yield* timeline.record("s2", delivery(1))
      yield* flushed
      yield* TestClock.adjust(Duration.seconds(1))
      expect(attempts.map((batch) => batch.map((a) => a.sessionId))).toEqual([["s1", "s2"], ["s2"]])
      expect(attemptsOf(yield* store.read("s1"))).toEqual([1])
      expect(attemptsOf(yield* store.read("s2"))).toEqual([1])
    }).pipe(
      Effect.provide(
        TimelineRecorderLive.pipe(
          Layer.provideMerge(
            Layer.effect(
              TimelineStore,
              Effect.map(TimelineStore, (inner) => ({
                ...inner,
                // The first batch: s1 written, s2 not (as a second script call failing).
                append: (appends) =>
                  Effect.suspend(() => {
                    attempts.push(appends)
                    return attempts.length > 1 ? inner.append(appends) : Effect.zipRight(
                      inner.append(appends.filter((a) => a.sessionId === "s1")),
                      Effect.fail(new TimelineAppendFailed({ cause: storeAway, unwritten: ["s2"] }))
                    )
                  })
              }))
            )
          ),
          Layer.provideMerge(memoryStore)
        )
      )
    )
  })

  it.scoped("entries of one instant keep the order they were recorded in, across flushes and among other sessions", () =>
    Effect.gen(function*() {
      const timeline = yield* Timeline
      yield* timeline.record("s1", { kind: "state", from: "pending", to: "active" })
      yield* timeline.record("s2", delivery(1))
      // A read writes what this instance recorded first: the rest go in a later batch.
      yield* timeline.read("s1")
      yield* timeline.record("s1", { kind: "state", from: "active", to: "ended" })
      yield* timeline.record("s2", delivery(2))
      yield* timeline.record("s1", { kind: "ended", reason: "agent", trigger: { by: "event", eventId: "e9" } })
      const entries = yield* timeline.read("s1")
      expect(entries.map((e) => [e.at, e.kind, e.kind === "state" ? e.to : undefined])).toEqual([
        [0, "state", "active"],
        [0, "state", "ended"],
        [0, "ended", undefined]
      ])
      expect(attemptsOf(yield* timeline.read("s2"))).toEqual([1, 2])
    }).pipe(Effect.provide(recorder)))
})

describe("the stored form of a timeline entry", () => {
  const T = 1_765_000_000_000
  const everyKind: ReadonlyArray<TimelineEntry> = [
    { at: T, kind: "created", provider: "zendesk" },
    { at: T, kind: "created", provider: "genesys-livechat", channel: "webchat", queue: "billing" },
    { at: T + 1, kind: "state", from: "pending", to: "active" },
    { at: T + 2, kind: "provider.call", operation: "create", outcome: "no-answer", latencyMs: 2000.5, attempt: 2 },
    { at: T + 3, kind: "event.received", eventId: "e1", type: "agent.message", via: "socket" },
    { at: T + 4, kind: "event.dropped", reason: "malformed" },
    { at: T + 4, kind: "event.dropped", reason: "duplicate", type: "agent.message", via: "poll" },
    {
      at: T + 5,
      kind: "delivery",
      eventId: "e1",
      seq: 3,
      target: "hbf-bot",
      attempt: 1,
      outcome: "failed",
      status: 503,
      latencyMs: 4
    },
    { at: T + 6, kind: "dead-letter", eventId: "e1", target: "event-publisher", attempts: 12, reason: "refused" },
    { at: T + 7, kind: "replayed", eventId: "e1", target: "hbf-bot" },
    { at: T + 8, kind: "ended", reason: "timeout", trigger: { by: "timeout", timeout: "pending" } }
  ]

  it("gives back every kind of entry as it was, absent fields absent", () => {
    for (const entry of everyKind) {
      expect(Either.getOrThrow(decodeStoredEntry(encodeStoredEntry(entry)))).toStrictEqual(entry)
    }
  })

  it("is the one stores hold: each kind's fields in their order (a reorder would misread stored entries)", () => {
    expect(everyKind.map(encodeStoredEntry)).toEqual([
      `["created",${T},"zendesk"]`,
      `["created",${T},"genesys-livechat","webchat","billing"]`,
      `["state",${T + 1},"pending","active"]`,
      `["provider.call",${T + 2},"create","no-answer",null,2000.5,2]`,
      `["event.received",${T + 3},"e1","agent.message","socket"]`,
      `["event.dropped",${T + 4},null,null,"malformed"]`,
      `["event.dropped",${T + 4},null,"agent.message","duplicate","poll"]`,
      `["delivery",${T + 5},"e1",3,"hbf-bot",1,"failed",503,4]`,
      `["dead-letter",${T + 6},"e1","event-publisher",12,"refused"]`,
      `["replayed",${T + 7},"e1","hbf-bot"]`,
      `["ended",${T + 8},"timeout",{"by":"timeout","timeout":"pending"}]`
    ])
  })

  it("is about half the bytes of the entry's JSON", () => {
    const delivery = everyKind[7]!
    expect(encodeStoredEntry(delivery).length).toBeLessThan(JSON.stringify(delivery).length * 0.6)
  })

  it("refuses what is not an entry: another kind, a missing field, a wrong type, not JSON", () => {
    for (
      const stored of ["[\"opened\",1]", "[\"state\",1,\"pending\"]", "[\"state\",\"1\",\"pending\",\"active\"]", "{"]
    ) {
      expect(Either.isLeft(decodeStoredEntry(stored))).toBe(true)
    }
  })
})

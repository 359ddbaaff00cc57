/**
 * The gateway's wait estimate (docs/ARCHITECTURE.md#queue-figures) on made-up histories: the
 * assignments are committed to a memory store at TestClock times, and the estimate reads the
 * store's waiting stats of the window as the sweeper does.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, TestClock } from "effect"
import type { SessionRecord } from "../../src/domain/model.js"
import { estimateWait, figuresChanged, MIN_ASSIGNMENTS } from "../../src/domain/queueEstimate.js"
import { assignmentHistory } from "../../src/gateway/queueFigures.js"
import { SessionStore } from "../../src/services/SessionStore.js"
import { MemoryStoreLive } from "../../src/stores/MemoryStore.js"

const tenantId = "t1"
let counter = 0

/** A request created `waitedSeconds` before now and assigned now: one sample of the history. */
const assignedAfter = (waitedSeconds: number) =>
  Effect.gen(function*() {
    const store = yield* SessionStore
    const now = yield* Clock.currentTimeMillis
    const createdAt = new Date(now - waitedSeconds * 1000).toISOString()
    const record: SessionRecord = {
      sessionId: `s${++counter}`,
      tenantId,
      organizationId: "org1",
      subHandle: `sub${counter}`,
      provider: "helvia-livechat",
      status: "pending",
      createdAt,
      lastActivityAt: createdAt,
      version: 0,
      lastSeq: 0
    }
    yield* store.create(record)
    const assignedAt = new Date(now).toISOString()
    yield* store.commit({
      expectedVersion: 0,
      next: { ...record, status: "active", assignedAt, lastActivityAt: assignedAt, version: 1 }
    })
  })

/** The estimate for `position`, for a request that has waited `waitedSeconds`, from the store's history now. */
const estimate = (position: number, waitedSeconds = 0) =>
  Effect.flatMap(
    Effect.flatMap(SessionStore, (store) => assignmentHistory(store)(tenantId)),
    (history) => Effect.succeed(estimateWait(position, history, waitedSeconds))
  )

const withStore = <A, E>(effect: Effect.Effect<A, E, SessionStore>) =>
  Effect.provide(effect, MemoryStoreLive({ partitions: 4 }))

describe("the gateway's wait estimate", () => {
  it.effect("a steady queue: one assignment a minute after two minutes' wait tells the p-th about p minutes, at least the waits' two", () =>
    withStore(Effect.gen(function*() {
      yield* TestClock.adjust(Duration.hours(1))
      for (let i = 0; i < 15; i++) {
        yield* assignedAfter(120)
        yield* TestClock.adjust(Duration.minutes(1))
      }
      // 15 assignments in the 15-minute window: one a minute.
      expect(yield* estimate(1)).toBe(120)
      expect(yield* estimate(3)).toBe(180)
      expect(yield* estimate(10)).toBe(600)
      // A request that waited a minute already is told the rest of the usual wait, not less than the throughput says.
      expect(yield* estimate(1, 60)).toBe(60)
      expect(yield* estimate(1, 200)).toBe(60)
    })))

  it.effect("a burst: many assignments in a short while read as their rate over the window, and the long tail of positions as waiting longer", () =>
    withStore(Effect.gen(function*() {
      yield* TestClock.adjust(Duration.hours(1))
      for (let i = 0; i < 30; i++) yield* assignedAfter(10)
      // 30 assignments in 15 minutes: one every 30 s; the waits were short.
      expect(yield* estimate(1)).toBe(30)
      expect(yield* estimate(20)).toBe(600)
    })))

  it.effect("no history, or too little: no estimate at all", () =>
    withStore(Effect.gen(function*() {
      yield* TestClock.adjust(Duration.hours(1))
      expect(yield* estimate(1)).toBeUndefined()
      for (let i = 0; i < MIN_ASSIGNMENTS - 1; i++) yield* assignedAfter(60)
      expect(yield* estimate(1)).toBeUndefined()
      yield* assignedAfter(60)
      expect(yield* estimate(1)).toBe(300)
    })))

  it.effect("a stalled queue: once its last assignments leave the window, the estimate goes rather than stay frozen", () =>
    withStore(Effect.gen(function*() {
      yield* TestClock.adjust(Duration.hours(1))
      for (let i = 0; i < 5; i++) yield* assignedAfter(60)
      expect(yield* estimate(2)).toBe(360)
      // Nobody is assigned for a while: the window still holds the five...
      yield* TestClock.adjust(Duration.minutes(14))
      expect(yield* estimate(2)).toBe(360)
      // ...then none.
      yield* TestClock.adjust(Duration.minutes(2))
      expect(yield* estimate(2)).toBeUndefined()
    })))
})

describe("when new figures are news", () => {
  const told = { position: 3, estimatedWaitSeconds: 100, queueSource: "gateway" as const }

  it("another position, figures from another source, or an estimate that appeared or went", () => {
    expect(figuresChanged(told, { position: 2, estimatedWaitSeconds: 100, source: "gateway" })).toBe(true)
    expect(figuresChanged(told, { position: 3, estimatedWaitSeconds: 100, source: "provider" })).toBe(true)
    expect(figuresChanged(told, { position: 3, source: "gateway" })).toBe(true)
    expect(
      figuresChanged({ position: 3, queueSource: "gateway" }, {
        position: 3,
        estimatedWaitSeconds: 5,
        source: "gateway"
      })
    )
      .toBe(true)
    expect(figuresChanged({}, { position: 1, source: "gateway" })).toBe(true)
  })

  it("an estimate that moved 20% or more of the one told; less is no news", () => {
    expect(figuresChanged(told, { position: 3, estimatedWaitSeconds: 100, source: "gateway" })).toBe(false)
    expect(figuresChanged(told, { position: 3, estimatedWaitSeconds: 81, source: "gateway" })).toBe(false)
    expect(figuresChanged(told, { position: 3, estimatedWaitSeconds: 119, source: "gateway" })).toBe(false)
    expect(figuresChanged(told, { position: 3, estimatedWaitSeconds: 80, source: "gateway" })).toBe(true)
    expect(figuresChanged(told, { position: 3, estimatedWaitSeconds: 120, source: "gateway" })).toBe(true)
  })
})

import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Option, TestClock } from "effect"
import { SessionStore } from "../../src/services/SessionStore.js"
import { MemoryStoreLive } from "../../src/stores/MemoryStore.js"
import { makeRecord, PARTITIONS, storeContract } from "./storeContract.js"

storeContract("MemoryStoreLive", (retention) => MemoryStoreLive({ partitions: PARTITIONS, ...retention }), "test")

describe("MemoryStoreLive retention", () => {
  it.effect("without retention settings: ended sessions are kept 30 days, seen ids 7, as AppConfig's defaults", () =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const record = makeRecord()
      yield* store.create(record)
      yield* store.commit({ expectedVersion: 0, next: { ...record, version: 1 }, seen: ["e1"] })
      yield* store.commit({
        expectedVersion: 1,
        next: { ...record, version: 2, status: "ended", endReason: "user", endedAt: record.createdAt }
      })
      yield* TestClock.adjust(Duration.days(7))
      expect((yield* store.seen(record.sessionId, ["e1"])).size).toBe(0)
      yield* TestClock.adjust(Duration.days(23).pipe(Duration.subtract(Duration.seconds(1))))
      expect(Option.isSome(yield* store.get(record.sessionId))).toBe(true)
      yield* TestClock.adjust(Duration.seconds(1))
      expect(Option.isNone(yield* store.get(record.sessionId))).toBe(true)
    }).pipe(Effect.provide(MemoryStoreLive({ partitions: PARTITIONS }))))
})

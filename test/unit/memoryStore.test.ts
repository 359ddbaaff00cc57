import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { MemoryStoreLive } from "../../src/layers/MemoryStore.js"
import { SessionStore } from "../../src/services/SessionStore.js"
import { makeRecord, PARTITIONS, storeContract } from "./storeContract.js"

storeContract("MemoryStoreLive", () => MemoryStoreLive({ partitions: PARTITIONS }))

describe("MemoryStoreLive retention", () => {
  it.effect("forgets seen event ids after the de-duplication TTL (on the Effect clock)", () =>
    Effect.gen(function* () {
      const store = yield* SessionStore
      const record = makeRecord()
      yield* store.create(record)
      expect(yield* store.commit({ expectedVersion: 0, next: { ...record, version: 1 }, seen: ["e1"] })).toBe("committed")
      expect([...(yield* store.seen(record.sessionId, ["e1", "e2"]))]).toEqual(["e1"])
      yield* TestClock.adjust("59 seconds")
      expect((yield* store.seen(record.sessionId, ["e1"])).size).toBe(1)
      yield* TestClock.adjust("2 seconds")
      expect((yield* store.seen(record.sessionId, ["e1"])).size).toBe(0)
      expect(yield* store.commit({ expectedVersion: 1, next: { ...record, version: 2 }, seen: ["e1"] })).toBe("committed")
    }).pipe(Effect.provide(MemoryStoreLive({ partitions: PARTITIONS, dedupTtlMillis: 60_000 })))
  )
})

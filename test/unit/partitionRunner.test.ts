import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Scope, TestClock } from "effect"
import { makePartitionRunner } from "../../src/cluster/PartitionRunner.js"

/** A runner that records when leases are taken and given back. */
const setup = Effect.gen(function*() {
  const log: Array<string> = []
  const runner = yield* makePartitionRunner({
    acquire: (p) => Effect.sync(() => void log.push(`acquire ${p}`)),
    release: (p) => Effect.sync(() => void log.push(`release ${p}`)),
    handOverGrace: Duration.seconds(5)
  })
  return { runner, log }
})

const settle = Effect.repeatN(Effect.yieldNow(), 20)

describe("PartitionRunner", () => {
  it.scoped("runs each registered worker once per owned partition, also for workers registered later", () =>
    Effect.gen(function*() {
      const { runner } = yield* setup
      const started: Array<string> = []
      yield* runner.register(
        "a",
        ({ handOver, partition: p }) => Effect.zipRight(Effect.sync(() => void started.push(`a${p}`)), handOver)
      )
      yield* runner.setOwned(new Set([0, 1]))
      yield* settle
      yield* runner.register(
        "b",
        ({ handOver, partition: p }) => Effect.zipRight(Effect.sync(() => void started.push(`b${p}`)), handOver)
      )
      yield* runner.setOwned(new Set([0, 1]))
      yield* settle
      expect(started.sort()).toEqual(["a0", "a1", "b0", "b1"])
      expect(runner.isActive(0) && runner.isActive(1) && !runner.isActive(2)).toBe(true)
    }))

  it.scoped("a handed-over partition lets its worker finish in-flight work, then releases the lease", () =>
    Effect.gen(function*() {
      const { log, runner } = yield* setup
      const finishing = yield* Deferred.make<void>()
      yield* runner.register("delivery", ({ handOver, partition: p }) =>
        Effect.gen(function*() {
          yield* handOver
          log.push(`handing over ${p}`)
          yield* Deferred.await(finishing)
          log.push(`finished ${p}`)
        }))
      yield* runner.setOwned(new Set([3]))
      yield* settle
      yield* runner.setOwned(new Set())
      yield* settle
      expect(runner.isActive(3)).toBe(false)
      expect(log).toEqual(["acquire 3", "handing over 3"])
      yield* Deferred.succeed(finishing, undefined)
      yield* settle
      expect(log).toEqual(["acquire 3", "handing over 3", "finished 3", "release 3"])
      expect(runner.held().size).toBe(0)
    }))

  it.scoped("a worker that does not finish within the grace is interrupted, then the lease released", () =>
    Effect.gen(function*() {
      const { log, runner } = yield* setup
      yield* runner.register(
        "stuck",
        () => Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => void log.push("interrupted"))))
      )
      yield* runner.setOwned(new Set([1]))
      yield* settle
      const handOver = yield* Effect.fork(runner.setOwned(new Set()))
      yield* Fiber.join(handOver)
      yield* TestClock.adjust(Duration.seconds(4))
      expect(log).toEqual(["acquire 1"])
      yield* TestClock.adjust(Duration.seconds(2))
      yield* settle
      expect(log).toEqual(["acquire 1", "interrupted", "release 1"])
    }))

  it.scoped("a worker being unregistered holds its partition's lease until it has stopped, even through a hand-over", () =>
    Effect.gen(function*() {
      const { log, runner } = yield* setup
      const finishing = yield* Deferred.make<void>()
      const registration = yield* Scope.make()
      yield* runner
        .register(
          "delivery",
          ({ handOver, partition: p }) =>
            Effect.zipRight(
              handOver,
              Effect.zipRight(Deferred.await(finishing), Effect.sync(() => void log.push(`finished ${p}`)))
            )
        )
        .pipe(Scope.extend(registration))
      yield* runner.setOwned(new Set([2]))
      yield* settle
      // Shutdown: the registration and the partition are let go at the same time.
      yield* Effect.fork(Scope.close(registration, Exit.void))
      yield* runner.setOwned(new Set())
      yield* settle
      expect(log).toEqual(["acquire 2"])
      yield* Deferred.succeed(finishing, undefined)
      yield* settle
      expect(log).toEqual(["acquire 2", "finished 2", "release 2"])
    }))
})

/**
 * Runs the registered partition workers for the partitions this instance owns. A partition
 * starts once its lease is acquired (so the previous owner has let go) and, when it is
 * handed over, its workers are asked to finish what they have in flight, given a grace
 * period, interrupted after it, and only then is the lease released. Shared by the
 * single-node and the Redis coordinators; they differ in how leases are taken.
 */
import { Cause, Deferred, type Duration, Effect, ExecutionStrategy, Fiber, Scope } from "effect"
import type { AskOutcome, InstanceReport, PartitionRequest, PartitionWorker } from "../services/Coordinator.js"

export interface PartitionRunnerOptions {
  /** Takes the partition's lease; may wait for the previous owner to release it. */
  readonly acquire: (partition: number) => Effect.Effect<void>
  /** Gives the lease back once every worker of the partition has stopped. */
  readonly release: (partition: number) => Effect.Effect<void>
  /** How long workers get to finish in-flight work when their partition is handed over. */
  readonly handOverGrace: Duration.Duration
}

interface Run {
  readonly handOver: Deferred.Deferred<void>
  readonly fiber: Fiber.RuntimeFiber<void>
}

interface PartitionState {
  active: boolean
  leased: boolean
  readonly runs: Map<string, Run>
  /** What the running workers of the partition answer: request kind -> worker name -> handler. */
  readonly answers: Map<string, Map<string, (subject: string) => Effect.Effect<boolean>>>
  readonly handOver: Deferred.Deferred<void>
  readonly done: Deferred.Deferred<void>
}

export interface PartitionRunner {
  readonly register: (name: string, worker: PartitionWorker) => Effect.Effect<void, never, Scope.Scope>
  /** Starts the partitions newly in `owned`, hands over those no longer in it. */
  readonly setOwned: (owned: ReadonlySet<number>) => Effect.Effect<void>
  /** Whether the partition's workers are running (lease taken, not handed over). */
  readonly isActive: (partition: number) => boolean
  /** Partitions started and not yet released (including those still acquiring or handing over). */
  readonly held: () => ReadonlySet<number>
  /** Whether the partition's lease is taken and not yet released (its workers may be finishing a hand-over). */
  readonly isHeld: (partition: number) => boolean
  /** Hands the request to the partition's running workers that answer its kind. */
  readonly ask: (partition: number, request: PartitionRequest) => Effect.Effect<Exclude<AskOutcome, "unassigned">>
  /** Partitions whose workers run here, and those held but not running (starting or handing over). */
  readonly partitionsReport: () => Pick<InstanceReport, "working" | "pending">
}

export const makePartitionRunner = (
  options: PartitionRunnerOptions
): Effect.Effect<PartitionRunner, never, Scope.Scope> =>
  Effect.gen(function*() {
    // Workers live in a scope of their own, closed only after the graceful hand-over below: a
    // fiber forked straight into the caller's scope would be interrupted, mid-delivery, as
    // soon as that scope starts closing.
    const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    const workers = new Map<string, PartitionWorker>()
    const partitions = new Map<number, PartitionState>()

    const startRun = (partition: number, state: PartitionState, name: string, worker: PartitionWorker) =>
      Effect.gen(function*() {
        const handOver = yield* Deferred.make<void>()
        const fiber = yield* worker({
          partition,
          handOver: Deferred.await(handOver),
          answer: (kind, handler) =>
            Effect.sync(() => {
              const byWorker = state.answers.get(kind) ?? new Map()
              byWorker.set(name, handler)
              state.answers.set(kind, byWorker)
            })
        }).pipe(
          Effect.catchAllCause((cause) =>
            Cause.isInterruptedOnly(cause)
              ? Effect.void
              : Effect.logError("partition worker failed", { worker: name, partition, cause: Cause.pretty(cause) })
          ),
          // A run leaves the partition only when it has stopped, so the lease is never released under it.
          Effect.ensuring(Effect.sync(() => {
            state.runs.delete(name)
            for (const byWorker of state.answers.values()) byWorker.delete(name)
          })),
          Effect.forkIn(scope)
        )
        state.runs.set(name, { handOver, fiber })
      })

    const stopRun = (run: Run) =>
      Effect.gen(function*() {
        yield* Deferred.succeed(run.handOver, undefined)
        const finished = yield* Fiber.await(run.fiber).pipe(Effect.timeout(options.handOverGrace), Effect.option)
        if (finished._tag === "None") yield* Fiber.interrupt(run.fiber)
      })

    const lifecycle = (partition: number, state: PartitionState) =>
      Effect.gen(function*() {
        const acquired = yield* Effect.raceFirst(
          Effect.as(options.acquire(partition), true),
          Effect.as(Deferred.await(state.handOver), false)
        )
        if (acquired) {
          state.leased = true
          state.active = true
          for (const [name, worker] of workers) yield* startRun(partition, state, name, worker)
          yield* Deferred.await(state.handOver)
          state.active = false
          yield* Effect.forEach([...state.runs.values()], stopRun, { concurrency: "unbounded", discard: true })
        }
        state.leased = false
        yield* options.release(partition)
      }).pipe(
        Effect.ensuring(
          Effect.zipRight(
            Effect.sync(() => partitions.delete(partition)),
            Deferred.succeed(state.done, undefined)
          )
        )
      )

    const setOwned = (owned: ReadonlySet<number>) =>
      Effect.gen(function*() {
        for (const [partition, state] of partitions) {
          if (!owned.has(partition)) yield* Deferred.succeed(state.handOver, undefined)
        }
        for (const partition of owned) {
          if (partitions.has(partition)) continue
          const state: PartitionState = {
            active: false,
            leased: false,
            runs: new Map(),
            answers: new Map(),
            handOver: yield* Deferred.make<void>(),
            done: yield* Deferred.make<void>()
          }
          partitions.set(partition, state)
          yield* Effect.forkIn(lifecycle(partition, state), scope)
        }
      })

    // Shutting down hands every partition over and waits for the releases.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        const states = [...partitions.values()]
        yield* setOwned(new Set())
        yield* Effect.forEach(states, (s) => Deferred.await(s.done), { concurrency: "unbounded", discard: true })
      })
    )

    const runner: PartitionRunner = {
      register: (name, worker) =>
        Effect.gen(function*() {
          workers.set(name, worker)
          for (const [partition, state] of partitions) {
            if (state.active) yield* startRun(partition, state, name, worker)
          }
          yield* Effect.addFinalizer(() =>
            Effect.gen(function*() {
              workers.delete(name)
              const runs = [...partitions.values()].flatMap((state) => {
                const run = state.runs.get(name)
                return run === undefined ? [] : [run]
              })
              yield* Effect.forEach(runs, stopRun, { concurrency: "unbounded", discard: true })
            })
          )
        }),
      setOwned,
      isActive: (partition) => partitions.get(partition)?.active === true,
      held: () => new Set(partitions.keys()),
      isHeld: (partition) => partitions.get(partition)?.leased === true,
      ask: (partition, { kind, subject }) =>
        Effect.gen(function*() {
          const state = partitions.get(partition)
          if (state === undefined || !state.active) return "not-owner"
          const handlers = state.answers.get(kind)?.values() ?? []
          const known = yield* Effect.forEach(handlers, (handler) => handler(subject), { concurrency: "unbounded" })
          return known.some((k) => k) ? "handled" : "unhandled"
        }),
      partitionsReport: () => {
        const sorted = (filter: (state: PartitionState) => boolean) =>
          [...partitions].filter(([, state]) => filter(state)).map(([partition]) => partition).sort((a, b) => a - b)
        return { working: sorted((state) => state.active), pending: sorted((state) => !state.active) }
      }
    }
    return runner
  })

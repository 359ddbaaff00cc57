/**
 * Ends sessions past their tenant's pending or inactivity timeout, and tells waiting requests
 * their queue figures and the tenant's warnings (docs/ARCHITECTURE.md#queue-figures), every
 * `sweepInterval`, for the partitions this instance owns (so each session is swept by one instance). Each
 * sweep reads the partition's open sessions anyway: their tally by provider and state is
 * the instance's open-sessions gauge.
 */
import { Duration, Effect, Layer, Schedule } from "effect"
import { type OpenTally, recordOpenSessions, tallyOpen } from "../infra/metrics.js"
import { AppConfig } from "../services/AppConfig.js"
import { Coordinator } from "../services/Coordinator.js"
import { Timeouts } from "../services/Timeouts.js"

export const SweeperLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const config = yield* AppConfig
    const timeouts = yield* Timeouts
    const coordinator = yield* Coordinator
    /** Partition -> its open sessions by provider and state at its last sweep, for the partitions swept here. */
    const tallies = new Map<number, OpenTally>()
    yield* coordinator.runPerPartition(
      "timeout-sweeper",
      ({ handOver, partition }) =>
        timeouts.sweepTimeouts(partition).pipe(
          Effect.tap(({ open }) =>
            Effect.zipRight(
              Effect.sync(() => tallies.set(partition, tallyOpen(open))),
              recordOpenSessions(tallies.values())
            )
          ),
          Effect.catchAll((e) => Effect.logWarning("timeout sweep failed", { partition, reason: e.message })),
          Effect.repeat(Schedule.spaced(config.sweepInterval)),
          // Each partition at its own phase of the interval: all of them at once read every open
          // session in one go, a stall that showed as a p99 of 200 ms in webhook answers.
          // perf: docs/ARCHITECTURE.md#perf-sweep-phases
          Effect.delay(Duration.times(config.sweepInterval, partition / config.partitions)),
          Effect.raceFirst(handOver),
          // The partition moved: its sessions are counted by its new owner.
          Effect.ensuring(
            Effect.zipRight(Effect.sync(() => tallies.delete(partition)), recordOpenSessions(tallies.values()))
          )
        )
    )
  })
)

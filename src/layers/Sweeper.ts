/**
 * Ends sessions past their tenant's pending or inactivity timeout, every `sweepInterval`,
 * for the partitions this instance owns (so each session is swept by one instance).
 */
import { Effect, Layer, Schedule } from "effect"
import { AppConfig } from "../services/AppConfig.js"
import { Coordinator } from "../services/Coordinator.js"
import { Gateway } from "../services/Gateway.js"

export const SweeperLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const config = yield* AppConfig
    const gateway = yield* Gateway
    const coordinator = yield* Coordinator
    yield* coordinator.runPerPartition("timeout-sweeper", ({ handOver, partition }) =>
      gateway.sweepTimeouts(partition).pipe(
        Effect.catchAll((e) => Effect.logWarning("timeout sweep failed", { partition, reason: e.message })),
        Effect.repeat(Schedule.spaced(config.sweepInterval)),
        Effect.raceFirst(handOver)
      )
    )
  })
)

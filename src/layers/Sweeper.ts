/** Ends sessions past their tenant's pending or inactivity timeout, every `sweepInterval`. */
import { Effect, Layer, Schedule } from "effect"
import { AppConfig } from "../services/AppConfig.js"
import { Gateway } from "../services/Gateway.js"

export const SweeperLive = Layer.scopedDiscard(
  Effect.gen(function* () {
    const config = yield* AppConfig
    const gateway = yield* Gateway
    yield* gateway.sweepTimeouts.pipe(
      Effect.catchAll((e) => Effect.logWarning("timeout sweep failed", { reason: e.message })),
      Effect.repeat(Schedule.spaced(config.sweepInterval)),
      Effect.forkScoped
    )
  })
)

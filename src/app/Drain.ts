/**
 * Graceful shutdown that a load balancer can follow. On SIGTERM (the launch scope closing)
 * the instance first says it is not ready (/health/ready 503) while it goes on serving for
 * `shutdownDrain`, so the balancer stops sending it requests; then it leaves the cluster,
 * handing its partitions over (their workers finish what is in flight); only then does the
 * HTTP server close. Requests that still arrive during the hand-over are answered.
 */
import { Duration, Effect, Layer, Ref } from "effect"
import { AppConfig } from "../services/AppConfig.js"
import { Coordinator } from "../services/Coordinator.js"
import { Lifecycle } from "../services/Lifecycle.js"

export const LifecycleLive = Layer.effect(
  Lifecycle,
  Effect.map(
    Ref.make(false),
    (draining) => Lifecycle.of({ draining: Ref.get(draining), startDraining: Ref.set(draining, true) })
  )
)

/** Built after the HTTP server, so that its finalizer runs before the server closes. */
export const DrainOnShutdownLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const lifecycle = yield* Lifecycle
    const coordinator = yield* Coordinator
    const { shutdownDrain } = yield* AppConfig
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* lifecycle.startDraining
        yield* Effect.logInfo("shutting down: not ready any more, still serving", {
          drainMs: Duration.toMillis(shutdownDrain)
        })
        yield* Effect.sleep(shutdownDrain)
        yield* coordinator.leave
        yield* Effect.logInfo("partitions handed over; closing the HTTP server")
      })
    )
  })
)

/**
 * The coordinator of a gateway alone with its in-memory store: always the leader, owns
 * every partition, no leases to take. Shutting down still hands partitions over, so
 * in-flight deliveries finish.
 */
import { Duration, Effect, Layer } from "effect"
import { nowIso } from "../domain/time.js"
import { AppConfig } from "../services/AppConfig.js"
import { Coordinator, type CoordinatorService } from "../services/Coordinator.js"
import { makePartitionRunner } from "./PartitionRunner.js"

export const SingleNodeCoordinatorLive = Layer.scoped(
  Coordinator,
  Effect.gen(function*() {
    const config = yield* AppConfig
    const startedAt = yield* nowIso
    const runner = yield* makePartitionRunner({
      acquire: () => Effect.void,
      release: () => Effect.void,
      handOverGrace: Duration.seconds(5)
    })
    const all = Array.from({ length: config.partitions }, (_, p) => p)
    yield* runner.setOwned(new Set(all))
    // Handing every partition over lets the workers finish what they have in flight.
    const leave = yield* Effect.cached(runner.setOwned(new Set()))
    yield* Effect.addFinalizer(() => leave)
    const coordinator: CoordinatorService = {
      instanceId: config.instanceId,
      partitions: config.partitions,
      runPerPartition: runner.register,
      mayAct: runner.isHeld,
      askOwner: runner.ask,
      leave,
      status: Effect.sync(() => ({
        instanceId: config.instanceId,
        mode: "single-node",
        leader: config.instanceId,
        epoch: 1,
        members: [
          {
            instanceId: config.instanceId,
            lastHeartbeatAgeMs: 0,
            leaving: false,
            report: { startedAt, leading: true, ...runner.partitionsReport() }
          }
        ],
        partitions: all.map((partition) => ({ partition, owner: config.instanceId }))
      }))
    }
    return coordinator
  })
)

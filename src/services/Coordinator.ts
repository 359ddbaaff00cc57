import type { Effect, Scope } from "effect"
import { Context, Schema } from "effect"
import type { StoreUnavailable } from "./errors.js"

export const ClusterStatus = Schema.Struct({
  instanceId: Schema.String,
  mode: Schema.Literal("single-node", "cluster"),
  leader: Schema.String,
  epoch: Schema.Int,
  members: Schema.Array(
    Schema.Struct({ instanceId: Schema.String, lastHeartbeatAgeMs: Schema.Int, leaving: Schema.Boolean })
  ),
  partitions: Schema.Array(Schema.Struct({ partition: Schema.Int, owner: Schema.String }))
}).annotations({ identifier: "ClusterStatus" })
export type ClusterStatus = typeof ClusterStatus.Type

/**
 * Work that runs once per owned partition (outbox delivery, pollers). It runs until
 * `handOver` completes, then finishes what it has in flight and returns; it is interrupted
 * if it takes longer than the hand-over grace.
 */
export type PartitionWorker = (partition: number, handOver: Effect.Effect<void>) => Effect.Effect<void>

/**
 * Cluster membership and partition ownership. Each partition is worked by exactly one
 * instance at a time; the workers registered here run for the partitions this instance
 * owns and move with them.
 */
export interface CoordinatorService {
  readonly instanceId: string
  /** Runs `worker` for every partition owned now or later, until the scope closes. */
  readonly runPerPartition: (name: string, worker: PartitionWorker) => Effect.Effect<void, never, Scope.Scope>
  /** Whether this instance may act for the partition now: it holds its lease (until released after a hand-over) and the lease is fresh. */
  readonly mayAct: (partition: number) => boolean
  readonly status: Effect.Effect<ClusterStatus, StoreUnavailable>
}

export class Coordinator extends Context.Tag("hbf-lcg/Coordinator")<Coordinator, CoordinatorService>() {}

import type { Scope } from "effect"
import { Context, Effect, Schema } from "effect"
import type { ClusterCallTimeout, InstanceUnreachable, StoreUnavailable } from "./errors.js"
import { partitionOf } from "./Outbox.js"

/** What one instance says about itself when asked (the "cluster status" call). */
export const InstanceReport = Schema.Struct({
  startedAt: Schema.String,
  leading: Schema.Boolean,
  /** Partitions whose workers run here. */
  working: Schema.Array(Schema.Int),
  /** Partitions held here whose workers do not run: waiting for the previous owner's lease, or finishing a hand-over. */
  pending: Schema.Array(Schema.Int)
}).annotations({ identifier: "InstanceReport" })
export type InstanceReport = typeof InstanceReport.Type

export const ClusterMember = Schema.Struct({
  instanceId: Schema.String,
  lastHeartbeatAgeMs: Schema.Int,
  leaving: Schema.Boolean,
  /** The member's own report, asked for over the cluster RPC; absent when it did not answer in time. */
  report: Schema.optional(InstanceReport),
  /** Why the member did not answer, when it did not. */
  unreachable: Schema.optional(Schema.String)
}).annotations({ identifier: "ClusterMember" })

export const ClusterStatus = Schema.Struct({
  instanceId: Schema.String,
  mode: Schema.Literal("single-node", "cluster"),
  leader: Schema.String,
  epoch: Schema.Int,
  members: Schema.Array(ClusterMember),
  partitions: Schema.Array(Schema.Struct({ partition: Schema.Int, owner: Schema.String }))
}).annotations({ identifier: "ClusterStatus" })
export type ClusterStatus = typeof ClusterStatus.Type

/**
 * What became of a request to a partition's owner ("poll this session now", "watch this
 * conversation"): a worker of the partition took it; none knows what it is about (its
 * provider does not poll, or the session is not open); the instance asked no longer owns
 * the partition (it is moving); nobody owns it yet.
 */
export const AskOutcome = Schema.Literal("handled", "unhandled", "not-owner", "unassigned")
export type AskOutcome = typeof AskOutcome.Type

/** A request for the workers of one partition, wherever it is owned: what to do (`kind`), and to what (`subject`). */
export interface PartitionRequest {
  readonly kind: string
  readonly subject: string
}

/** The request kind of "poll this session now"; its subject is the session id. */
export const pollNowKind = "poll-now"

/** "Poll this session now" for one provider's pollers only: the others need not look the session up. */
export const pollNowKindOf = (provider: string) => `${pollNowKind}:${provider}`

/** One run of a partition worker, on the instance that owns the partition. */
export interface PartitionRun {
  readonly partition: number
  /** Completes when the partition is handed over: the worker then finishes what it has in flight and returns. */
  readonly handOver: Effect.Effect<void>
  /**
   * Makes this run answer requests of `kind` for its partition, asked from any instance, for
   * as long as the run lasts. `handler` says whether it knew the subject.
   */
  readonly answer: (kind: string, handler: (subject: string) => Effect.Effect<boolean>) => Effect.Effect<void>
}

/**
 * Work that runs once per owned partition (outbox delivery, pollers). It runs until its
 * `handOver` completes, then finishes what it has in flight and returns; it is interrupted
 * if it takes longer than the hand-over grace.
 */
export type PartitionWorker = (run: PartitionRun) => Effect.Effect<void>

/**
 * Cluster membership and partition ownership. Each partition is worked by exactly one
 * instance at a time; the workers registered here run for the partitions this instance
 * owns and move with them.
 */
export interface CoordinatorService {
  readonly instanceId: string
  /** How many partitions the sessions (and other partitioned work) are spread over. */
  readonly partitions: number
  /** Runs `worker` for every partition owned now or later, until the scope closes. */
  readonly runPerPartition: (name: string, worker: PartitionWorker) => Effect.Effect<void, never, Scope.Scope>
  /** Whether this instance may act for the partition now: it holds its lease (until released after a hand-over) and the lease is fresh. */
  readonly mayAct: (partition: number) => boolean
  /** Hands `request` to the workers of `partition` on the instance that owns it (this one or another). */
  readonly askOwner: (
    partition: number,
    request: PartitionRequest
  ) => Effect.Effect<AskOutcome, ClusterCallTimeout | InstanceUnreachable>
  /** The cluster as Redis records it, with each live member's own report. */
  readonly status: Effect.Effect<ClusterStatus, StoreUnavailable>
  /**
   * Leaves the cluster now: the partitions are handed over (their workers finish what they
   * have in flight) before it completes. Once only; closing the coordinator's scope leaves too.
   */
  readonly leave: Effect.Effect<void>
}

export class Coordinator extends Context.Tag("hbf-lcg/Coordinator")<Coordinator, CoordinatorService>() {}

/** "Poll this session now", handed to the owner of the session's partition, wherever it runs. */
export const pollSessionNow = (sessionId: string, kind: string = pollNowKind) =>
  Effect.flatMap(
    Coordinator,
    (coordinator) => coordinator.askOwner(partitionOf(sessionId, coordinator.partitions), { kind, subject: sessionId })
  )

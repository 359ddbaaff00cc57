/** The calls cluster instances make to one another (over src/cluster/RedisRpcProtocol.ts). */
import { Rpc, RpcGroup } from "@effect/rpc"
import { Schema } from "effect"
import { AskOutcome, InstanceReport } from "../services/Coordinator.js"
import { StoreUnavailable } from "../services/errors.js"

/** A leave was sent to an instance that does not (or no longer) lead the cluster. */
export class NotLeader extends Schema.TaggedError<NotLeader>()("NotLeader", {
  message: Schema.String
}) {}

export class ClusterRpcs extends RpcGroup.make(
  /** To a partition's owner: have your workers of the partition do this now ("poll this session now"). */
  Rpc.make("Ask", {
    payload: { partition: Schema.Int, kind: Schema.String, subject: Schema.String },
    success: AskOutcome
  }),
  /** To every member, for the cluster status: what do you hold and work? */
  Rpc.make("Report", { success: InstanceReport }),
  /** To the leader, from an instance shutting down: reassign my partitions now. Answers the epoch of the assignment without it. */
  Rpc.make("Leave", {
    payload: { instanceId: Schema.String },
    success: Schema.Struct({ epoch: Schema.Int }),
    error: Schema.Union(NotLeader, StoreUnavailable)
  })
) {}

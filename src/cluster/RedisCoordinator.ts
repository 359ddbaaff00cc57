/**
 * The cluster on Redis. Every instance heartbeats (member key with a TTL, plus a message on
 * the cluster channel); one holds the leader lease (renewed by compare-and-set, each new
 * term numbered by the epoch counter) and writes the partition assignment; every instance
 * follows the assignment (on the channel's message, and re-read every second so a lost
 * message cannot strand a partition). An instance works a partition only while it holds
 * that partition's lease: it takes it when assigned (after the previous owner released it
 * or let it expire) and renews it with each heartbeat. The outbox checks the lease on every
 * read and ack, so a stale owner (paused past its lease) cannot touch the partition.
 * Key layout: docs/redis-keys.md.
 */
import { RpcClient, RpcServer } from "@effect/rpc"
import { Duration, Effect, Layer, Queue, type Redacted, Schedule, Schema } from "effect"
import type { Redis } from "ioredis"
import { redisCall, redisConnection } from "../infra/redis/connection.js"
import { redisKeys } from "../infra/redis/keys.js"
import { AppConfig } from "../services/AppConfig.js"
import {
  Coordinator,
  type CoordinatorService,
  type InstanceReport,
  type PartitionRequest
} from "../services/Coordinator.js"
import { assignPartitions, type Owners } from "./assignment.js"
import { ClusterRpcs, NotLeader } from "./clusterRpcs.js"
import { makePartitionRunner } from "./PartitionRunner.js"
import { callInstance, makeRedisRpcProtocols } from "./RedisRpcProtocol.js"

/** The cluster's clock (docs/ARCHITECTURE.md#the-cluster). */
export const clusterTimings = {
  heartbeat: Duration.seconds(1),
  memberTtl: Duration.seconds(3),
  /** Leader lease: renewed (or contended for) every `leaderTick`, so a dead leader is replaced within its TTL plus one tick. */
  leaderTtl: Duration.seconds(2),
  leaderTick: Duration.millis(500),
  partitionLeaseTtl: Duration.seconds(3),
  /** A lease not renewed for this long is not acted on, though Redis may still hold it a little longer. */
  leaseSafety: Duration.millis(500),
  /** How long workers get to finish in-flight work when their partition moves. */
  handOverGrace: Duration.seconds(5),
  /** How long a leaving instance waits for its partitions to be reassigned and released. */
  leaveTimeout: Duration.seconds(8),
  /** How long a call to another instance may take before it is given up (`ClusterCallTimeout`). */
  callTimeout: Duration.seconds(1)
}

const Member = Schema.parseJson(Schema.Struct({ startedAt: Schema.Number, leaving: Schema.Boolean }))
const decodeMember = Schema.decodeUnknownOption(Member)
const ClusterMessage = Schema.parseJson(
  Schema.Struct({ type: Schema.Literal("heartbeat", "leaving", "assignment"), from: Schema.String })
)
const decodeMessage = Schema.decodeUnknownOption(ClusterMessage)

interface Assignment {
  readonly epoch: number
  readonly owners: Owners
}

export interface RedisCoordinatorOptions {
  /** A command connection (redisConnection), which knows the cluster's scripts. */
  readonly redis: Redis
  readonly subscriber: Redis
  readonly prefix: string
  readonly instanceId: string
  readonly partitions: number
}

export const makeRedisCoordinator = (options: RedisCoordinatorOptions) =>
  Effect.gen(function*() {
    // ---- state ----
    const { instanceId, partitions, redis, subscriber } = options
    const keys = redisKeys(options.prefix)
    const ms = Duration.toMillis

    // Leases are Redis's, in real time: the Clock is the real one outside tests of logic.
    const clock = yield* Effect.clock
    const startedAt = clock.unsafeCurrentTimeMillis()
    let leaving = false
    /** Out of the members (the end of a leave). */
    let left = false
    let leaderEpoch = 0
    /** Members that asked to leave (the Leave call), left out of the assignment even before their heartbeat says so. */
    const departing = new Set<string>()
    /** The assignment as last read; where a "poll this session now" goes. */
    let knownOwners: Owners = []
    /** One leadership round at a time: the loop's, a leave's, and the resignation. */
    const leadership = yield* Effect.makeSemaphore(1)
    /** When each partition's lease was last taken or renewed; acting on it stops `leaseSafety` before it can expire. */
    const leaseRenewedAt = new Map<number, number>()

    // Wake-ups: the leader rebalances at once when membership changes; followers re-read the assignment.
    const rebalanceNow = yield* Queue.sliding<void>(1)
    const refreshNow = yield* Queue.sliding<void>(1)
    const onMessage = (channel: string, raw: string) => {
      if (channel !== keys.clusterChannel) return
      const message = decodeMessage(raw)
      if (message._tag === "None") return
      if (message.value.type === "assignment") Queue.unsafeOffer(refreshNow, undefined)
      else if (message.value.type === "leaving" || message.value.from !== instanceId) {
        Queue.unsafeOffer(rebalanceNow, undefined)
      }
    }
    subscriber.on("message", onMessage)
    yield* Effect.addFinalizer(() => Effect.sync(() => subscriber.off("message", onMessage)))
    subscriber.subscribe(keys.clusterChannel).catch(() => undefined)

    // ---- this instance's partitions ----
    const runner = yield* makePartitionRunner({
      acquire: (partition) =>
        Effect.suspend(() => {
          const askedAt = clock.unsafeCurrentTimeMillis()
          return redisCall(
            "take lease",
            () =>
              redis.lcgTakeLease(1, keys.partitionLease(partition), instanceId, ms(clusterTimings.partitionLeaseTtl))
          )
            .pipe(Effect.map((taken) => ({ taken, askedAt })))
        }).pipe(
          Effect.filterOrFail(({ taken }) => taken === 1),
          // The previous owner is still finishing (or its lease has yet to expire): wait.
          Effect.retry(Schedule.spaced(Duration.millis(200))),
          // The schedule never ends, so this cannot fail.
          Effect.orDie,
          Effect.tap(({ askedAt }) => Effect.sync(() => leaseRenewedAt.set(partition, askedAt))),
          Effect.asVoid
        ),
      release: (partition) =>
        redisCall("release lease", () => redis.lcgDropIfMine(1, keys.partitionLease(partition), instanceId)).pipe(
          Effect.ensuring(Effect.sync(() => leaseRenewedAt.delete(partition))),
          Effect.catchAll((e) =>
            Effect.logWarning("could not release a partition lease; it expires", { partition, reason: e.message })
          ),
          Effect.asVoid
        ),
      handOverGrace: clusterTimings.handOverGrace
    })

    /** Holds the lease, and renewed it recently enough that it cannot have expired. */
    const coordinatorMayAct = (partition: number) =>
      runner.isHeld(partition) &&
      clock.unsafeCurrentTimeMillis() - (leaseRenewedAt.get(partition) ?? 0) <
        ms(clusterTimings.partitionLeaseTtl) - ms(clusterTimings.leaseSafety)

    const readAssignment = Effect.map(
      redisCall("read assignment", () => redis.hgetall(keys.assignment)),
      (hash): Assignment => ({
        epoch: Number(hash["epoch"] ?? 0),
        owners: Array.from({ length: partitions }, (_, p) => hash[String(p)])
      })
    )

    const followAssignment = Effect.gen(function*() {
      // Left: the drain may still serve for a while (src/app/Drain.ts), and an assignment that
      // still names this instance (a leave that timed out waiting for the leader) must not hand
      // it partitions again, with no heartbeat left to renew their leases.
      if (left) return
      const { owners } = yield* readAssignment
      knownOwners = owners
      const mine = new Set<number>()
      owners.forEach((owner, p) => {
        if (owner === instanceId) mine.add(p)
      })
      yield* runner.setOwned(mine)
    })

    // ---- membership and leadership ----
    const heartbeat = Effect.gen(function*() {
      // Gone from the members: a heartbeat would list it again (as leaving) until its key expired.
      if (left) return
      // Leases count from before the call: a reply that waited out a pause of this process is old news.
      const renewedAt = clock.unsafeCurrentTimeMillis()
      const held = [...runner.held()].filter(runner.isHeld)
      const lost = yield* redisCall("heartbeat", () =>
        redis.lcgHeartbeat(
          2 + held.length,
          keys.member(instanceId),
          keys.members,
          ...held.map(keys.partitionLease),
          instanceId,
          JSON.stringify({ startedAt, leaving }),
          ms(clusterTimings.memberTtl),
          ms(clusterTimings.partitionLeaseTtl),
          keys.clusterChannel,
          JSON.stringify({ type: leaving ? "leaving" : "heartbeat", from: instanceId })
        ))
      const lostIndexes = new Set(lost)
      held.forEach((partition, i) => {
        if (lostIndexes.has(i)) leaseRenewedAt.delete(partition)
        else leaseRenewedAt.set(partition, renewedAt)
      })
      // A lease that lapsed (Redis was away, or this process was paused) is never simply
      // taken again: another instance may have worked the partition meanwhile, and the lanes
      // here hold stale entries. The partition is handed over; if it is still assigned here,
      // the next assignment read starts it afresh from the stream.
      if (lost.length > 0) {
        const lostPartitions = lost.map((index) => held[index]!)
        yield* Effect.logWarning("partition leases lapsed; restarting those partitions", { partitions: lostPartitions })
        const keep = [...runner.held()].filter((p) => runner.isActive(p) && !lostPartitions.includes(p))
        yield* runner.setOwned(new Set(keep))
      }
    })

    /** Live members (heartbeat key present), with the dead ones forgotten. */
    const liveMembers = Effect.gen(function*() {
      const ids = (yield* redisCall("members", () => redis.smembers(keys.members))).sort()
      if (ids.length === 0) return []
      const values = yield* redisCall("members", () => redis.mget(ids.map(keys.member)))
      const ttls = yield* redisCall(
        "members",
        () => ids.reduce((pipeline, id) => pipeline.pttl(keys.member(id)), redis.pipeline()).exec()
      )
      const dead = ids.filter((_, i) => values[i] === null)
      if (dead.length > 0) yield* redisCall("members", () => redis.srem(keys.members, ...dead))
      return ids.flatMap((id, i) => {
        const member = decodeMember(values[i])
        if (member._tag === "None") return []
        const ttl = Number(ttls?.[i]?.[1] ?? 0)
        return [{
          instanceId: id,
          leaving: member.value.leaving,
          lastHeartbeatAgeMs: Math.max(0, ms(clusterTimings.memberTtl) - ttl)
        }]
      })
    })

    const lead = Effect.gen(function*() {
      // A leaving leader still writes the assignment without itself before it resigns.
      if (leaving && leaderEpoch === 0) return
      const epoch = yield* redisCall(
        "leader lease",
        () => redis.lcgLead(2, keys.leader, keys.leaderEpoch, instanceId, ms(clusterTimings.leaderTtl))
      )
      if (epoch === 0) {
        if (leaderEpoch !== 0) yield* Effect.logWarning("leadership lost", { epoch: leaderEpoch })
        leaderEpoch = 0
        return
      }
      if (epoch !== leaderEpoch) yield* Effect.logInfo("leading the cluster", { epoch })
      leaderEpoch = epoch
      const live = yield* liveMembers
      for (const id of departing) if (!live.some((m) => m.instanceId === id)) departing.delete(id)
      const members = live
        .filter((m) => !m.leaving && !departing.has(m.instanceId) && !(leaving && m.instanceId === instanceId))
        .map((m) => m.instanceId)
      const current = yield* readAssignment
      const owners = assignPartitions(partitions, members, current.owners)
      const unchanged = current.epoch === epoch && owners.every((o, p) => o === current.owners[p])
      if (unchanged) return
      const fields = owners.flatMap((owner, p) => (owner === undefined ? [] : [String(p), owner]))
      yield* redisCall(
        "write assignment",
        () => redis.lcgAssign(2, keys.leader, keys.assignment, instanceId, epoch, keys.clusterChannel, ...fields)
      )
    }).pipe(leadership.withPermits(1))

    const resign = Effect.gen(function*() {
      if (leaderEpoch === 0) return
      yield* Effect.ignore(redisCall("resign", () => redis.lcgDropIfMine(1, keys.leader, instanceId)))
      leaderEpoch = 0
    }).pipe(leadership.withPermits(1))

    // ---- cluster calls ----
    // This instance answers them on its channel and makes them through one client.
    const report = (): InstanceReport => ({
      startedAt: new Date(startedAt).toISOString(),
      leading: leaderEpoch !== 0,
      ...runner.partitionsReport()
    })
    const askHere = (partition: number, request: PartitionRequest) =>
      coordinatorMayAct(partition) ? runner.ask(partition, request) : Effect.succeed("not-owner" as const)
    const acceptLeave = (leaver: string) =>
      Effect.gen(function*() {
        const notLeader = new NotLeader({ message: `${instanceId} does not lead the cluster` })
        if (leaderEpoch === 0) return yield* Effect.fail(notLeader)
        departing.add(leaver)
        yield* lead
        if (leaderEpoch === 0) return yield* Effect.fail(notLeader)
        yield* Effect.logInfo("reassigned the partitions of a leaving instance", {
          instanceId: leaver,
          epoch: leaderEpoch
        })
        return { epoch: leaderEpoch }
      })
    const protocols = yield* makeRedisRpcProtocols({ redis, subscriber, instanceId, channelOf: keys.rpcChannel })
    const handlers = yield* ClusterRpcs.toHandlersContext({
      Ask: ({ partition, ...request }) => askHere(partition, request),
      Report: () => Effect.sync(report),
      Leave: ({ instanceId: leaver }) => acceptLeave(leaver)
    })
    yield* RpcServer.make(ClusterRpcs).pipe(
      Effect.provide(handlers),
      Effect.provideService(RpcServer.Protocol, protocols.server),
      Effect.forkScoped
    )
    const client = yield* RpcClient.make(ClusterRpcs).pipe(Effect.provideService(RpcClient.Protocol, protocols.client))

    /** Asks the leader to reassign this instance's partitions now; a few tries, as the leader may be changing. */
    const handOverToLeader = Effect.gen(function*() {
      const leader = yield* redisCall("leader", () => redis.get(keys.leader))
      if (leader === null || leader === instanceId) {
        return yield* Effect.fail(new NotLeader({ message: "no other instance leads the cluster" }))
      }
      return yield* callInstance(
        leader,
        "Leave",
        clusterTimings.callTimeout,
        (options) => client.Leave({ instanceId }, options)
      )
    }).pipe(
      Effect.retry({ times: 3, schedule: Schedule.spaced(Duration.millis(300)) }),
      Effect.matchEffect({
        onSuccess: ({ epoch }) => Effect.logInfo("the leader reassigned this instance's partitions", { epoch }),
        onFailure: (e) =>
          Effect.logWarning("the leader did not confirm the leave; waiting for its next round", { reason: e.message })
      })
    )

    // ---- loops, boot and leave ----
    const loop = (
      name: string,
      effect: Effect.Effect<void, { message: string }>,
      every: Duration.Duration,
      wake?: Queue.Queue<void>
    ) =>
      effect.pipe(
        Effect.catchAll((e) => Effect.logWarning(`cluster ${name} failed`, { reason: e.message })),
        Effect.zipRight(
          wake === undefined ? Effect.sleep(every) : Effect.raceFirst(Queue.take(wake), Effect.sleep(every))
        ),
        Effect.forever,
        Effect.forkScoped
      )

    yield* loop("heartbeat", heartbeat, clusterTimings.heartbeat)
    yield* loop("leadership", lead, clusterTimings.leaderTick, rebalanceNow)
    yield* loop("assignment", followAssignment, clusterTimings.heartbeat, refreshNow)

    // Boot waits (a little) for this instance's first partitions, so it delivers as soon as it serves.
    yield* Effect.sync(() => [...runner.held()].some(runner.isActive)).pipe(
      Effect.repeat({ schedule: Schedule.spaced(Duration.millis(50)), until: (working) => working }),
      Effect.timeout(Duration.seconds(3)),
      Effect.ignore
    )

    const leave = yield* Effect.cached(
      Effect.gen(function*() {
        leaving = true
        yield* Effect.logInfo("leaving the cluster", { partitions: runner.held().size })
        // The heartbeat marks the member leaving and tells the cluster so.
        yield* Effect.ignore(heartbeat)
        if (leaderEpoch !== 0) {
          yield* Effect.ignore(lead)
          yield* resign
        } else {
          yield* handOverToLeader
        }
        const others = yield* Effect.orElseSucceed(liveMembers, () => [])
        if (others.some((m) => m.instanceId !== instanceId && !m.leaving)) {
          // The leader moves our partitions; following the assignment hands them over.
          yield* Effect.sync(() => runner.held().size).pipe(
            Effect.repeat({ schedule: Schedule.spaced(Duration.millis(100)), until: (n) => n === 0 }),
            Effect.timeout(clusterTimings.leaveTimeout),
            Effect.ignore
          )
        }
        yield* runner.setOwned(new Set())
        // The drain may go on serving HTTP after this (src/app/Drain.ts): no more heartbeats.
        left = true
        yield* Effect.ignore(
          redisCall("leave", () => redis.multi().del(keys.member(instanceId)).srem(keys.members, instanceId).exec())
        )
      })
    )
    // Added after the loops and the cluster calls, so it runs before they stop: leave while
    // they still follow the assignment and answer (at once, unless a drain has left already).
    yield* Effect.addFinalizer(() => leave)

    // ---- the service ----
    const coordinator: CoordinatorService = {
      instanceId,
      partitions,
      runPerPartition: runner.register,
      mayAct: coordinatorMayAct,
      leave,
      askOwner: (partition, request) => {
        const owner = knownOwners[partition]
        if (owner === undefined) return Effect.succeed("unassigned")
        if (owner === instanceId) return askHere(partition, request)
        return callInstance(
          owner,
          `Ask ${request.kind}`,
          clusterTimings.callTimeout,
          (options) => client.Ask({ partition, ...request }, options)
        )
      },
      status: Effect.gen(function*() {
        const members = yield* Effect.forEach(
          yield* liveMembers,
          (member) =>
            (member.instanceId === instanceId
              ? Effect.sync(report)
              : callInstance(
                member.instanceId,
                "Report",
                clusterTimings.callTimeout,
                (options) => client.Report(undefined, options)
              )).pipe(
                Effect.match({
                  onSuccess: (report) => ({ ...member, report }),
                  onFailure: (e) => ({ ...member, unreachable: e.message })
                })
              ),
          { concurrency: "unbounded" }
        )
        const leader = yield* redisCall("leader", () => redis.get(keys.leader))
        const { epoch, owners } = yield* readAssignment
        return {
          instanceId,
          mode: "cluster" as const,
          leader: leader ?? "",
          epoch,
          members,
          partitions: owners.map((owner, partition) => ({ partition, owner: owner ?? "" }))
        }
      })
    }
    return coordinator
  })

/** A coordinator with command and subscriber connections of its own to the Redis at `url`. */
export const redisCoordinator = (
  settings: Omit<RedisCoordinatorOptions, "redis" | "subscriber"> & { readonly url: Redacted.Redacted<string> }
) =>
  Effect.gen(function*() {
    const [redis, subscriber] = yield* Effect.all(
      [
        redisConnection({ url: settings.url, name: "cluster" }),
        redisConnection({ url: settings.url, name: "cluster-subscriber", subscriber: true })
      ],
      { concurrency: 2 }
    )
    return yield* makeRedisCoordinator({ ...settings, redis, subscriber })
  })

/** The coordinator on the Redis of `config.redis`. */
export const RedisCoordinatorLive = Layer.scoped(
  Coordinator,
  Effect.gen(function*() {
    const config = yield* AppConfig
    if (config.redis === undefined) return yield* Effect.dieMessage("RedisCoordinatorLive needs REDIS_URL")
    return yield* redisCoordinator({
      url: config.redis.url,
      prefix: config.redis.prefix,
      instanceId: config.instanceId,
      partitions: config.partitions
    })
  })
)

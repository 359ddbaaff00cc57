/**
 * The gateway's Lua scripts as ioredis commands, the stores' and the cluster's: every command
 * connection (connection.ts) defines them all, and the reply each one gives is typed here once.
 * A defined command is sent as EVAL the first time on a socket and as EVALSHA after that; a
 * NOSCRIPT reply (Redis restarted and lost its script cache) makes ioredis send it as EVAL
 * again, so the scripts come back with Redis by themselves.
 */
import type { ClientContext, Redis, Result } from "ioredis"
import * as Cluster from "./clusterScripts.js"
import * as Outbox from "./outboxScripts.js"
import * as Sessions from "./sessionScripts.js"
import * as Timeline from "./timelineScripts.js"

export type StreamEntry = [id: string, fields: Array<string>]

/** What each command replies. */
interface Replies {
  // ---- the session store ----
  lcgCreate: Array<string>
  lcgCommit: string
  lcgSessionByIndex: [record: string, activity: string | null] | null
  lcgWaitingStats: [number, number, number]
  lcgReserveMessage: string
  lcgReserveSubscriberMessage: [record: string, activity: string | null, reservation: string] | null
  lcgCompleteMessage: number
  lcgOpenSessionsPage: Array<string | number | null>
  // ---- the timeline ----
  lcgAppendTimelines: number
  // ---- the outbox: -1 = fenced (not the partition's lease holder) ----
  lcgAck: number
  lcgClaim: [string, Array<StreamEntry>] | -1
  lcgRead: Array<[string, Array<StreamEntry>]> | null | -1
  lcgReplay: number
  // ---- the cluster ----
  lcgHeartbeat: Array<number>
  lcgLead: number
  lcgAssign: number
  lcgTakeLease: number
  lcgDropIfMine: number
}

const scripts: { readonly [Name in keyof Replies]: string } = {
  lcgCreate: Sessions.createSession,
  lcgCommit: Sessions.commitChange,
  lcgSessionByIndex: Sessions.sessionByIndex,
  lcgWaitingStats: Sessions.waitingStats,
  lcgReserveMessage: Sessions.reserveMessage,
  lcgReserveSubscriberMessage: Sessions.reserveSubscriberMessage,
  lcgCompleteMessage: Sessions.completeMessage,
  lcgOpenSessionsPage: Sessions.openSessionsPage,
  lcgAppendTimelines: Timeline.appendTimelines,
  lcgAck: Outbox.ackEntry,
  lcgClaim: Outbox.claimPending,
  lcgRead: Outbox.readNew,
  lcgReplay: Outbox.replayDeadLetter,
  lcgHeartbeat: Cluster.heartbeat,
  lcgLead: Cluster.lead,
  lcgAssign: Cluster.writeAssignment,
  lcgTakeLease: Cluster.takeLease,
  lcgDropIfMine: Cluster.dropIfMine
}

/** Every command is called as (number of keys, ...keys, ...args). */
type ScriptCommands<Context extends ClientContext> = {
  [Name in keyof Replies]: (numKeys: number, ...keysAndArgs: Array<string | number>) => Result<Replies[Name], Context>
}

declare module "ioredis" {
  interface RedisCommander<Context> extends ScriptCommands<Context> {}
}

export const defineCommands = (redis: Redis) => {
  for (const [name, lua] of Object.entries(scripts)) redis.defineCommand(name, { lua })
}

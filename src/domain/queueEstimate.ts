/**
 * A waiting request's queue figures as the gateway computes them, and when they are worth
 * telling hbf-bot again (docs/ARCHITECTURE.md#queue-figures). Pure: the sweeper and the
 * request's creation read the store and the clock, and decide here.
 */
import type { QueueSource, SessionRecord } from "./model.js"

/** The assignments the estimate reads: those of the tenant's requests in the last 15 minutes. */
export const ESTIMATE_WINDOW_SECONDS = 15 * 60

/** Fewer assignments in the window than this is too little history: no estimate at all. */
export const MIN_ASSIGNMENTS = 3

/** A new estimate is told when it moved at least this much (a fraction of the one told). */
export const ESTIMATE_CHANGE = 0.2

/** The tenant's first assignments over the last `windowSeconds` (the store's waiting stats). */
export interface AssignmentHistory {
  readonly windowSeconds: number
  readonly assigned: number
  /** The mean of their waits (assigned - created), in seconds. */
  readonly averageWaitSeconds: number
}

/** Figures for one request; `source` says where the wait came from (the position is the gateway's unless the provider gave one). */
export interface QueueFigures {
  readonly position?: number
  readonly estimatedWaitSeconds?: number
  readonly source: QueueSource
}

/**
 * Since when a request has waited: its creation, or, back in the queue after an agent had it,
 * its last activity (the handback). The pending timeout and the wait warning run on it.
 */
export const waitingSince = (session: SessionRecord): number =>
  Date.parse(session.assignedAt !== undefined ? session.lastActivityAt : session.createdAt)

/**
 * How long the request at `position` (1 = next) may still wait, in whole seconds; undefined on
 * too little history (never a made-up number). Two readings of the window: the throughput
 * (n assignments in W: the p-th next assignment comes in about p·W/n), and the mean wait w of
 * the requests assigned, of which this one has waited `waitedSeconds` already. The later of
 * the two: a burst of requests shows in the throughput before it shows in the waits, and a
 * slow agent pool in the waits before the throughput reading, which counts whole windows.
 */
export const estimateWait = (
  position: number,
  history: AssignmentHistory,
  waitedSeconds: number
): number | undefined => {
  if (history.assigned < MIN_ASSIGNMENTS || position < 1) return undefined
  const byThroughput = (position * history.windowSeconds) / history.assigned
  const byWaits = history.averageWaitSeconds - waitedSeconds
  return Math.ceil(Math.max(byThroughput, byWaits))
}

/** The figures a session last told hbf-bot (`request.queued`), as its record keeps them. */
type Told = Pick<SessionRecord, "position" | "estimatedWaitSeconds" | "queueSource">

/**
 * Whether `fresh` figures are news to hbf-bot: another position, an estimate that appeared,
 * went, or moved by ESTIMATE_CHANGE or more, or figures from another source.
 */
export const figuresChanged = (told: Told, fresh: QueueFigures): boolean => {
  if (told.position !== fresh.position || told.queueSource !== fresh.source) return true
  const before = told.estimatedWaitSeconds
  const after = fresh.estimatedWaitSeconds
  if (before === undefined || after === undefined) return before !== after
  return Math.abs(after - before) >= ESTIMATE_CHANGE * before && after !== before
}

/** Whether a pending session's figures may be looked at again: at most once per `intervalMillis` since they were last told or computed. */
export const queueUpdateDue = (
  session: SessionRecord,
  now: number,
  intervalMillis: number,
  lastComputed: number | undefined
): boolean => {
  if (session.status !== "pending") return false
  const told = session.queueUpdatedAt !== undefined ? Date.parse(session.queueUpdatedAt) : undefined
  const last = Math.max(told ?? -Infinity, lastComputed ?? -Infinity)
  return now - last >= intervalMillis
}

/**
 * The tenants' timeouts and what comes before them: a sweep ends the sessions of a partition
 * that are past their pending or inactivity timeout, tells waiting requests their new queue
 * figures (docs/ARCHITECTURE.md#queue-figures), and sends the tenant's wait and inactivity warnings.
 */
import { Clock, Duration, Effect, Layer } from "effect"
import type { EndReason, ProviderEvent, SessionRecord } from "../domain/model.js"
import {
  type AssignmentHistory,
  figuresChanged,
  type QueueFigures,
  queueUpdateDue,
  waitingSince
} from "../domain/queueEstimate.js"
import { applyEvent, endByGateway, isOpen } from "../domain/stateMachine.js"
import type { LivechatConfig } from "../domain/tenant.js"
import { inactivityWarningDue, waitWarningDue } from "../domain/warnings.js"
import { AppConfig } from "../services/AppConfig.js"
import { HbfCore } from "../services/HbfCore.js"
import type { LivechatProvider } from "../services/LivechatProvider.js"
import { ProviderRegistry } from "../services/ProviderRegistry.js"
import { SessionChanges } from "../services/SessionChanges.js"
import { SessionStore } from "../services/SessionStore.js"
import { Timeouts, type TimeoutsService } from "../services/Timeouts.js"
import { livechatOf, providerFor } from "./lookups.js"
import { assignmentHistory, figuresOf, type HistoryOf, queuedEvent } from "./queueFigures.js"
import { withEvents } from "./SessionChanges.js"

/** The reasons a timeout ends a session with. */
type TimeoutReason = Extract<EndReason, "timeout" | "inactivity">

/** Why the session is over its tenant's timeouts, if it is. */
const timedOut = (session: SessionRecord, { timeouts }: LivechatConfig, now: number): TimeoutReason | undefined => {
  if (session.status === "pending") {
    return now - waitingSince(session) > timeouts.pendingSeconds * 1000 ? "timeout" : undefined
  }
  return now - Date.parse(session.lastActivityAt) > timeouts.inactivitySeconds * 1000 ? "inactivity" : undefined
}

export const makeTimeouts = Effect.gen(function*() {
  const config = yield* AppConfig
  const store = yield* SessionStore
  const core = yield* HbfCore
  const changes = yield* SessionChanges
  const providerOf = providerFor(yield* ProviderRegistry)
  const queueUpdateMillis = Duration.toMillis(config.queueUpdateInterval)
  /**
   * Per partition swept here: when each pending session's figures were last computed, told or
   * not, so that a session is looked at once per interval rather than on every sweep. Replaced
   * at each sweep by the partition's pending sessions of the moment.
   */
  const computedAt = new Map<number, Map<string, number>>()

  const withTenant = (session: SessionRecord) =>
    Effect.flatMap(
      core.tenant(session.tenantId),
      (tenant) =>
        Effect.flatMap(livechatOf(tenant), (livechat) =>
          Effect.map(providerOf(tenant, livechat), (provider) => ({ livechat, provider })))
    )

  const endTimedOut = (session: SessionRecord, reason: TimeoutReason) =>
    changes.end(
      session.sessionId,
      reason,
      (s, at) =>
        // Re-checked against the fresh record: an agent may have joined meanwhile.
        isOpen(s.status) && s.status === session.status && s.lastActivityAt === session.lastActivityAt
          ? endByGateway(s, reason, at)
          : { _tag: "Drop", reason: "the session moved on", as: "stale" },
      { by: "timeout", timeout: reason === "timeout" ? "pending" : "inactivity" }
    ).pipe(
      Effect.catchTags({ InvalidTransition: () => Effect.void, SessionNotFound: () => Effect.void })
    )

  /**
   * The figures, wait warning and inactivity warning due for a session, decided again on the
   * record committed against: a join or a message racing them wins (the version, and the
   * activity the change was decided on), and the state machine applies each only in the state
   * it concerns. None of them is activity: the timeouts run on.
   */
  const notify = (session: SessionRecord, livechat: LivechatConfig, figures: QueueFigures | undefined) =>
    changes.change(session.sessionId, (fresh) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const at = new Date(now).toISOString()
        let next = fresh
        const events: Array<ProviderEvent> = []
        const add = (event: ProviderEvent, mark: (record: SessionRecord) => SessionRecord) => {
          const t = applyEvent(next, event, at)
          if (t._tag === "Apply") {
            next = mark(t.next)
            events.push(t.event)
          }
        }
        // Due only while pending: on an active session a request.queued is a handback to the queue.
        if (
          figures !== undefined && queueUpdateDue(fresh, now, queueUpdateMillis, undefined) &&
          figuresChanged(fresh, figures)
        ) {
          add(queuedEvent(fresh, fresh.lastSeq + 1, figures, at), (r) => ({ ...r, queueUpdatedAt: at }))
        }
        const waited = waitWarningDue(next, livechat.timeouts, now)
        if (waited !== undefined) {
          add(
            { id: `${fresh.sessionId}:wait-warning`, occurredAt: at, type: "request.wait-warning", data: waited },
            (r) => ({ ...r, waitWarnedAt: at })
          )
        }
        const idle = inactivityWarningDue(fresh, livechat.timeouts, now)
        if (idle !== undefined) {
          add(
            {
              id: `${fresh.sessionId}:inactivity-warning:${fresh.lastActivityAt}`,
              occurredAt: at,
              type: "session.inactivity-warning",
              data: idle
            },
            (r) => ({ ...r, inactivityWarnedFor: fresh.lastActivityAt })
          )
        }
        return events.length === 0
          ? { result: undefined }
          : {
            change: { ...withEvents(fresh, next, events), expectedActivity: fresh.lastActivityAt },
            result: undefined
          }
      }), session)

  /** The figures of a pending session when they are due (once per interval), and what is due for it. */
  const tellWhatIsDue = (
    session: SessionRecord,
    livechat: LivechatConfig,
    provider: LivechatProvider,
    now: number,
    computed: Map<string, number>,
    lastComputed: number | undefined,
    historyOf: HistoryOf
  ) =>
    Effect.gen(function*() {
      let figures: QueueFigures | undefined
      if (queueUpdateDue(session, now, queueUpdateMillis, lastComputed)) {
        figures = yield* figuresOf(store, historyOf)(session, provider, livechat)
        computed.set(session.sessionId, now)
      } else if (session.status === "pending" && lastComputed !== undefined) {
        computed.set(session.sessionId, lastComputed)
      }
      const due = (figures !== undefined && figuresChanged(session, figures)) ||
        waitWarningDue(session, livechat.timeouts, now) !== undefined ||
        inactivityWarningDue(session, livechat.timeouts, now) !== undefined
      if (due) yield* notify(session, livechat, figures)
    })

  // Untraced: it runs for every partition on each sweep, and a span of it would say nothing a metric does not.
  const service: TimeoutsService = {
    sweepTimeouts: Effect.fnUntraced(function*(partition) {
      const open = yield* store.openSessions(partition)
      const now = yield* Clock.currentTimeMillis
      const previouslyComputed = computedAt.get(partition) ?? new Map<string, number>()
      const computed = new Map<string, number>()
      computedAt.set(partition, computed)
      // One read of each tenant's recent assignments per sweep, whatever number of its requests wait.
      const histories = new Map<string, AssignmentHistory>()
      const history = assignmentHistory(store)
      const historyOf: HistoryOf = (tenantId) => {
        const known = histories.get(tenantId)
        return known !== undefined
          ? Effect.succeed(known)
          : Effect.tap(history(tenantId), (h) => Effect.sync(() => histories.set(tenantId, h)))
      }
      let ended = 0
      const stillOpen: Array<Pick<SessionRecord, "provider" | "status">> = []
      for (const session of open) {
        const handled = yield* Effect.gen(function*() {
          const { livechat, provider } = yield* withTenant(session)
          const reason = timedOut(session, livechat, now)
          if (reason !== undefined) {
            const done = yield* endTimedOut(session, reason)
            if (done !== undefined) {
              yield* Effect.logInfo("session timed out", { sessionId: session.sessionId, reason })
              return "ended" as const
            }
            return "open" as const
          }
          // Not accepted by the provider yet (its create is under way): nothing to tell of it, which it may still refuse.
          if (session.providerConversationId === undefined) return "open" as const
          yield* tellWhatIsDue(
            session,
            livechat,
            provider,
            now,
            computed,
            previouslyComputed.get(session.sessionId),
            historyOf
          )
          return "open" as const
        }).pipe(
          Effect.catchAll((e) =>
            Effect.as(
              Effect.logWarning("cannot check the session's timeouts", {
                sessionId: session.sessionId,
                reason: e.message
              }),
              "open" as const
            )
          )
        )
        if (handled === "ended") ended++
        else stillOpen.push({ provider: session.provider, status: session.status })
      }
      return { ended, open: stillOpen }
    })
  }
  return service
})

export const TimeoutsLive = Layer.effect(Timeouts, makeTimeouts)

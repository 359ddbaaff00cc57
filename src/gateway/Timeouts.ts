/** The tenants' pending and inactivity timeouts: a sweep ends the sessions of a partition that are past them. */
import { Clock, Effect, Layer } from "effect"
import type { EndReason, SessionRecord } from "../domain/model.js"
import { endByGateway, isOpen } from "../domain/stateMachine.js"
import type { LivechatNotConfigured, TenantNotFound, UpstreamUnavailable } from "../services/errors.js"
import { HbfCore } from "../services/HbfCore.js"
import { SessionChanges } from "../services/SessionChanges.js"
import { SessionStore } from "../services/SessionStore.js"
import { Timeouts, type TimeoutsService } from "../services/Timeouts.js"
import { livechatOf } from "./lookups.js"

export const makeTimeouts = Effect.gen(function*() {
  const store = yield* SessionStore
  const core = yield* HbfCore
  const changes = yield* SessionChanges

  /** Why the session is over its tenant's timeouts, if it is. */
  const timedOut = (
    session: SessionRecord,
    now: number
  ): Effect.Effect<EndReason | undefined, TenantNotFound | UpstreamUnavailable | LivechatNotConfigured> =>
    Effect.map(Effect.flatMap(core.tenant(session.tenantId), livechatOf), ({ timeouts }) => {
      if (session.status === "pending") {
        // A request back in the queue after a transfer waits from its last activity.
        const since = Date.parse(session.assignedAt !== undefined ? session.lastActivityAt : session.createdAt)
        return now - since > timeouts.pendingSeconds * 1000 ? "timeout" : undefined
      }
      return now - Date.parse(session.lastActivityAt) > timeouts.inactivitySeconds * 1000 ? "inactivity" : undefined
    })

  // Untraced: it runs for every partition on each sweep, and a span of it would say nothing a metric does not.
  const service: TimeoutsService = {
    sweepTimeouts: Effect.fnUntraced(function*(partition) {
      const open = yield* store.openSessions(partition)
      const now = yield* Clock.currentTimeMillis
      let ended = 0
      const stillOpen: Array<Pick<SessionRecord, "provider" | "status">> = []
      for (const session of open) {
        const reason = yield* timedOut(session, now).pipe(
          Effect.catchAll((e) =>
            Effect.as(
              Effect.logWarning("cannot check the session's timeouts", {
                sessionId: session.sessionId,
                reason: e.message
              }),
              undefined
            )
          )
        )
        if (reason === undefined) {
          stillOpen.push({ provider: session.provider, status: session.status })
          continue
        }
        const done = yield* changes.end(session.sessionId, reason, (s, at) =>
          // Re-checked against the fresh record: an agent may have joined meanwhile.
          isOpen(s.status) && s.status === session.status && s.lastActivityAt === session.lastActivityAt
            ? endByGateway(s, reason, at)
            : { _tag: "Drop", reason: "the session moved on" }).pipe(
            Effect.catchTags({ InvalidTransition: () => Effect.void, SessionNotFound: () => Effect.void })
          )
        if (done !== undefined) {
          ended++
          yield* Effect.logInfo("session timed out", { sessionId: session.sessionId, reason })
        } else {
          stillOpen.push({ provider: session.provider, status: session.status })
        }
      }
      return { ended, open: stillOpen }
    })
  }
  return service
})

export const TimeoutsLive = Layer.effect(Timeouts, makeTimeouts)

/**
 * Session changes: every change to a session is a compare-and-set on its record, with the
 * events it produced numbered after the session's last; on a conflict the change is
 * recomputed from the fresh record.
 */
import { Data, Effect, Layer, Option, Schedule } from "effect"
import type { EndReason, LivechatEvent, ProviderEvent, SessionRecord } from "../domain/model.js"
import type { Transition } from "../domain/stateMachine.js"
import { nowIso } from "../domain/time.js"
import type { EndTrigger } from "../domain/timeline.js"
import { traced } from "../infra/Tracing.js"
import { InvalidTransition, SessionNotFound, StoreUnavailable } from "../services/errors.js"
import { HbfCore } from "../services/HbfCore.js"
import { ProviderRegistry } from "../services/ProviderRegistry.js"
import { SessionChanges, type SessionChangesService, type SessionDecision } from "../services/SessionChanges.js"
import { type SessionChange, SessionStore } from "../services/SessionStore.js"
import { Timeline } from "../services/Timeline.js"
import { providerOfSession } from "./lookups.js"

/** Concurrent writers to one session are rare; a handful of recomputations always settles them. */
const MAX_CAS_ATTEMPTS = 16

/** The store's "conflict", as the failure the retries read; it never leaves this module. */
class CasConflict extends Data.TaggedError("CasConflict") {}

const casConflict = Effect.fail(new CasConflict())

const isCasConflict = (e: unknown): e is CasConflict => e instanceof CasConflict

/** After the first attempt's conflict: recomputed at once, up to MAX_CAS_ATTEMPTS attempts in all. */
const casRetries = Schedule.recurs(MAX_CAS_ATTEMPTS - 2)

const conflictError = (sessionId: string) =>
  new StoreUnavailable({ message: `session ${sessionId} kept changing under concurrent writes; try again` })

/** The event as hbf-bot receives it, numbered after the session's last event. */
const numbered = (session: SessionRecord, event: ProviderEvent, seq: number): LivechatEvent =>
  ({
    id: event.id,
    sessionId: session.sessionId,
    tenantId: session.tenantId,
    organizationId: session.organizationId,
    subHandle: session.subHandle,
    provider: session.provider,
    seq,
    occurredAt: event.occurredAt,
    type: event.type,
    data: event.data
  }) as LivechatEvent

/** The record after `transition`, with the events it produced numbered and ready to append. */
export const withEvents = (session: SessionRecord, next: SessionRecord, events: ReadonlyArray<ProviderEvent>) => {
  const numberedEvents = events.map((e, i) => numbered(next, e, session.lastSeq + 1 + i))
  return {
    next: { ...next, version: session.version + 1, lastSeq: session.lastSeq + events.length },
    events: numberedEvents
  }
}

/** What ended a session in `change`: the trigger its decision names, else the event of the change that ended it (nothing applies after it). */
const endTriggerOf = (change: Omit<SessionChange, "expectedVersion">, named: EndTrigger | undefined) => {
  if (named !== undefined) return named
  const ending = change.events?.find((e) => e.type === "session.ended" || e.type === "request.failed")
  return ending === undefined ? undefined : { by: "event" as const, eventId: ending.id }
}

export const makeSessionChanges = Effect.gen(function*() {
  const store = yield* SessionStore
  const timeline = yield* Timeline
  const providerOf = providerOfSession(yield* HbfCore, yield* ProviderRegistry)

  /** The timeline entries of a committed change that moved the session: its state, and what ended it. */
  const recordMove = (from: SessionRecord, change: Omit<SessionChange, "expectedVersion">, named?: EndTrigger) => {
    const { endReason, status } = change.next
    const moved = timeline.record(from.sessionId, { kind: "state", from: from.status, to: status })
    const trigger = status === "ended" ? endTriggerOf(change, named) : undefined
    return trigger === undefined || endReason === undefined
      ? moved
      : Effect.zipRight(moved, timeline.record(from.sessionId, { kind: "ended", reason: endReason, trigger }))
  }

  /** One read, decision and commit; a conflict is handed to `onConflict`. */
  const attempt = <A, E, X>(
    sessionId: string,
    decide: (session: SessionRecord) => Effect.Effect<SessionDecision<A>, E>,
    known: SessionRecord | undefined,
    onConflict: () => Effect.Effect<A | "duplicate", X>
  ): Effect.Effect<A | "duplicate", E | SessionNotFound | StoreUnavailable | X> =>
    Effect.gen(function*() {
      const session = known !== undefined ? Option.some(known) : yield* store.get(sessionId)
      if (Option.isNone(session)) return yield* new SessionNotFound({ message: `session ${sessionId} does not exist` })
      const { change, endTrigger, entries, result } = yield* decide(session.value)
      if (change === undefined) return result
      const outcome = yield* store.commit({ ...change, expectedVersion: session.value.version })
      if (outcome === "committed") {
        if (entries !== undefined) { for (const entry of entries) yield* timeline.record(sessionId, entry) }
        // Most changes (a message, typing) keep the status: they record nothing here.
        if (change.next.status !== session.value.status) yield* recordMove(session.value, change, endTrigger)
        return result
      }
      if (outcome === "duplicate") return "duplicate" as const
      return yield* onConflict()
    })

  const failConflict = () => casConflict

  const change: SessionChangesService["change"] = (sessionId, decide, known) =>
    // The retries are set up only on a conflict: the first attempt, which nearly always commits, costs no schedule.
    attempt(sessionId, decide, known, () =>
      attempt(sessionId, decide, undefined, failConflict).pipe(
        Effect.retry({ schedule: casRetries, while: isCasConflict }),
        Effect.catchIf(isCasConflict, () => Effect.fail(conflictError(sessionId)))
      ))

  const tellProviderEnd = (session: SessionRecord, reason: EndReason) =>
    Effect.gen(function*() {
      const { context, provider } = yield* providerOf(session)
      yield* provider.end(context, reason).pipe(
        traced("provider.end", { captureStackTrace: false, attributes: { provider: provider.alias, reason } })
      )
    }).pipe(
      Effect.catchAll((e) =>
        Effect.logWarning("could not tell the provider that the session ended", { reason: e.message })
      ),
      Effect.annotateLogs({ sessionId: session.sessionId, provider: session.provider })
    )

  const end = (
    sessionId: string,
    reason: EndReason,
    transition: (session: SessionRecord, now: string) => Transition,
    trigger: EndTrigger
  ) =>
    Effect.gen(function*() {
      const ended = yield* change(sessionId, (session) =>
        Effect.gen(function*() {
          const now = yield* nowIso
          const t = transition(session, now)
          if (t._tag === "Drop") {
            return yield* new InvalidTransition({ message: t.reason, status: session.status })
          }
          const event: ProviderEvent = {
            id: `${session.sessionId}:ended`,
            occurredAt: now,
            type: "session.ended",
            data: { reason }
          }
          // A timeout is decided on the session's activity: it must not end a session the user wrote in since it was read.
          const decidedOnActivity = reason === "timeout" || reason === "inactivity"
            ? { expectedActivity: session.lastActivityAt }
            : {}
          return {
            change: { ...withEvents(session, t.next, [event]), seen: [event.id], ...decidedOnActivity },
            result: t.next,
            endTrigger: trigger
          }
        }))
      if (ended === "duplicate") return
      yield* tellProviderEnd(ended, reason)
      return ended
    })

  return SessionChanges.of({ change, end })
})

export const SessionChangesLive = Layer.effect(SessionChanges, makeSessionChanges)

import type { Effect } from "effect"
import { Context } from "effect"
import type { EndReason, SessionRecord } from "../domain/model.js"
import type { Transition } from "../domain/stateMachine.js"
import type { EndTrigger, TimelineEntryInput } from "../domain/timeline.js"
import type { InvalidTransition, SessionNotFound, StoreUnavailable } from "./errors.js"
import type { SessionChange } from "./SessionStore.js"

/** What a use case decides on a session record: the change to commit (none: nothing to write), and its own answer. */
export interface SessionDecision<A> {
  readonly change?: Omit<SessionChange, "expectedVersion">
  readonly result: A
  /**
   * What ends the session, when the change ends it other than by one of its events (the
   * gateway's own end): the session's timeline names it. Without it, the event that ended it.
   */
  readonly endTrigger?: EndTrigger
  /**
   * Timeline entries of what the change applied (the events received and dropped with it):
   * recorded once it commits, before the state it moved the session to, so that a cause is
   * never listed after its effect.
   */
  readonly entries?: ReadonlyArray<TimelineEntryInput>
}

/**
 * How every use case changes a session: a compare-and-set on the record, recomputed from the
 * fresh record on a conflict. The use cases' own; nothing outside src/gateway changes a session.
 */
export interface SessionChangesService {
  /**
   * Reads the session, lets `decide` compute a change from it, and commits it with a
   * compare-and-set, starting over from the fresh record on a conflict (a bounded number of
   * times, then StoreUnavailable). "duplicate" when the store refused the change's events as
   * already seen.
   */
  readonly change: <A, E>(
    sessionId: string,
    decide: (session: SessionRecord) => Effect.Effect<SessionDecision<A>, E>,
    /** The record as the caller just read it: the first attempt starts from it instead of reading again. */
    known?: SessionRecord
  ) => Effect.Effect<A | "duplicate", E | SessionNotFound | StoreUnavailable>
  /**
   * Ends a session on the gateway's side (user, timeout) with `transition`, appending its
   * session.ended event, and tells the provider, best effort. The ended record, or undefined
   * when the session.ended event had been committed already. `trigger` (the timeout, or the
   * call to the gateway) goes into the session's timeline.
   */
  readonly end: (
    sessionId: string,
    reason: EndReason,
    transition: (session: SessionRecord, now: string) => Transition,
    trigger: EndTrigger
  ) => Effect.Effect<SessionRecord | undefined, InvalidTransition | SessionNotFound | StoreUnavailable>
}

export class SessionChanges extends Context.Tag("hbf-lcg/SessionChanges")<SessionChanges, SessionChangesService>() {}

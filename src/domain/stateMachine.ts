/**
 * The session state machine (docs/ARCHITECTURE.md#the-session-state-machine): pending -> active
 * -> ended, pending -> ended, active -> pending when an agent hands the chat back to the queue.
 * `ended` is final. Pure: the store applies the result with a compare-and-set on `version`.
 */
import type { EndReason, EventBody, SessionRecord, SessionStatus } from "./model.js"

export type Transition =
  | { readonly _tag: "Apply"; readonly next: SessionRecord }
  | { readonly _tag: "Drop"; readonly reason: string }

const apply = (next: SessionRecord): Transition => ({ _tag: "Apply", next })
const drop = (reason: string): Transition => ({ _tag: "Drop", reason })

export const isOpen = (status: SessionStatus): boolean => status !== "ended"

const end = (session: SessionRecord, reason: EndReason, now: string): SessionRecord => {
  const { position: _p, estimatedWaitSeconds: _e, ...rest } = session
  return { ...rest, status: "ended", endedAt: now, endReason: reason, lastActivityAt: now }
}

/** An agent event applied to a session; `now` is the gateway's clock (ISO), not the provider's. */
export const applyEvent = (session: SessionRecord, event: EventBody, now: string): Transition => {
  if (session.status === "ended") return drop(`session ${session.sessionId} has ended`)
  const touched = { ...session, lastActivityAt: now }
  switch (event.type) {
    case "request.queued": {
      const { agent: _a, position: _p, estimatedWaitSeconds: _e, ...rest } = touched
      return apply({
        ...rest,
        status: "pending",
        ...(event.data.position !== undefined ? { position: event.data.position } : {}),
        ...(event.data.estimatedWaitSeconds !== undefined
          ? { estimatedWaitSeconds: event.data.estimatedWaitSeconds }
          : {})
      })
    }
    case "agent.joined":
      // The same join seen twice (a provider's notification and its later re-read) is one join.
      // A join naming nobody (Sunshine's acceptControl) adds nothing while an agent has the chat.
      return session.status === "active" && (sameAgent(session.agent, event.data.agent) || anonymous(event.data.agent))
        ? drop("the agent already has the chat")
        : apply(activate(touched, event.data.agent, now))
    case "agent.message":
      // A message can only come from an agent who has the chat: it implies the join.
      return apply(session.status === "pending" ? activate(touched, event.data.agent, now) : touched)
    case "agent.typing":
      return session.status === "active" ? apply(touched) : drop("typing before an agent joined")
    case "agent.left": {
      if (session.status !== "active") return drop("agent left before joining")
      if (
        event.data.agent?.id !== undefined && session.agent?.id !== undefined &&
        event.data.agent.id !== session.agent.id
      ) {
        return drop("another agent has the chat")
      }
      const { agent: _a, ...rest } = touched
      return apply(rest)
    }
    case "session.ended":
      return apply(end(session, event.data.reason, now))
    case "request.failed":
      return apply(end(session, "provider", now))
  }
}

/** The same agent: by id where either side has one, else by name (Sunshine and CCP name their agents only). */
const sameAgent = (a: SessionRecord["agent"], b: SessionRecord["agent"]) =>
  a?.id !== undefined || b?.id !== undefined ? a?.id === b?.id : a?.name !== undefined && a.name === b?.name

const anonymous = (agent: SessionRecord["agent"]) => agent?.id === undefined && agent?.name === undefined

const activate = (session: SessionRecord, agent: SessionRecord["agent"], now: string): SessionRecord => {
  const { position: _p, estimatedWaitSeconds: _e, agent: previous, ...rest } = session
  const who = agent ?? previous
  return {
    ...rest,
    status: "active",
    // The first assignment counts for the waiting time; a requeue does not reset it.
    assignedAt: session.assignedAt ?? now,
    ...(who !== undefined ? { agent: who } : {})
  }
}

/** The user (through hbf-bot) ends the session: DELETE, cancel, or a timeout of the sweeper. */
export const endByGateway = (session: SessionRecord, reason: EndReason, now: string): Transition =>
  session.status === "ended" ? drop(`session ${session.sessionId} has ended`) : apply(end(session, reason, now))

/** PATCH status "cancelled": only a request still waiting for an agent can be cancelled. */
export const cancel = (session: SessionRecord, now: string): Transition =>
  session.status === "pending"
    ? apply(end(session, "user", now))
    : drop(`cannot cancel a session that is ${session.status}`)

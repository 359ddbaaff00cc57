/**
 * The session state machine (docs/ARCHITECTURE.md#the-session-state-machine): pending -> active
 * -> ended, pending -> ended, active -> pending when an agent hands the chat back to the queue.
 * `ended` is final. Pure: the store applies the result with a compare-and-set on `version`.
 */
import type { Agent, EndReason, EventBody, QueueSource, SessionRecord, SessionStatus } from "./model.js"
import type { DropReason } from "./timeline.js"

/**
 * A transition refused: why (for the log), and how a session's timeline names it (`as`):
 * `session-ended`; `stale`, the session already is where the event would take it (a join seen
 * twice, a warning whose state is over); `out-of-order`, the event presumes one not seen yet
 * (typing, a read or a leave before the join, a handback by another agent than the one with the chat).
 */
type Drop = {
  readonly _tag: "Drop"
  readonly reason: string
  readonly as: Extract<DropReason, "stale" | "out-of-order" | "session-ended">
}

export type Transition = { readonly _tag: "Apply"; readonly next: SessionRecord } | Drop

const apply = (next: SessionRecord): Transition => ({ _tag: "Apply", next })
const drop = (reason: string, as: Drop["as"]): Drop => ({ _tag: "Drop", reason, as })

export const isOpen = (status: SessionStatus): boolean => status !== "ended"

const end = (session: SessionRecord, reason: EndReason, now: string): SessionRecord => {
  const { position: _p, estimatedWaitSeconds: _e, queueSource: _s, ...rest } = session
  return { ...rest, status: "ended", endedAt: now, endReason: reason, lastActivityAt: now }
}

/** The queue figures a `request.queued` tells, replacing the session's (all of them: figures from two sources never mix). */
const withQueueFigures = (session: SessionRecord, figures: QueueFigures): SessionRecord => {
  const { position: _p, estimatedWaitSeconds: _e, queueSource: _s, ...rest } = session
  return {
    ...rest,
    ...(figures.position !== undefined ? { position: figures.position } : {}),
    ...(figures.estimatedWaitSeconds !== undefined ? { estimatedWaitSeconds: figures.estimatedWaitSeconds } : {}),
    ...(figures.source !== undefined && (figures.position !== undefined || figures.estimatedWaitSeconds !== undefined)
      ? { queueSource: figures.source }
      : {})
  }
}

type QueueFigures = {
  readonly position?: number | undefined
  readonly estimatedWaitSeconds?: number | undefined
  readonly source?: QueueSource | undefined
}

/** An event applied: the session after it, and the event as delivered (its agent completed from the session). */
export type EventTransition<E extends EventBody> =
  | { readonly _tag: "Apply"; readonly next: SessionRecord; readonly event: E }
  | Drop

/**
 * An agent event applied to a session; `now` is the gateway's clock (ISO), not the provider's.
 * Every event that concerns an agent is delivered naming the agent as fully as anything told
 * it: what the provider said, completed from the session's agent when it is the same one or the
 * provider named nobody (Genesys names a leaving agent by id only, Sunshine and Genesys name no
 * typist, Sunshine's handback names nobody).
 */
export const applyEvent = <E extends EventBody>(session: SessionRecord, event: E, now: string): EventTransition<E> => {
  if (session.status === "ended") return drop(`session ${session.sessionId} has ended`, "session-ended")
  const touched = { ...session, lastActivityAt: now }
  const applied = (next: SessionRecord, agent?: Agent): EventTransition<E> => ({
    _tag: "Apply",
    next,
    event: agent === undefined ? event : { ...event, data: { ...event.data, agent } }
  })
  switch (event.type) {
    case "request.queued": {
      // Still waiting: new queue figures, which are no activity of the user or an agent (the
      // timeouts run on), and never move the session.
      if (session.status === "pending") {
        return event.data.position === undefined && event.data.estimatedWaitSeconds === undefined
          ? drop("the request is already queued", "stale")
          : applied(withQueueFigures(session, event.data))
      }
      // Handed back by an agent other than the one with the chat: that one joined before the
      // handback was seen (a transfer seen out of order), and keeps the chat.
      const holder = agentWithChat(session)
      if (anotherAgent(holder, event.data.agent)) return drop("another agent has the chat", "out-of-order")
      // Back in the queue: whoever had the chat has left it, and stays the session's last agent.
      const rest = touched
      const handedBackBy = event.data.agent !== undefined ? completed(holder, event.data.agent) : undefined
      return applied(
        withQueueFigures({
          ...rest,
          status: "pending",
          ...(session.agent !== undefined ? { agentLeftAt: session.agentLeftAt ?? now } : {})
        }, event.data),
        handedBackBy
      )
    }
    case "agent.joined": {
      // The same join seen twice (a provider's notification and its later re-read) is one join.
      // A join naming nobody (Sunshine's acceptControl) adds nothing while an agent has the chat.
      const holder = agentWithChat(session)
      if (holder !== undefined && (sameAgent(holder, event.data.agent) || anonymous(event.data.agent))) {
        return drop("the agent already has the chat", "stale")
      }
      // The agent who left coming back is named as fully as the session knew them.
      const agent = session.agent !== undefined ? merged(session.agent, event.data.agent) : event.data.agent
      return applied(activate(touched, agent, now), agent)
    }
    case "agent.message": {
      // A message can only come from an agent who has the chat: it implies the join.
      const agent = completed(agentWithChat(session), event.data.agent)
      return applied(session.status === "pending" ? activate(touched, agent, now) : touched, agent)
    }
    case "agent.typing":
      return session.status === "active"
        ? applied(touched, completed(agentWithChat(session), event.data.agent))
        : drop("typing before an agent joined", "out-of-order")
    case "agent.left": {
      if (session.status !== "active") return drop("agent left before joining", "out-of-order")
      const holder = agentWithChat(session)
      if (session.agentLeftAt !== undefined) return drop("the agent already left", "stale")
      if (anotherAgent(holder, event.data.agent)) return drop("another agent has the chat", "out-of-order")
      const agent = completed(holder, event.data.agent)
      return applied({ ...touched, ...(agent !== undefined ? { agent } : {}), agentLeftAt: now }, agent)
    }
    case "agent.read":
      return session.status === "active"
        ? applied(touched, completed(agentWithChat(session), event.data.agent))
        : drop("a read receipt before an agent joined", "out-of-order")
    // The gateway's own warnings: no activity, sent only in the state they warn about.
    case "request.wait-warning":
      return session.status === "pending" ? applied(session) : drop("the request is no longer waiting", "stale")
    case "session.inactivity-warning":
      return session.status === "active" ? applied(session) : drop("no agent has the chat", "stale")
    case "session.ended":
      return applied(end(session, event.data.reason, now))
    case "request.failed":
      return applied(end(session, "provider", now))
  }
}

/** The agent who has the chat now, if known. */
const agentWithChat = (session: SessionRecord): Agent | undefined =>
  session.status === "active" && session.agentLeftAt === undefined ? session.agent : undefined

/**
 * Two descriptions of one agent: the same id where both have one, else the same name where both
 * have one (Sunshine and CCP name their agents only; a Genesys leave gives the id only).
 */
const sameAgent = (a: Agent, b: Agent) =>
  a.id !== undefined && b.id !== undefined ? a.id === b.id : a.name !== undefined && a.name === b.name

const anonymous = (agent: Agent | undefined) => agent?.id === undefined && agent?.name === undefined

/** An event about an agent (a leave, a handback) names someone other than the agent with the chat. */
const anotherAgent = (holder: Agent | undefined, told: Agent | undefined) =>
  holder !== undefined && told !== undefined && !anonymous(holder) && !anonymous(told) && !sameAgent(holder, told)

/** Both merged (the newer description's fields first) when they describe the same agent, else the newer alone. */
const merged = (known: Agent, told: Agent): Agent => sameAgent(known, told) ? { ...known, ...told } : told

/**
 * What an event says of the agent who has the chat, completed by what the session knows: the
 * session's agent when the event names nobody, else both merged when they are one agent.
 */
const completed = (known: Agent | undefined, told: Agent | undefined): Agent | undefined =>
  known === undefined || anonymous(known)
    ? told
    : told === undefined || anonymous(told)
    ? { ...known, ...told }
    : merged(known, told)

const activate = (session: SessionRecord, agent: Agent | undefined, now: string): SessionRecord => {
  const { position: _p, estimatedWaitSeconds: _e, queueSource: _s, agent: _previous, agentLeftAt: _left, ...rest } =
    session
  return {
    ...rest,
    status: "active",
    // The first assignment counts for the waiting time; a requeue does not reset it.
    assignedAt: session.assignedAt ?? now,
    ...(agent !== undefined ? { agent } : {})
  }
}

/** The user (through hbf-bot) ends the session: DELETE, cancel, or a timeout of the sweeper. */
export const endByGateway = (session: SessionRecord, reason: EndReason, now: string): Transition =>
  session.status === "ended"
    ? drop(`session ${session.sessionId} has ended`, "session-ended")
    : apply(end(session, reason, now))

/** PATCH status "cancelled": only a request still waiting for an agent can be cancelled. */
export const cancel = (session: SessionRecord, now: string): Transition =>
  session.status === "pending"
    ? apply(end(session, "user", now))
    : drop(`cannot cancel a session that is ${session.status}`, "stale")

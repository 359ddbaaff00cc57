import { describe, expect, it } from "@effect/vitest"
import type { EventBody, SessionRecord } from "../../src/domain/model.js"
import {
  applyEvent,
  cancel,
  endByGateway,
  type EventTransition,
  type Transition
} from "../../src/domain/stateMachine.js"

const T0 = "2026-01-01T10:00:00.000Z"
const T1 = "2026-01-01T10:01:00.000Z"
const T2 = "2026-01-01T10:02:00.000Z"
const T3 = "2026-01-01T10:03:00.000Z"

const pending: SessionRecord = {
  sessionId: "s1",
  tenantId: "t1",
  organizationId: "org1",
  subHandle: "sub1",
  provider: "helvia-livechat",
  status: "pending",
  createdAt: T0,
  lastActivityAt: T0,
  version: 0,
  lastSeq: 0,
  position: 3,
  estimatedWaitSeconds: 60
}

const applied = (t: Transition): SessionRecord => {
  if (t._tag !== "Apply") throw new Error(`expected Apply, got Drop: ${t.reason}`)
  return t.next
}

const joined = (name = "Alice"): EventBody => ({ type: "agent.joined", data: { agent: { id: "a1", name } } })

describe("applyEvent", () => {
  it("agent.joined moves pending to active and sets assignedAt", () => {
    const next = applied(applyEvent(pending, joined(), T1))
    expect(next.status).toBe("active")
    expect(next.assignedAt).toBe(T1)
    expect(next.lastActivityAt).toBe(T1)
    expect(next.agent).toEqual({ id: "a1", name: "Alice" })
    expect(next.position).toBeUndefined()
    expect(next.estimatedWaitSeconds).toBeUndefined()
  })

  it("keeps assignedAt through a requeue and a second join", () => {
    const active = applied(applyEvent(pending, joined(), T1))
    const requeued = applied(applyEvent(active, { type: "request.queued", data: { position: 1 } }, T2))
    expect(requeued.status).toBe("pending")
    // The agent who had the chat stays the session's last agent, marked as gone.
    expect(requeued.agent).toEqual({ id: "a1", name: "Alice" })
    expect(requeued.agentLeftAt).toBe(T2)
    expect(requeued.position).toBe(1)
    expect(requeued.assignedAt).toBe(T1)
    const again = applied(applyEvent(requeued, joined("Bob"), T3))
    expect(again.status).toBe("active")
    expect(again.assignedAt).toBe(T1)
    expect(again.agent?.name).toBe("Bob")
    expect(again.agentLeftAt).toBeUndefined()
  })

  it("agent.message in pending implies the join", () => {
    const next = applied(
      applyEvent(pending, { type: "agent.message", data: { text: "hi", agent: { name: "Carol" } } }, T1)
    )
    expect(next.status).toBe("active")
    expect(next.assignedAt).toBe(T1)
    expect(next.agent).toEqual({ name: "Carol" })
  })

  it("agent.message in active keeps the status and assignedAt", () => {
    const active = applied(applyEvent(pending, joined(), T1))
    const next = applied(applyEvent(active, { type: "agent.message", data: { text: "hi" } }, T2))
    expect(next.status).toBe("active")
    expect(next.assignedAt).toBe(T1)
    expect(next.lastActivityAt).toBe(T2)
    expect(next.agent).toEqual({ id: "a1", name: "Alice" })
  })

  it("drops typing in pending, applies it in active", () => {
    expect(applyEvent(pending, { type: "agent.typing", data: { typing: true } }, T1)._tag).toBe("Drop")
    const active = applied(applyEvent(pending, joined(), T1))
    expect(applied(applyEvent(active, { type: "agent.typing", data: { typing: true } }, T2)).lastActivityAt).toBe(T2)
  })

  it("agent.left keeps the session active and its agent as the last one, marked as gone; a second leave is dropped", () => {
    const active = applied(applyEvent(pending, joined(), T1))
    const next = applied(applyEvent(active, { type: "agent.left", data: {} }, T2))
    expect(next.status).toBe("active")
    expect(next.agent).toEqual({ id: "a1", name: "Alice" })
    expect(next.agentLeftAt).toBe(T2)
    expect(next.assignedAt).toBe(T1)
    expect(applyEvent(next, { type: "agent.left", data: {} }, T3)).toEqual({
      _tag: "Drop",
      reason: "the agent already left",
      as: "stale"
    })
    // The same agent coming back joins again.
    const back = applied(applyEvent(next, joined(), T3))
    expect(back.agentLeftAt).toBeUndefined()
    expect(back.agent).toEqual({ id: "a1", name: "Alice" })
  })

  it("the same agent joining twice is one join; another agent joining takes the chat over", () => {
    const active = applied(applyEvent(pending, joined(), T1))
    expect(applyEvent(active, joined(), T2)).toEqual({
      _tag: "Drop",
      reason: "the agent already has the chat",
      as: "stale"
    })
    const takenOver = applied(
      applyEvent(active, { type: "agent.joined", data: { agent: { id: "a2", name: "Bob" } } }, T2)
    )
    expect(takenOver.agent).toEqual({ id: "a2", name: "Bob" })
    expect(takenOver.assignedAt).toBe(T1)
  })

  it("agents known by name only (Sunshine, CCP): the same name joining again is one join, another name takes over", () => {
    const byName = (name: string) => ({ type: "agent.joined" as const, data: { agent: { name } } })
    const withMaria = applied(applyEvent(pending, byName("Maria"), T1))
    expect(applyEvent(withMaria, byName("Maria"), T2)._tag).toBe("Drop")
    expect(applied(applyEvent(withMaria, byName("John"), T2)).agent).toEqual({ name: "John" })
    // A join naming nobody adds nothing while an agent has the chat; one naming the agent does.
    const anonymous = applied(applyEvent(pending, { type: "agent.joined", data: { agent: {} } }, T1))
    expect(applyEvent(anonymous, { type: "agent.joined", data: { agent: {} } }, T2)._tag).toBe("Drop")
    expect(applyEvent(withMaria, { type: "agent.joined", data: { agent: {} } }, T2)._tag).toBe("Drop")
    expect(applied(applyEvent(anonymous, byName("Maria"), T2)).agent).toEqual({ name: "Maria" })
  })

  it("an agent leaving is dropped when another agent has the chat", () => {
    const withBob = applied(
      applyEvent(pending, { type: "agent.joined", data: { agent: { id: "a2", name: "Bob" } } }, T1)
    )
    expect(applyEvent(withBob, { type: "agent.left", data: { agent: { id: "a1" } } }, T2)._tag).toBe("Drop")
    expect(applied(applyEvent(withBob, { type: "agent.left", data: { agent: { id: "a2" } } }, T2)).agentLeftAt)
      .toBe(T2)
  })

  it("agent.left in pending is dropped", () => {
    expect(applyEvent(pending, { type: "agent.left", data: {} }, T1)._tag).toBe("Drop")
  })

  it("request.queued after a transfer returns to pending", () => {
    const active = applied(applyEvent(pending, joined(), T1))
    const left = applied(applyEvent(active, { type: "agent.left", data: {} }, T2))
    const queued = applied(applyEvent(left, { type: "request.queued", data: {} }, T2))
    expect(queued.status).toBe("pending")
    expect(queued.assignedAt).toBe(T1)
  })

  it("session.ended sets endedAt and endReason", () => {
    const active = applied(applyEvent(pending, joined(), T1))
    const ended = applied(applyEvent(active, { type: "session.ended", data: { reason: "agent" } }, T2))
    expect(ended.status).toBe("ended")
    expect(ended.endedAt).toBe(T2)
    expect(ended.endReason).toBe("agent")
  })

  it("request.failed ends with reason provider", () => {
    const ended = applied(applyEvent(pending, { type: "request.failed", data: { reason: "missed" } }, T1))
    expect(ended.status).toBe("ended")
    expect(ended.endedAt).toBe(T1)
    expect(ended.endReason).toBe("provider")
    expect(ended.position).toBeUndefined()
  })

  it("drops everything on an ended session", () => {
    const ended = applied(applyEvent(pending, { type: "session.ended", data: { reason: "agent" } }, T1))
    const events: ReadonlyArray<EventBody> = [
      { type: "request.queued", data: {} },
      joined(),
      { type: "agent.message", data: { text: "x" } },
      { type: "agent.typing", data: { typing: true } },
      { type: "agent.left", data: {} },
      { type: "session.ended", data: { reason: "agent" } },
      { type: "request.failed", data: { reason: "missed" } }
    ]
    for (const event of events) expect(applyEvent(ended, event, T2)._tag).toBe("Drop")
    expect(endByGateway(ended, "user", T2)._tag).toBe("Drop")
    expect(cancel(ended, T2)._tag).toBe("Drop")
  })
})

describe("cancel", () => {
  it("ends a pending session with reason user", () => {
    const ended = applied(cancel(pending, T1))
    expect(ended.status).toBe("ended")
    expect(ended.endReason).toBe("user")
    expect(ended.endedAt).toBe(T1)
  })

  it("refuses an active session", () => {
    const active = applied(applyEvent(pending, joined(), T1))
    expect(cancel(active, T2)._tag).toBe("Drop")
  })
})

describe("endByGateway", () => {
  it("ends pending and active sessions with the given reason", () => {
    expect(applied(endByGateway(pending, "timeout", T1))).toMatchObject({
      status: "ended",
      endReason: "timeout",
      endedAt: T1
    })
    const active = applied(applyEvent(pending, joined(), T1))
    expect(applied(endByGateway(active, "inactivity", T2))).toMatchObject({
      status: "ended",
      endReason: "inactivity",
      endedAt: T2,
      assignedAt: T1
    })
  })
})

describe("the agent an event names", () => {
  const delivered = <E extends EventBody>(t: EventTransition<E>) => {
    if (t._tag !== "Apply") throw new Error(`expected Apply, got Drop: ${t.reason}`)
    return t.event.data
  }
  const maria = { id: "u-1", name: "Maria", avatarUrl: "https://cdn.example/maria.png" }
  const withMaria = applied(applyEvent(pending, { type: "agent.joined", data: { agent: maria } }, T1))

  it("typing, messages and the leave name the agent who has the chat as fully as the join did", () => {
    // Genesys: typing and messages name nobody, the leave names the user id only.
    expect(delivered(applyEvent(withMaria, { type: "agent.typing", data: { typing: true } }, T2)))
      .toEqual({ typing: true, agent: maria })
    expect(delivered(applyEvent(withMaria, { type: "agent.message", data: { text: "hi" } }, T2)))
      .toEqual({ text: "hi", agent: maria })
    expect(delivered(applyEvent(withMaria, { type: "agent.left", data: { agent: { id: "u-1" } } }, T2)))
      .toEqual({ agent: maria })
    // Zendesk's handback names nobody.
    expect(delivered(applyEvent(withMaria, { type: "agent.left", data: {} }, T2))).toEqual({ agent: maria })
  })

  it("what the provider says now wins over what the session knew, for the same agent", () => {
    const renamed = applyEvent(withMaria, {
      type: "agent.message",
      data: { text: "hi", agent: { id: "u-1", name: "Maria K." } }
    }, T2)
    expect(delivered(renamed)).toEqual({ text: "hi", agent: { ...maria, name: "Maria K." } })
    // Known by name only (CCP, Sunshine): the same name is the same agent.
    const byName = applied(applyEvent(pending, { type: "agent.joined", data: { agent: { name: "Ana" } } }, T1))
    expect(delivered(applyEvent(byName, { type: "agent.left", data: { agent: { name: "Ana" } } }, T2)))
      .toEqual({ agent: { name: "Ana" } })
    expect(
      delivered(applyEvent(byName, {
        type: "agent.typing",
        data: { typing: false, agent: { name: "Ana", avatarUrl: "https://cdn.example/ana.png" } }
      }, T2))
    ).toEqual({ typing: false, agent: { name: "Ana", avatarUrl: "https://cdn.example/ana.png" } })
  })

  it("a message from another agent is theirs, not the session's agent's", () => {
    expect(
      delivered(applyEvent(withMaria, { type: "agent.message", data: { text: "hi", agent: { name: "John" } } }, T2))
    ).toEqual({ text: "hi", agent: { name: "John" } })
  })

  it("after a requeue, a join naming nobody is not named after the agent who left", () => {
    const requeued = applied(applyEvent(withMaria, { type: "request.queued", data: {} }, T2))
    expect(delivered(applyEvent(requeued, { type: "agent.joined", data: { agent: {} } }, T3))).toEqual({ agent: {} })
    // The agent who left coming back by id is named in full.
    expect(delivered(applyEvent(requeued, { type: "agent.joined", data: { agent: { id: "u-1" } } }, T3)))
      .toEqual({ agent: maria })
  })

  it("a transfer seen out of order (the new agent joins before the old one's leave and handback arrive) leaves the chat with the new agent", () => {
    const bob = { id: "u-2", name: "Bob" }
    const withBob = applied(applyEvent(withMaria, { type: "agent.joined", data: { agent: bob } }, T2))
    // Genesys: the old agent's leave and its requeue name the old agent by id.
    expect(applyEvent(withBob, { type: "agent.left", data: { agent: { id: "u-1" } } }, T3)._tag).toBe("Drop")
    expect(applyEvent(withBob, { type: "request.queued", data: { agent: { id: "u-1" } } }, T3)).toEqual({
      _tag: "Drop",
      reason: "another agent has the chat",
      as: "out-of-order"
    })
    expect(delivered(applyEvent(withBob, { type: "agent.message", data: { text: "hi" } }, T3)))
      .toEqual({ text: "hi", agent: bob })
    // In order, the handback names who handed it back, as fully as known.
    expect(delivered(applyEvent(withMaria, { type: "request.queued", data: { agent: { id: "u-1" } } }, T2)))
      .toEqual({ agent: maria })
  })

  it("a leave naming another agent by name only (CCP) is dropped: the agent with the chat keeps it", () => {
    const withAna = applied(applyEvent(pending, { type: "agent.joined", data: { agent: { name: "Ana" } } }, T1))
    expect(applyEvent(withAna, { type: "agent.left", data: { agent: { name: "Bert" } } }, T2)._tag).toBe("Drop")
  })

  it("the session keeps its last agent after the agent left and the session ended", () => {
    const left = applied(applyEvent(withMaria, { type: "agent.left", data: { agent: { id: "u-1" } } }, T2))
    const ended = applied(applyEvent(left, { type: "session.ended", data: { reason: "agent" } }, T3))
    expect(ended.status).toBe("ended")
    expect(ended.agent).toEqual(maria)
  })
})

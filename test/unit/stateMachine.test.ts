import { describe, expect, it } from "@effect/vitest"
import type { EventBody, SessionRecord } from "../../src/domain/model.js"
import { applyEvent, cancel, endByGateway, type Transition } from "../../src/domain/stateMachine.js"

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
    expect(requeued.agent).toBeUndefined()
    expect(requeued.position).toBe(1)
    expect(requeued.assignedAt).toBe(T1)
    const again = applied(applyEvent(requeued, joined("Bob"), T3))
    expect(again.status).toBe("active")
    expect(again.assignedAt).toBe(T1)
    expect(again.agent?.name).toBe("Bob")
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

  it("agent.left keeps the session active and clears the agent", () => {
    const active = applied(applyEvent(pending, joined(), T1))
    const next = applied(applyEvent(active, { type: "agent.left", data: {} }, T2))
    expect(next.status).toBe("active")
    expect(next.agent).toBeUndefined()
    expect(next.assignedAt).toBe(T1)
  })

  it("the same agent joining twice is one join; another agent joining takes the chat over", () => {
    const active = applied(applyEvent(pending, joined(), T1))
    expect(applyEvent(active, joined(), T2)).toEqual({ _tag: "Drop", reason: "the agent already has the chat" })
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
    expect(applied(applyEvent(withBob, { type: "agent.left", data: { agent: { id: "a2" } } }, T2)).agent)
      .toBeUndefined()
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

/**
 * Cisco CCP livechats end to end: the real gateway polling the CCP simulator
 * (sandbox/cisco/, which follows docs/PROVIDERS.md#cisco-ccp-chat) over HTTP with XML bodies.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { demoCisco } from "../../sandbox/demoTenants.js"
import { eventually } from "../eventually.js"
import {
  agentsNamed,
  eventsReach,
  type Gateway,
  livechatRequest,
  metricValue,
  startGateway,
  stores,
  typesOf
} from "./harness.js"

const tenantId = "demo-cisco"
const request = (subHandle: string) => livechatRequest(tenantId, subHandle)

/** A gateway polling every `pollMs` (fast by default, so tests do not wait out 5 s intervals). */
const startCiscoGateway = (store: (typeof stores)[number], pollMs = 200) =>
  startGateway({ store, configure: (config) => ({ ...config, ciscoPollIntervalMs: pollMs }) })

const open = (gw: Gateway, subHandle: string) =>
  Effect.gen(function*() {
    const created = yield* gw.call("POST", "/requests", request(subHandle))
    expect(created.status).toBe(201)
    const sessionId: string = created.body.sessionId
    const chat = gw.cisco.chatWith("hbfSessionId", sessionId)!
    expect(created.body.providerConversationId).toBe(chat.chatId)
    return { sessionId, chatId: chat.chatId }
  })

describe.each(stores)("%s store", (store) => {
  it.live(
    "a whole CCP livechat: the chat carries the queue tag and transcript; agent joins, both sides write, agent leaves",
    () =>
      Effect.gen(function*() {
        const gw = yield* startCiscoGateway(store)
        const { chatId, sessionId } = yield* open(gw, "alice")
        const chat = gw.cisco.chatWith("hbfSessionId", sessionId)!
        expect(chat).toMatchObject({ author: "Alice", feedId: demoCisco.feedId, state: "waiting" })
        expect(chat.extensionFields).toMatchObject({
          ccxqueuetag: demoCisco.queueTag,
          hbfSubscriber: "alice",
          userEmail: "alice@example.com",
          "metadata.plan": "basic"
        })
        expect(chat.extensionFields["transcript"]).toContain("user: I need help with my plan")

        yield* gw.cisco.agentJoin(chatId, "Maria")
        yield* eventsReach(gw, sessionId, 2)
        // Through the typed client, as hbf-bot calls it.
        const sent = yield* gw.lcg.forwardMessage({
          payload: { tenantId, subHandle: "alice", messageId: "m1", text: "It blinks red & green, 1+1 times" }
        })
        expect(sent).toEqual({ messageId: "m1", sessionId, delivery: { parts: 1 } })
        expect(gw.cisco.chatWith("hbfSessionId", sessionId)!.customerMessages).toEqual([
          "It blinks red & green, 1+1 times"
        ])
        const typing = yield* gw.lcg.userTyping({ payload: { tenantId, subHandle: "alice" } })
        expect(typing).toEqual({ sessionId, forwarded: true })
        expect(gw.cisco.chatWith("hbfSessionId", sessionId)!.customerTyping).toEqual(["composing"])

        yield* gw.cisco.agentTyping(chatId, "composing")
        yield* gw.cisco.agentSay(chatId, "Καλημέρα Alice: try 1+1 & reboot")
        yield* gw.cisco.agentLeave(chatId)
        yield* eventually(
          "the end delivered",
          Effect.sync(() => typesOf(gw, sessionId)),
          (types) => types.includes("session.ended")
        )
        const events = gw.bot.eventsOf(sessionId)
        expect(events.map((e) => [e.type, e.seq])).toEqual([
          ["request.queued", 1],
          ["agent.joined", 2],
          ["agent.typing", 3],
          ["agent.message", 4],
          ["agent.left", 5],
          ["session.ended", 6]
        ])
        expect(events[0]!.data).toEqual({ position: 1, source: "gateway" })
        expect(events[1]!.data).toEqual({ agent: { name: "Maria" } })
        expect(events[3]!.data).toEqual({ text: "Καλημέρα Alice: try 1+1 & reboot", agent: { name: "Maria" } })
        expect(events[5]!.data).toEqual({ reason: "agent" })
        expect(agentsNamed(events)).toEqual(Array(4).fill({ name: "Maria" }))
        const ended = yield* gw.call("GET", "/subscribers/alice/livechat-state")
        expect(ended.body).toMatchObject({ state: "ended", session: { agent: { name: "Maria" } } })
        // The cursor was kept with the session, and the poller stopped with it.
        yield* Effect.sleep(Duration.millis(600))
        const polls = gw.cisco.chatWith("hbfSessionId", sessionId)!.polls
        yield* Effect.sleep(Duration.millis(600))
        expect(gw.cisco.chatWith("hbfSessionId", sessionId)!.polls).toBe(polls)
      }).pipe(Effect.scoped),
    30_000
  )
})

describe("CCP polling and faults", () => {
  it.live(
    "a user message or typing to a chat CCP has ended, before the gateway polled it, ends the session there: 409 SessionEnded (not 502), and hbf-bot gets the end",
    () =>
      Effect.gen(function*() {
        // Polls far apart: only the message's own answer can tell the gateway the chat is over.
        const gw = yield* startCiscoGateway("memory", 60_000)
        for (const [subHandle, call] of [["gina", "/messages"], ["hugo", "/typing"]] as const) {
          const { chatId, sessionId } = yield* open(gw, subHandle)
          yield* Effect.sleep(Duration.millis(300))
          yield* gw.cisco.agentJoin(chatId, "Maria")
          yield* gw.cisco.agentLeave(chatId)
          const answer = yield* gw.call("POST", call, { tenantId, subHandle, messageId: "m1", text: "still there?" })
          expect(answer.status).toBe(409)
          expect(answer.body).toMatchObject({ error: "SessionEnded", sessionId })
          const state = yield* gw.call("GET", `/subscribers/${subHandle}/livechat-state?tenantId=${tenantId}`)
          expect(state.body).toMatchObject({ state: "ended", session: { endReason: "agent" } })
          yield* eventsReach(gw, sessionId, 4)
          expect(typesOf(gw, sessionId)).toEqual(["request.queued", "agent.joined", "agent.left", "session.ended"])
          // The same message again: the session is over, it says so.
          expect((yield* gw.call("POST", call, { tenantId, subHandle, messageId: "m1", text: "still there?" })).status)
            .toBe(409)
        }
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "a user message makes the owner poll at once: an agent answer waiting at CCP arrives long before the 5 s interval",
    () =>
      Effect.gen(function*() {
        const gw = yield* startCiscoGateway("memory", 5_000)
        const { chatId, sessionId } = yield* open(gw, "bob")
        yield* gw.cisco.agentJoin(chatId, "Maria")
        yield* gw.cisco.agentSay(chatId, "Hello Bob")
        // Right after the create's own early poll, nothing new is polled for 5 s...
        yield* Effect.sleep(Duration.millis(300))
        const before = typesOf(gw, sessionId).length
        const sentAt = Date.now()
        yield* gw.call("POST", "/messages", { tenantId, subHandle: "bob", messageId: "m1", text: "hi" })
        yield* eventually(
          "the answer delivered",
          Effect.sync(() => typesOf(gw, sessionId)),
          (types) => types.includes("agent.message"),
          Duration.seconds(3)
        )
        expect(Date.now() - sentAt).toBeLessThan(2_000)
        // The request's figures, and at most the join.
        expect(before).toBeLessThanOrEqual(3)
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "a poll answer of more events than CISCO_MAX_EVENTS_PER_POLL reaches hbf-bot whole over the next polls: in order, none lost, none twice, long before the interval",
    () =>
      Effect.gen(function*() {
        const gw = yield* startGateway({
          configure: (config) => ({ ...config, ciscoPollIntervalMs: 60_000, ciscoMaxEventsPerPoll: 100 })
        })
        const { chatId, sessionId } = yield* open(gw, "frank")
        yield* Effect.sleep(Duration.millis(300))
        yield* gw.cisco.agentJoin(chatId, "Maria")
        const texts = Array.from({ length: 450 }, (_, i) => `answer ${i}`)
        for (const text of texts) yield* gw.cisco.agentSay(chatId, text)
        const pollsBefore = gw.cisco.chatWith("hbfSessionId", sessionId)!.polls
        const pollCycles = Effect.map(gw.call("GET", "/metrics"), (m) =>
          metricValue(m.body as string, "lcg_poll_cycles_total", "poller=\"cisco-poller\",outcome=\"ok\""))
        const cyclesBefore = yield* pollCycles
        const sentAt = Date.now()
        // A user message asks for a poll now: CCP answers the join and the 450 messages at once.
        yield* gw.call("POST", "/messages", { tenantId, subHandle: "frank", messageId: "m1", text: "hi" })
        const messages = () =>
          gw.bot.eventsOf(sessionId).filter((e) => e.type === "agent.message")
        yield* eventually(
          "every message delivered",
          Effect.sync(() => messages().length),
          (n) => n >= texts.length,
          Duration.seconds(20)
        )
        // The interval is a minute: only the batches' own polls, one tick apart, brought the rest.
        expect(Date.now() - sentAt).toBeLessThan(20_000)
        expect(messages().map((e) => (e.data as { text: string }).text)).toEqual(texts)
        const events = gw.bot.eventsOf(sessionId)
        expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
        expect(new Set(events.map((e) => e.id)).size).toBe(events.length)
        // CCP was asked once for them all: the rest were kept, not read again, and ingested by four more polls of at most 100.
        expect(gw.cisco.chatWith("hbfSessionId", sessionId)!.polls - pollsBefore).toBe(1)
        expect((yield* pollCycles) - cyclesBefore).toBe(5)
      }).pipe(Effect.scoped),
    60_000
  )

  it.live("garbled XML and 503s from CCP are retried; every event still arrives once", () =>
    Effect.gen(function*() {
      const gw = yield* startCiscoGateway("memory")
      const { chatId, sessionId } = yield* open(gw, "carol")
      yield* gw.cisco.agentJoin(chatId, "Maria")
      yield* eventsReach(gw, sessionId, 2)
      yield* gw.cisco.garbleNext(2)
      yield* gw.cisco.agentSay(chatId, "first")
      yield* gw.cisco.failNext(2, 503)
      yield* gw.cisco.agentSay(chatId, "second")
      yield* eventually(
        "both messages",
        Effect.sync(() => typesOf(gw, sessionId)),
        (types) => types.filter((t) => t === "agent.message").length >= 2,
        Duration.seconds(10)
      )
      yield* Effect.sleep(Duration.millis(500))
      expect(
        gw.bot.eventsOf(sessionId).filter((e) => e.type === "agent.message").map((e) =>
          (e.data as { text: string }).text
        )
      ).toEqual(["first", "second"])
    }).pipe(Effect.scoped), 30_000)

  it.live(
    "the user ending the livechat leaves and closes the CCP chat; no agent in time is request.failed",
    () =>
      Effect.gen(function*() {
        const gw = yield* startCiscoGateway("memory")
        const { sessionId } = yield* open(gw, "dave")
        expect((yield* gw.call("DELETE", `/sessions/tenants/${tenantId}/subscribers/dave`)).status).toBe(204)
        expect(gw.cisco.chatWith("hbfSessionId", sessionId)).toMatchObject({ customerLeft: true, deleted: true })
        expect(typesOf(gw, sessionId)).toEqual(["request.queued", "session.ended"])

        const late = yield* open(gw, "erin")
        yield* gw.cisco.status(late.chatId, "chat_timedout_waiting_for_agent", "60")
        yield* eventually(
          "the request failed",
          Effect.sync(() => typesOf(gw, late.sessionId)),
          (types) => types.includes("request.failed")
        )
        const state = yield* gw.call("GET", "/subscribers/erin/livechat-state")
        expect(state.body).toMatchObject({ state: "ended", session: { endReason: "provider" } })
      }).pipe(Effect.scoped),
    30_000
  )
})

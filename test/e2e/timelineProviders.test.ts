/**
 * A session's timeline tells its provider calls (per attempt) and its provider events (how each
 * came, and why one was dropped), with ids only: no message text, no credential
 * (docs/ARCHITECTURE.md#session-timeline).
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Redacted } from "effect"
import { createHmac } from "node:crypto"
import { demoGenesys, demoHelviaSecret } from "../../sandbox/demoTenants.js"
import { eventually } from "../eventually.js"
import { eventsReach, type Gateway, livechatRequest, startGateway, stores } from "./harness.js"

interface Entry {
  readonly kind: string
  readonly [field: string]: unknown
}

/** The session's timeline as the admin API answers it, its raw text too (for what must not be in it). */
const timelineOf = (gw: Gateway, sessionId: string) =>
  Effect.gen(function*() {
    const admin = `Bearer ${yield* gw.token({ scope: "admin" })}`
    const answer = yield* gw.call("GET", `/admin/sessions/${sessionId}/timeline`, undefined, { authorization: admin })
    expect(answer.status).toBe(200)
    return { entries: answer.body.entries as ReadonlyArray<Entry>, text: JSON.stringify(answer.body) }
  })

const ofKind = (entries: ReadonlyArray<Entry>, kind: string) => entries.filter((e) => e.kind === kind)

/** The timeline once `check` holds of its entries (socket and webhook events are ingested in the background). */
const timelineWhen = (
  gw: Gateway,
  sessionId: string,
  what: string,
  check: (entries: ReadonlyArray<Entry>) => boolean
) => eventually(what, timelineOf(gw, sessionId), ({ entries }) => check(entries))

/** Words no id holds (a bare "4111" can be part of a random UUID), so finding them means the text leaked. */
const secretWords = "card-number-nobody-should-read"
const messageText = `my ${secretWords} is 4111 and it stays here`

describe.each(stores)("%s store", (store) => {
  it.live("hbf-lcm: the calls per attempt (a 503 then ok), a webhook received once and its resend dropped as a duplicate", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway({ store })
      const created = yield* gw.call("POST", "/requests", livechatRequest("demo-helvia", "alice"))
      expect(created.status).toBe(201)
      const sessionId: string = created.body.sessionId
      const joined = yield* gw.lcm.join(sessionId)
      expect((yield* gw.lcm.resend(joined.eventId)).body).toEqual({ accepted: 0 })
      // hbf-lcm refuses the message's first attempt; the retry goes through.
      gw.lcm.failNext(1, 503)
      const sent = yield* gw.call("POST", "/messages", {
        tenantId: "demo-helvia",
        subHandle: "alice",
        messageId: "m1",
        text: messageText
      })
      expect(sent.status).toBe(202)

      const { entries, text } = yield* timelineOf(gw, sessionId)
      const calls = ofKind(entries, "provider.call")
      expect(calls.filter((c) => c.operation === "POST /livechat-requests")).toMatchObject([
        { outcome: "ok", attempt: 1 }
      ])
      expect(calls.filter((c) => c.operation === "POST /organizations/{organizationId}/livechat-messages"))
        .toMatchObject([
          { outcome: "refused", status: 503, attempt: 1 },
          { outcome: "ok", attempt: 2 }
        ])
      for (const call of calls) expect(call.latencyMs).toBeGreaterThanOrEqual(0)
      // The gateway's event id names the provider's.
      const joinedId = `helvia-livechat:${joined.eventId}`
      expect(ofKind(entries, "event.received").filter((e) => e.eventId === joinedId)).toEqual([
        expect.objectContaining({ type: "agent.joined", via: "webhook" })
      ])
      expect(ofKind(entries, "event.dropped")).toEqual([
        expect.objectContaining({ eventId: joinedId, reason: "duplicate", via: "webhook" })
      ])
      // Ids, statuses and timings only.
      expect(text).not.toContain(secretWords)
      expect(text).not.toContain(demoHelviaSecret)
      expect(text).not.toContain(Redacted.value(gw.config.hbfLcm.token))
    }).pipe(Effect.scoped))
})

it.live("a verified webhook that names its session but cannot be read: a 400, and the session's timeline says malformed", () =>
  Effect.gen(function*() {
    const gw = yield* startGateway({ store: "memory" })
    const created = yield* gw.call("POST", "/requests", livechatRequest("demo-helvia", "alice"))
    const sessionId: string = created.body.sessionId
    const body = JSON.stringify({
      id: "evt-unreadable",
      type: "NOT_A_TYPE",
      platformSessionId: sessionId,
      platformUserId: "alice",
      occurredAt: new Date().toISOString()
    })
    const answer = yield* Effect.promise(() =>
      fetch(`${gw.url}/events/helvia-livechat`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-helvia-signature": `sha256=${createHmac("sha256", demoHelviaSecret).update(body).digest("hex")}`
        },
        body
      })
    )
    expect(answer.status).toBe(400)
    const { entries } = yield* timelineOf(gw, sessionId)
    expect(ofKind(entries, "event.dropped")).toEqual([
      expect.objectContaining({ reason: "malformed", via: "webhook" })
    ])
    // An unsigned one names nothing in any timeline.
    const unsigned = yield* Effect.promise(() =>
      fetch(`${gw.url}/events/helvia-livechat`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-helvia-signature": `sha256=${"0".repeat(64)}` },
        body
      })
    )
    expect(unsigned.status).toBe(401)
    expect(ofKind((yield* timelineOf(gw, sessionId)).entries, "event.dropped")).toHaveLength(1)
  }).pipe(Effect.scoped))

it.live(
  "Genesys: events by the socket, then by the re-read after the socket dropped, a resent webhook dropped as a duplicate; its calls without secrets",
  () =>
    Effect.gen(function*() {
      const gw = yield* startGateway({ genesys: { webhookRetryDelayMs: 100 } })
      const created = yield* gw.call("POST", "/requests", livechatRequest("demo-genesys", "carol"))
      expect(created.status).toBe(201)
      const sessionId: string = created.body.sessionId
      const conversationId: string = created.body.providerConversationId
      // The first join may come by the conversation's first read, as its topics are being subscribed.
      yield* gw.genesys.agentJoin(conversationId, { userId: "agent-1", name: "Maria" })
      yield* eventsReach(gw, sessionId, 2)
      // A transfer to another agent, told by the socket.
      yield* gw.genesys.agentLeave(conversationId, { transfer: true })
      yield* gw.genesys.agentJoin(conversationId, { userId: "agent-2", name: "Nikos" })
      yield* eventsReach(gw, sessionId, 5)
      yield* timelineWhen(
        gw,
        sessionId,
        "the transfer came by the socket",
        (es) => ofKind(es, "event.received").filter((e) => e.via === "socket").length >= 3
      )
      // The socket drops; meanwhile the chat is transferred again: the re-read after the reconnect brings it.
      yield* gw.genesys.dropSockets()
      yield* gw.genesys.agentLeave(conversationId, { transfer: true })
      yield* gw.genesys.agentJoin(conversationId, { userId: "agent-3", name: "Olga" })
      yield* eventsReach(gw, sessionId, 8)
      const reread = yield* timelineWhen(
        gw,
        sessionId,
        "the gap's events came by the re-read",
        (es) => ofKind(es, "event.received").slice(-3).every((e) => e.via === "poll")
      )
      expect(ofKind(reread.entries, "event.received").slice(-3).map((e) => [e.type, e.via])).toEqual([
        ["agent.left", "poll"],
        ["request.queued", "poll"],
        ["agent.joined", "poll"]
      ])

      const said = yield* gw.genesys.agentSay(conversationId, { text: messageText })
      expect(said.status).toBe(200)
      expect(yield* gw.genesys.resendWebhook(said.webhookId)).toBe(200)
      yield* eventsReach(gw, sessionId, 9)
      const { entries, text } = yield* timelineWhen(
        gw,
        sessionId,
        "the resent message was dropped",
        (es) => ofKind(es, "event.dropped").some((e) => e.type === "agent.message")
      )
      const message = ofKind(entries, "event.received").filter((e) => e.type === "agent.message")
      expect(message).toEqual([expect.objectContaining({ via: "webhook" })])
      expect(ofKind(entries, "event.dropped").filter((e) => e.type === "agent.message")).toEqual([
        expect.objectContaining({ eventId: message[0]!.eventId, reason: "duplicate", via: "webhook" })
      ])
      // The create: one attempt, named by its template.
      const calls = ofKind(entries, "provider.call")
      expect(calls.some((c) => c.outcome === "ok" && c.attempt === 1 && /^POST \/api\/v2\//.test(String(c.operation))))
        .toBe(true)
      for (const call of calls) {
        expect(String(call.operation)).not.toContain(conversationId)
        expect(String(call.operation)).not.toContain("?")
      }
      yield* Effect.sleep(Duration.millis(100))
      expect(text).not.toContain(secretWords)
      expect(text).not.toContain(demoGenesys.clientSecret)
      expect(text).not.toContain(demoGenesys.webhookSecret)
    }).pipe(Effect.scoped),
  30_000
)

/**
 * A session's timeline (GET /admin/sessions/:id/timeline): the gateway's own entries appear
 * for what causes them — the request, its states and end with what ended it, each delivery
 * attempt, a dead letter and its replay — and no message text is in it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { eventually } from "../eventually.js"
import { type Gateway, livechatRequest, startGateway, stores } from "./harness.js"

interface Entry {
  readonly at: string
  readonly kind: string
  readonly [field: string]: unknown
}

const timelineOf = (gw: Gateway, sessionId: string) =>
  Effect.gen(function*() {
    const admin = yield* gw.token({ scope: "admin" })
    const answer = yield* gw.call("GET", `/admin/sessions/${sessionId}/timeline`, undefined, {
      authorization: `Bearer ${admin}`
    })
    expect(answer.status).toBe(200)
    return answer.body as { readonly sessionId: string; readonly entries: ReadonlyArray<Entry> }
  })

/** The timeline's entries, once `check` holds of them. */
const entriesOnce = (gw: Gateway, sessionId: string, check: (entries: ReadonlyArray<Entry>) => boolean) =>
  Effect.map(
    eventually("the timeline has the entries", timelineOf(gw, sessionId), (timeline) => check(timeline.entries)),
    (timeline) => timeline.entries
  )

/** The entries the gateway itself records (not the provider calls nor the ingest's), without their time. */
const gatewayEntries = (entries: ReadonlyArray<Entry>) =>
  entries
    .filter((e) => ["created", "state", "ended"].includes(e.kind))
    .map(({ at: _at, ...entry }) => entry)

/** The delivery, dead-letter and replay entries of one event, without their time and latency. */
const deliveriesOf = (entries: ReadonlyArray<Entry>, eventId: string) =>
  entries
    .filter((e) => ["delivery", "dead-letter", "replayed"].includes(e.kind) && e["eventId"] === eventId)
    .map(({ at: _at, latencyMs: _latency, ...entry }) => entry)

const eventIdOf = (gw: Gateway, sessionId: string, type: string) =>
  gw.bot.eventsOf(sessionId).find((e) => e.type === type)!.id

describe.each(stores)("%s store", (store) => {
  it.live("a livechat the agent ends: created, its states, and ended by the provider's event; no message text", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway({ store })
      const created = yield* gw.call("POST", "/requests", livechatRequest("demo-helvia", "alice"))
      const sessionId: string = created.body.sessionId
      yield* gw.lcm.join(sessionId, { id: "a1", fullName: "Maria" })
      const sent = yield* gw.call("POST", "/messages", {
        tenantId: "demo-helvia",
        subHandle: "alice",
        messageId: "m1",
        text: "zebra-7731 my card number"
      })
      expect(sent.status).toBe(202)
      yield* gw.lcm.say(sessionId, "okapi-4412 from the agent")
      yield* gw.lcm.end(sessionId)
      yield* gw.bot.waitFor((es) => es.some((e) => e.type === "session.ended"))
      const endedBy = eventIdOf(gw, sessionId, "session.ended")

      const entries = yield* entriesOnce(gw, sessionId, (es) => es.some((e) => e.kind === "ended"))
      expect(gatewayEntries(entries)).toEqual([
        { kind: "created", provider: "helvia-livechat", channel: "webchat" },
        { kind: "state", from: "pending", to: "active" },
        { kind: "state", from: "active", to: "ended" },
        { kind: "ended", reason: "agent", trigger: { by: "event", eventId: endedBy } }
      ])
      // Oldest first.
      const times = entries.map((e) => Date.parse(e.at))
      expect(times).toEqual([...times].sort((a, b) => a - b))
      // Ids only: neither the user's nor the agent's text, nor the bot's transcript.
      const json = JSON.stringify(yield* timelineOf(gw, sessionId))
      for (const text of ["zebra-7731", "okapi-4412", "I need help with my plan", "Alice"]) {
        expect(json).not.toContain(text)
      }
    }).pipe(Effect.scoped))
})

describe("timeline entries of deliveries and ends", () => {
  it.live("hbf-bot down, then back: the failed attempts with its status, then the delivered one, numbered", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      const sessionId: string = (yield* gw.call("POST", "/requests", livechatRequest("demo-helvia", "bob"))).body
        .sessionId
      yield* gw.bot.waitFor((es) => es.some((e) => e.sessionId === sessionId))
      gw.bot.failNext(3, 503, 0)
      yield* gw.lcm.join(sessionId)
      yield* gw.bot.waitFor((es) => es.some((e) => e.type === "agent.joined"), "5 seconds")
      const joined = eventIdOf(gw, sessionId, "agent.joined")

      const entries = yield* entriesOnce(gw, sessionId, (es) => deliveriesOf(es, joined).length === 4)
      const delivery = { kind: "delivery", eventId: joined, seq: 2, target: "hbf-bot" }
      expect(deliveriesOf(entries, joined)).toEqual([
        { ...delivery, attempt: 1, outcome: "failed", status: 503 },
        { ...delivery, attempt: 2, outcome: "failed", status: 503 },
        { ...delivery, attempt: 3, outcome: "failed", status: 503 },
        { ...delivery, attempt: 4, outcome: "delivered" }
      ])
      for (const entry of entries.filter((e) => e.kind === "delivery")) {
        expect(entry["latencyMs"]).toBeGreaterThanOrEqual(0)
      }
    }).pipe(Effect.scoped))

  it.live("a permanent refusal: the failed attempt, the dead letter, its replay, then the delivery", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      const admin = `Bearer ${yield* gw.token({ scope: "admin" })}`
      const sessionId: string = (yield* gw.call("POST", "/requests", livechatRequest("demo-helvia", "carol"))).body
        .sessionId
      const stop = gw.bot.failWhile((e) => e.type === "agent.joined", 400)
      yield* gw.lcm.join(sessionId)
      const letters = yield* eventually(
        "the dead letter",
        Effect.map(gw.call("GET", "/admin/dead-letters", undefined, { authorization: admin }), (a) => a.body),
        (body: ReadonlyArray<{ readonly id: string; readonly event: { readonly id: string } }>) => body.length === 1
      )
      const joined = letters[0]!.event.id
      stop()
      const replayed = yield* gw.call(
        "POST",
        `/admin/dead-letters/${encodeURIComponent(letters[0]!.id)}/replay`,
        undefined,
        { authorization: admin }
      )
      expect(replayed.status).toBe(200)

      const entries = yield* entriesOnce(gw, sessionId, (es) => deliveriesOf(es, joined).length === 4)
      const delivery = { kind: "delivery", eventId: joined, seq: 2, target: "hbf-bot" }
      expect(deliveriesOf(entries, joined)).toEqual([
        { ...delivery, attempt: 1, outcome: "failed", status: 400 },
        { kind: "dead-letter", eventId: joined, target: "hbf-bot", attempts: 1, reason: "answered 400" },
        { kind: "replayed", eventId: joined, target: "hbf-bot" },
        { ...delivery, attempt: 1, outcome: "delivered" }
      ])
    }).pipe(Effect.scoped))

  it.live("a request past the tenant's pendingSeconds ends by the pending timeout; a cancel names its call", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      gw.setTenant({
        id: "quick",
        displayName: "Quick",
        organization: { id: "demo-org" },
        plugins: [
          {
            category: "LIVECHAT",
            integrationId: "int-q",
            integration: {
              type: "HELVIA_LIVECHAT",
              timeouts: { pendingSeconds: 1, inactivitySeconds: 60 },
              helvia: { webhookSecret: "s" }
            }
          }
        ]
      })
      const timedOut: string = (yield* gw.call("POST", "/requests", { tenantId: "quick", subHandle: "dan" })).body
        .sessionId
      const entries = yield* entriesOnce(gw, timedOut, (es) => es.some((e) => e.kind === "ended"))
      expect(gatewayEntries(entries)).toEqual([
        { kind: "created", provider: "helvia-livechat" },
        { kind: "state", from: "pending", to: "ended" },
        { kind: "ended", reason: "timeout", trigger: { by: "timeout", timeout: "pending" } }
      ])

      const cancelled: string = (yield* gw.call("POST", "/requests", { tenantId: "quick", subHandle: "erin" })).body
        .sessionId
      expect((yield* gw.call("PATCH", "/requests/subscribers/erin", { status: "cancelled" })).status).toBe(200)
      const cancelEntries = yield* entriesOnce(gw, cancelled, (es) => es.some((e) => e.kind === "ended"))
      expect(gatewayEntries(cancelEntries).at(-1)).toEqual({
        kind: "ended",
        reason: "user",
        trigger: { by: "call", operation: "PATCH /requests/subscribers/:subHandle" }
      })
    }).pipe(Effect.scoped))
})

/**
 * Read receipts end to end (docs/CONTRACTS.md#upstream-api `POST /read`, #hbf-bot `agent.read`):
 * the user's read reaches a Sunshine agent as a `conversation:read` activity and comes back by
 * webhook as nothing; a Sunshine agent's read reaches hbf-bot as `agent.read`; Genesys (whose
 * Open Messaging receipts carry no Read, docs/PROVIDERS.md#inbound-user-to-agent), hbf-lcm and
 * CCP take none (`forwarded: false`); and the errors `POST /typing` answers.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { eventually } from "../eventually.js"
import { type Gateway, livechatRequest, startGateway, stores, typesOf } from "./harness.js"

const open = (gw: Gateway, tenantId: string, subHandle: string) =>
  Effect.map(gw.call("POST", "/requests", livechatRequest(tenantId, subHandle)), (created) => {
    expect(created.status).toBe(201)
    return created.body.sessionId as string
  })

describe.each(stores)("%s store", (store) => {
  it.live("Sunshine: the user's read reaches the agent as conversation:read and is not echoed back; the agent's read reaches hbf-bot as agent.read", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway({ store })
      const tenantId = "demo-zendesk"
      const sessionId = yield* open(gw, tenantId, "alice")
      const conversationId = gw.zendesk.conversationOf("alice")!.id
      yield* gw.zendesk.agentSay(conversationId, "Hi Alice, I am Maria")
      // The agent's message itself, not a count: its join may reach hbf-bot before it.
      const agentMessage = (yield* eventually(
        "the agent's message reaches hbf-bot",
        Effect.sync(() => gw.bot.eventsOf(sessionId).find((e) => e.type === "agent.message")),
        (e) => e !== undefined
      ))!

      // Through the typed client, as hbf-bot calls it: up to the agent message it showed the user.
      const read = yield* gw.lcg.userRead({ payload: { tenantId, subHandle: "alice", messageId: agentMessage.id } })
      expect(read).toEqual({ sessionId, forwarded: true })
      const user = gw.zendesk.users().find((u) => u.externalId === "alice")!
      expect(gw.zendesk.conversationOf("alice")!.activities).toContainEqual(
        expect.objectContaining({ type: "conversation:read", by: "api", author: { type: "user", userId: user.id } })
      )
      // Without messageId: everything so far. Within a second of the last one it tells the agent
      // nothing more (a read marks the whole conversation): accepted, not sent again.
      const readsAtSunshine = () =>
        gw.zendesk.conversationOf("alice")!.activities.filter((a) => a.type === "conversation:read").length
      expect(yield* gw.call("POST", "/read", { tenantId, subHandle: "alice" })).toMatchObject({
        status: 202,
        body: { sessionId, forwarded: true }
      })
      expect(readsAtSunshine()).toBe(1)
      yield* Effect.sleep("1100 millis")
      expect(yield* gw.call("POST", "/read", { tenantId, subHandle: "alice" })).toMatchObject({ status: 202 })
      expect(readsAtSunshine()).toBe(2)
      // Sunshine sends the user's reads back as conversation:read webhooks; the gateway took them and relayed nothing.
      yield* gw.zendesk.awaitWebhooks()
      const userReads = gw.zendesk.webhookDeliveries().filter((d) => d.types.includes("conversation:read"))
      expect(userReads.map((d) => d.outcome)).toEqual(["delivered", "delivered"])

      yield* gw.zendesk.agentRead(conversationId)
      yield* eventually(
        "the agent's read delivered",
        Effect.sync(() => typesOf(gw, sessionId)),
        (types) => types.includes("agent.read")
      )
      const reads = gw.bot.eventsOf(sessionId).filter((e) => e.type === "agent.read")
      expect(reads).toHaveLength(1)
      // Sunshine's read names no message; the agent is the one who has the chat.
      expect(reads[0]!.data).toEqual({ agent: { name: "Sandbox Agent" } })
    }).pipe(Effect.scoped))
})

describe("POST /read where the provider takes no read receipt, and its errors", () => {
  it.live("Genesys, hbf-lcm and CCP: 202 forwarded false, and nothing reaches the provider", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      const sessions = new Map<string, string>()
      for (const tenantId of ["demo-genesys", "demo-helvia", "demo-cisco"]) {
        const sessionId = yield* open(gw, tenantId, `reader-${tenantId}`)
        sessions.set(tenantId, sessionId)
        const read = yield* gw.call("POST", "/read", { tenantId, subHandle: `reader-${tenantId}`, messageId: "m1" })
        expect([tenantId, read.status, read.body]).toEqual([tenantId, 202, { sessionId, forwarded: false }])
      }
      // Genesys got no receipt: its Open Messaging receipts are Delivered or Failed, never Read.
      expect(gw.genesys.conversationOf(sessions.get("demo-genesys")!)!.receipts).toEqual([])
    }).pipe(Effect.scoped))

  it.live("no session 404, an ended session 409 SessionEnded, a bad body 400", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      const tenantId = "demo-zendesk"
      expect(yield* gw.call("POST", "/read", { tenantId, subHandle: "nobody" })).toMatchObject({
        status: 404,
        body: { error: "SessionNotFound" }
      })
      yield* open(gw, tenantId, "bob")
      expect((yield* gw.call("DELETE", `/sessions/tenants/${tenantId}/subscribers/bob`)).status).toBe(204)
      expect(yield* gw.call("POST", "/read", { tenantId, subHandle: "bob" })).toMatchObject({
        status: 409,
        body: { error: "SessionEnded" }
      })
      expect(gw.zendesk.conversationOf("bob")!.activities).toEqual([])
      for (const body of [{ tenantId }, { tenantId, subHandle: "bob", messageId: "" }, { subHandle: "bob" }]) {
        expect((yield* gw.call("POST", "/read", body)).status, JSON.stringify(body)).toBe(400)
      }
    }).pipe(Effect.scoped))
})

/**
 * Genesys Cloud livechats end to end: the real gateway against the Genesys simulator
 * (sandbox/genesys/, which follows docs/PROVIDERS.md#genesys-cloud-cx), over HTTP, signed
 * webhooks and the notifications WebSocket.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { createHmac } from "node:crypto"
import { demoGenesys, demoTenants, genesysTenant } from "../../sandbox/demoTenants.js"
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

const tenantId = "demo-genesys"
const request = (subHandle: string) => livechatRequest(tenantId, subHandle)

/** Fast Genesys webhook retries, so a refused delivery is retried within the test. */
const startGenesysGateway = (store: (typeof stores)[number]) =>
  startGateway({ store, genesys: { webhookRetryDelayMs: 100 } })

/** Opens a livechat and answers its session and Genesys conversation ids. */
const open = (gw: Gateway, subHandle: string) =>
  Effect.gen(function*() {
    const created = yield* gw.call("POST", "/requests", request(subHandle))
    expect(created.status).toBe(201)
    const sessionId: string = created.body.sessionId
    const conversationId: string = created.body.providerConversationId
    expect(gw.genesys.conversationOf(sessionId)?.conversationId).toBe(conversationId)
    return { sessionId, conversationId }
  })

describe.each(stores)("%s store", (store) => {
  it.live(
    "a whole Genesys livechat: transcript and attributes reach the agent, both ways of messages, joined and ended from the socket",
    () =>
      Effect.gen(function*() {
        const gw = yield* startGenesysGateway(store)
        const { conversationId, sessionId } = yield* open(gw, "alice")
        const conversation = gw.genesys.conversationOf(sessionId)!
        expect(conversation.queueId).toBe(demoGenesys.queueId)
        const opening = conversation.inbound[0]!
        expect(opening.from).toMatchObject({ id: sessionId, idType: "Opaque", nickname: "Alice" })
        expect(opening.text).toContain("Alice asked for an agent on webchat.")
        expect(opening.text).toContain("user: I need help with my plan")
        expect(opening.text).toContain("bot: Let me find you an agent")
        // The custom attributes go in both places Genesys is said to read them (docs/PROVIDERS.md#custom-attributes)...
        const attributes = {
          queueId: demoGenesys.queueId,
          hbfSessionId: sessionId,
          hbfTenantId: tenantId,
          hbfSubscriber: "alice",
          hbfChannel: "webchat",
          "metadata.plan": "basic"
        }
        expect(opening.sent).toStrictEqual({
          channel: {
            from: { id: sessionId, idType: "Opaque", nickname: "Alice", email: "alice@example.com" },
            time: opening.time,
            messageId: `${sessionId}:request`,
            metadata: { customAttributes: attributes }
          },
          text: opening.text,
          metadata: attributes
        })
        // ...and land on the customer participant, where the flow and the agent's script read them.
        const customer = conversation.participants.find((p) => p.purpose === "customer")!
        expect(customer.attributes).toStrictEqual(attributes)

        yield* gw.genesys.agentJoin(conversationId, { userId: "agent-maria", name: "Maria" })
        yield* eventsReach(gw, sessionId, 2)
        // Through the typed client, as hbf-bot calls it.
        const state = yield* gw.lcg.livechatState({ path: { subHandle: "alice" }, urlParams: {} })
        expect(state).toMatchObject({ state: "active", session: { agent: { id: "agent-maria", name: "Maria" } } })

        const sent = yield* gw.lcg.forwardMessage({
          payload: {
            tenantId,
            subHandle: "alice",
            messageId: "m1",
            text: "Hello",
            attachments: [{ url: "https://files.example/bill.pdf", contentType: "application/pdf", name: "bill.pdf" }]
          }
        })
        expect(sent).toMatchObject({ messageId: "m1", sessionId })
        const typing = yield* gw.lcg.userTyping({ payload: { tenantId, subHandle: "alice" } })
        expect(typing).toEqual({ sessionId, forwarded: true })
        const received = gw.genesys.conversationOf(sessionId)!
        expect(received.inbound.at(-1)).toMatchObject({
          messageId: "m1",
          text: "Hello",
          content: [{
            attachment: {
              mediaType: "File",
              url: "https://files.example/bill.pdf",
              mime: "application/pdf",
              filename: "bill.pdf"
            }
          }]
        })
        expect(sent.providerMessageId).toBe(received.inbound.at(-1)!.id)
        expect(received.typingEvents).toBe(1)

        expect((yield* gw.genesys.agentTyping(conversationId)).status).toBe(200)
        expect(
          (yield* gw.genesys.agentSay(conversationId, {
            text: "Hi Alice",
            attachments: [{ url: "https://files.example/plan.png", mime: "image/png", filename: "plan.png" }]
          }))
            .status
        ).toBe(200)
        yield* gw.genesys.endConversation(conversationId)
        const events = (yield* gw.bot.waitFor((es) =>
          es.some((e) => e.sessionId === sessionId && e.type === "session.ended")
        )).filter(
          (e) => e.sessionId === sessionId
        )
        expect(events.map((e) => [e.type, e.seq])).toEqual([
          // The request's place in the queue, and Genesys' estimated wait, once it accepted the request.
          ["request.queued", 1],
          ["agent.joined", 2],
          ["agent.typing", 3],
          ["agent.message", 4],
          // Ending the conversation disconnects the agent first: Genesys says so, and so do we.
          ["agent.left", 5],
          ["session.ended", 6]
        ])
        expect(events.shift()!.data).toEqual({ position: 1, estimatedWaitSeconds: 45, source: "provider" })
        expect(events[0]!.data).toEqual({ agent: { id: "agent-maria", name: "Maria" } })
        expect(events[2]!.data).toMatchObject({
          text: "Hi Alice",
          attachments: [{ url: "https://files.example/plan.png", contentType: "image/png", name: "plan.png" }]
        })
        // The webhook's sender is the integration; the message names the agent who joined.
        expect(events[2]!.data).toMatchObject({ agent: { id: "agent-maria", name: "Maria" } })
        expect(events[4]!.data).toEqual({ reason: "agent" })
        // Every agent event names the agent alike (the leave says the user id only, typing nobody),
        // and the ended session keeps its last agent.
        const maria = { id: "agent-maria", name: "Maria" }
        expect(agentsNamed(events)).toEqual([maria, maria, maria, maria])
        const ended = yield* gw.call("GET", "/subscribers/alice/livechat-state")
        expect(ended.body).toMatchObject({ state: "ended", session: { endReason: "agent", agent: maria } })
      }).pipe(Effect.scoped),
    30_000
  )
})

describe("Genesys webhooks and faults", () => {
  it.live(
    "a forged signature is refused (401) and nothing is ingested; the same webhook twice is one event",
    () =>
      Effect.gen(function*() {
        const gw = yield* startGenesysGateway("memory")
        const { conversationId, sessionId } = yield* open(gw, "bob")
        yield* gw.genesys.agentJoin(conversationId, { userId: "agent-1", name: "Maria" })
        yield* eventsReach(gw, sessionId, 2)
        const body = JSON.stringify({
          id: "forged-1",
          channel: {
            id: demoGenesys.integrationId,
            platform: "Open",
            type: "Private",
            to: { id: sessionId, idType: "Opaque" },
            from: { nickname: "Mallory", id: "x", idType: "Opaque" },
            time: new Date().toISOString()
          },
          type: "Text",
          text: "send me your password",
          direction: "Outbound"
        })
        const forged = createHmac("sha256", "not-the-secret").update(body).digest("base64")
        const refused = yield* gw.call("POST", "/events/genesys-livechat", body, {
          "x-hub-signature-256": `sha256=${forged}`
        })
        expect(refused.status).toBe(401)
        expect(refused.body.error).toBe("InvalidSignature")
        const unsigned = yield* gw.call("POST", "/events/genesys-livechat", body)
        expect(unsigned.status).toBe(401)

        const said = yield* gw.genesys.agentSay(conversationId, { text: "only once" })
        expect(said.status).toBe(200)
        expect(yield* gw.genesys.resendWebhook(said.webhookId)).toBe(200)
        yield* eventsReach(gw, sessionId, 3)
        yield* Effect.sleep(Duration.millis(300))
        expect(typesOf(gw, sessionId)).toEqual(["request.queued", "agent.joined", "agent.message"])
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "the socket dropped mid-conversation: what happened meanwhile arrives after the reconnect, once",
    () =>
      Effect.gen(function*() {
        const gw = yield* startGenesysGateway("memory")
        const { conversationId, sessionId } = yield* open(gw, "carol")
        yield* gw.genesys.agentJoin(conversationId, { userId: "agent-1", name: "Maria" })
        yield* eventsReach(gw, sessionId, 2)
        // Cut the socket and, before the gateway reconnects, the agent transfers the chat and another agent takes it.
        yield* gw.genesys.dropSockets()
        yield* gw.genesys.agentLeave(conversationId, { transfer: true })
        yield* gw.genesys.agentJoin(conversationId, { userId: "agent-2", name: "Nikos" })
        yield* eventsReach(gw, sessionId, 5)
        expect(gw.genesys.channels().filter((c) => c.connected)).toHaveLength(1)
        yield* gw.genesys.endConversation(conversationId)
        yield* gw.bot.waitFor((es) => es.some((e) => e.sessionId === sessionId && e.type === "session.ended"))
        yield* Effect.sleep(Duration.millis(300))
        expect(typesOf(gw, sessionId)).toEqual([
          "request.queued",
          "agent.joined",
          "agent.left",
          "request.queued",
          "agent.joined",
          "agent.left",
          "session.ended"
        ])
        expect(gw.bot.eventsOf(sessionId)[4]!.data).toEqual({ agent: { id: "agent-2", name: "Nikos" } })
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "an agent's message names the agent who has the chat, not the integration the webhook comes from; after a transfer, the new agent",
    () =>
      Effect.gen(function*() {
        const gw = yield* startGenesysGateway("memory")
        const { conversationId, sessionId } = yield* open(gw, "nora")
        yield* gw.genesys.agentJoin(conversationId, { userId: "agent-maria", name: "Maria" })
        yield* eventsReach(gw, sessionId, 2)
        // The simulator, like Genesys, sends the integration's name and id as `channel.from`.
        expect((yield* gw.genesys.agentSay(conversationId, { text: "Maria here" })).status).toBe(200)
        yield* eventsReach(gw, sessionId, 3)
        yield* gw.genesys.agentLeave(conversationId, { transfer: true })
        yield* gw.genesys.agentJoin(conversationId, { userId: "agent-nikos", name: "Nikos" })
        yield* eventsReach(gw, sessionId, 6)
        expect((yield* gw.genesys.agentSay(conversationId, { text: "Nikos here" })).status).toBe(200)
        yield* eventsReach(gw, sessionId, 7)
        const messages = gw.bot.eventsOf(sessionId).filter((e) => e.type === "agent.message").map((e) => e.data)
        expect(messages).toEqual([
          { text: "Maria here", agent: { id: "agent-maria", name: "Maria" } },
          { text: "Nikos here", agent: { id: "agent-nikos", name: "Nikos" } }
        ])
        const state = yield* gw.call("GET", "/subscribers/nora/livechat-state")
        expect(state.body).toMatchObject({ state: "active", session: { agent: { id: "agent-nikos", name: "Nikos" } } })
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "an agent attachment without url (optional at Genesys) is accepted: the text reaches the bot, the file is named as unavailable",
    () =>
      Effect.gen(function*() {
        const gw = yield* startGenesysGateway("memory")
        const { conversationId, sessionId } = yield* open(gw, "ulla")
        yield* gw.genesys.agentJoin(conversationId, { userId: "agent-1", name: "Maria" })
        yield* eventsReach(gw, sessionId, 2)
        const said = yield* gw.genesys.agentSay(conversationId, {
          text: "Here is your bill",
          attachments: [
            { mime: "application/pdf", filename: "bill.pdf" },
            { url: "https://files.example/plan.png", mime: "image/png", filename: "plan.png" }
          ]
        })
        // Genesys does not retry a 400: anything but 200 would have lost the text for good.
        expect(said.status).toBe(200)
        yield* eventsReach(gw, sessionId, 3)
        const message = gw.bot.eventsOf(sessionId)[2]!
        expect(message.type).toBe("agent.message")
        expect(message.data).toEqual({
          text: "Here is your bill",
          attachments: [{ url: "https://files.example/plan.png", contentType: "image/png", name: "plan.png" }],
          unavailableAttachments: [{ contentType: "application/pdf", name: "bill.pdf" }],
          agent: { id: "agent-1", name: "Maria" }
        })
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "an agent typing webhook without id (optional at Genesys) is accepted; its redelivery is one event, the next typing another",
    () =>
      Effect.gen(function*() {
        const gw = yield* startGenesysGateway("memory")
        const { conversationId, sessionId } = yield* open(gw, "theo")
        yield* gw.genesys.agentJoin(conversationId, { userId: "agent-1", name: "Maria" })
        yield* eventsReach(gw, sessionId, 2)
        const typed = yield* gw.genesys.agentTyping(conversationId, { withoutId: true })
        expect(typed.status).toBe(200)
        expect(yield* gw.genesys.resendWebhook(typed.webhookId)).toBe(200)
        yield* eventsReach(gw, sessionId, 3)
        yield* Effect.sleep(Duration.millis(300))
        expect(typesOf(gw, sessionId)).toEqual(["request.queued", "agent.joined", "agent.typing"])
        // A later typing of the same agent (another instant) is news.
        yield* Effect.sleep(Duration.millis(5))
        expect((yield* gw.genesys.agentTyping(conversationId, { withoutId: true })).status).toBe(200)
        yield* eventsReach(gw, sessionId, 4)
        expect(typesOf(gw, sessionId)).toEqual(["request.queued", "agent.joined", "agent.typing", "agent.typing"])
        const [, first, second] = gw.bot.eventsOf(sessionId)
        expect(first!.id).not.toBe(second!.id)
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "tokens expire mid-conversation: the calls that meet it refresh the token once and go through; the socket follows the new token",
    () =>
      Effect.gen(function*() {
        const gw = yield* startGenesysGateway("memory")
        const { conversationId, sessionId } = yield* open(gw, "dave")
        yield* gw.genesys.agentJoin(conversationId, { userId: "agent-1", name: "Maria" })
        yield* eventsReach(gw, sessionId, 2)
        const grantsBefore = gw.genesys.tokensIssued(demoGenesys.clientId)
        yield* gw.genesys.expireTokens()
        // Five messages at once meet the expired token: one refresh serves them all.
        const sent = yield* Effect.forEach(
          [1, 2, 3, 4, 5],
          (i) =>
            gw.call("POST", "/messages", {
              tenantId,
              subHandle: "dave",
              messageId: `after-expiry-${i}`,
              text: `still there? ${i}`
            }),
          { concurrency: "unbounded" }
        )
        expect(sent.map((r) => r.status)).toEqual([202, 202, 202, 202, 202])
        expect(
          gw.genesys.conversationOf(sessionId)!.inbound.map((m) => m.text).filter((t) => t?.startsWith("still there?"))
        ).toHaveLength(5)
        expect(gw.genesys.tokensIssued(demoGenesys.clientId)).toBe(grantsBefore + 1)
        // The old channel no longer delivers; the agent's end still arrives, through the renewed channel.
        yield* gw.genesys.endConversation(conversationId)
        yield* gw.bot.waitFor(
          (es) => es.some((e) => e.sessionId === sessionId && e.type === "session.ended"),
          Duration.seconds(15)
        )
        expect(typesOf(gw, sessionId)).toEqual(["request.queued", "agent.joined", "agent.left", "session.ended"])
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "a 429 is waited out for its Retry-After, for that credential set only: another tenant's calls go on",
    () =>
      Effect.gen(function*() {
        const other = { ...demoGenesys, clientId: "other-client", clientSecret: "other-secret" }
        const gw = yield* startGateway({
          store: "memory",
          genesys: {
            clients: [
              { clientId: demoGenesys.clientId, clientSecret: demoGenesys.clientSecret },
              { clientId: other.clientId, clientSecret: other.clientSecret }
            ]
          },
          tenants: (urls) => [...demoTenants(urls), genesysTenant("other-genesys", urls.genesys, other)]
        })
        yield* open(gw, "erin")
        const otherCreated = yield* gw.call("POST", "/requests", { ...request("frank"), tenantId: "other-genesys" })
        expect(otherCreated.status).toBe(201)
        // Both notification channels settled (connected, following, their conversations re-read): no call in the background.
        yield* Effect.sleep(Duration.millis(300))
        expect(gw.genesys.channels().filter((c) => c.connected && c.topics.length > 0)).toHaveLength(2)

        yield* gw.genesys.failNext(1, 429, 2)
        const limitedAt = Date.now()
        const limited = yield* Effect.fork(
          gw.call("POST", "/messages", { tenantId, subHandle: "erin", messageId: "limited", text: "hello" })
        )
        yield* Effect.sleep(Duration.millis(200))
        const otherAt = Date.now()
        const otherSent = yield* gw.call("POST", "/messages", {
          tenantId: "other-genesys",
          subHandle: "frank",
          messageId: "free",
          text: "hi"
        })
        expect(otherSent.status).toBe(202)
        expect(Date.now() - otherAt).toBeLessThan(1_000)
        expect((yield* limited.await)._tag).toBe("Success")
        expect(Date.now() - limitedAt).toBeGreaterThanOrEqual(2_000)
        const messages = gw.genesys.requests().filter((r) => r.path.endsWith("/inbound/open/message")).slice(-3)
        expect(messages.map((r) => [r.clientId, r.status])).toEqual([
          [demoGenesys.clientId, 429],
          [other.clientId, 202],
          [demoGenesys.clientId, 202]
        ])
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "the user ending the livechat disconnects the Genesys conversation, and its topics are no longer followed",
    () =>
      Effect.gen(function*() {
        const gw = yield* startGenesysGateway("memory")
        const { conversationId, sessionId } = yield* open(gw, "hana")
        yield* gw.genesys.agentJoin(conversationId, { userId: "agent-1", name: "Maria" })
        yield* eventsReach(gw, sessionId, 2)
        const following = () => gw.genesys.channels().flatMap((c) => c.topics).filter((t) => t.includes(conversationId))
        expect(following()).toHaveLength(4)
        expect((yield* gw.call("DELETE", `/sessions/tenants/${tenantId}/subscribers/hana`)).status).toBe(204)
        const customer = gw.genesys.conversationOf(sessionId)!.participants.find((p) => p.purpose === "customer")
        expect(customer).toMatchObject({ state: "disconnected" })
        yield* gw.bot.waitFor((es) => es.some((e) => e.sessionId === sessionId && e.type === "session.ended"))
        expect(gw.bot.eventsOf(sessionId).at(-1)?.data).toEqual({ reason: "user" })
        // Genesys' own account of the end (customer.end) is dropped as the session has ended; the topics go.
        yield* Effect.sleep(Duration.millis(300))
        expect(following()).toEqual([])
        expect(typesOf(gw, sessionId)).toEqual(["request.queued", "agent.joined", "session.ended"])
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "the channel is renewed before its lifetime ends, and notifications keep coming",
    () =>
      Effect.gen(function*() {
        const gw = yield* startGateway({ store: "memory", genesys: { channelLifetimeMs: 2_000 } })
        const { conversationId, sessionId } = yield* open(gw, "ivan")
        const created = () =>
          gw.genesys.requests().filter((r) => r.method === "POST" && r.path === "/api/v2/notifications/channels").length
        yield* eventually(
          "the first channel connected",
          Effect.sync(() => gw.genesys.channels().some((c) => c.connected)),
          (connected) => connected
        )
        expect(created()).toBe(1)
        // Renewed at 90% of its 2 s life: a second channel, connected and following the conversation.
        const renewed = yield* eventually(
          "a renewed channel",
          Effect.sync(() => gw.genesys.channels().filter((c) => c.connected)),
          (connected) =>
            created() >= 2 && connected.length === 1 && connected[0]!.topics.some((t) => t.includes(conversationId)),
          Duration.seconds(5)
        )
        expect(renewed[0]!.topics.filter((t) => t.includes(conversationId))).toHaveLength(4)
        yield* gw.genesys.agentJoin(conversationId, { userId: "agent-1", name: "Maria" })
        yield* eventsReach(gw, sessionId, 2)
        expect(typesOf(gw, sessionId)).toEqual(["request.queued", "agent.joined"])
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "Genesys refuses the conversation detail topics: the join and the end still arrive, by re-reading the conversation, and availability says so",
    () =>
      Effect.gen(function*() {
        const gw = yield* startGenesysGateway("memory")
        const availability = () => Effect.map(gw.call("GET", `/tenants/${tenantId}/availability`), (r) => r.body)
        yield* eventually(
          "availability says notifications",
          availability(),
          (body) => body.followedBy === "notifications"
        )
        for (const kind of ["user.start", "user.end", "acw", "customer.end"]) {
          yield* gw.genesys.refuseTopics(kind)
        }
        const { conversationId, sessionId } = yield* open(gw, "refused")
        yield* eventually(
          "the sim rejected the conversation's topics",
          Effect.sync(() => gw.genesys.channels().flatMap((c) => c.rejectedTopics)),
          (rejected) => rejected.length === 4 && rejected.every((t) => t.includes(conversationId))
        )
        yield* eventually("availability says polling", availability(), (body) => body.followedBy === "polling")

        yield* gw.genesys.agentJoin(conversationId, { userId: "agent-maria", name: "Maria" })
        yield* gw.bot.waitFor(
          (es) => es.some((e) => e.sessionId === sessionId && e.type === "agent.joined"),
          "20 seconds"
        )
        yield* gw.genesys.endConversation(conversationId)
        yield* gw.bot.waitFor(
          (es) => es.some((e) => e.sessionId === sessionId && e.type === "session.ended"),
          "20 seconds"
        )
        expect(typesOf(gw, sessionId)).toEqual(["request.queued", "agent.joined", "agent.left", "session.ended"])
        const state = yield* gw.call("GET", "/subscribers/refused/livechat-state")
        expect(state.body).toMatchObject({ state: "ended", session: { endReason: "agent" } })
        const metrics = (yield* gw.call("GET", "/metrics")).body as string
        expect(metricValue(metrics, "lcg_genesys_topics_rejected_total", "kind=\"customer.end\"")).toBe(1)
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "availability merges the queue's estimated wait and agents on queue with business hours",
    () =>
      Effect.gen(function*() {
        const gw = yield* startGenesysGateway("memory")
        const availability = yield* gw.call("GET", `/tenants/${tenantId}/availability`)
        expect(availability.status).toBe(200)
        expect(availability.body).toMatchObject({
          tenantId,
          agentsOnline: 3,
          estimatedWaitSeconds: 45,
          businessHours: { openNow: true }
        })
      }).pipe(Effect.scoped),
    30_000
  )
})

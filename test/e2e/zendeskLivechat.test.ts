/**
 * Zendesk Sunshine Conversations livechats end to end: the real gateway against the Sunshine
 * simulator (sandbox/zendesk/, which follows
 * docs/PROVIDERS.md#zendesk-sunshine-conversations-v2), whose webhooks reach the gateway's
 * /events/zendesk over HTTP with the X-API-Key, and whose messages the polling backstop lists
 * when a webhook is lost.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { demoZendesk } from "../../sandbox/demoTenants.js"
import { eventually } from "../eventually.js"
import { agentsNamed, eventsReach, type Gateway, livechatRequest, startGateway, stores, typesOf } from "./harness.js"
import { agentMessageWebhook } from "./zendeskWebhooks.js"

const tenantId = "demo-zendesk"

/** A gateway whose backstop polls every `pollMs` (the default 30 s would outlast a test). */
const startZendeskGateway = (store: (typeof stores)[number], pollMs = 30_000) =>
  startGateway({ store, configure: (config) => ({ ...config, zendeskPollIntervalMs: pollMs }) })

/** Waits for the backstop's first look at a new conversation (started by the create), so that it does not race the test's next step. */
const backstopLooked = (gw: Gateway, conversationId: string) =>
  eventually(
    "the backstop's first poll",
    Effect.sync(() => gw.zendesk.requests()),
    (requests) => requests.some((r) => r.method === "GET" && r.path.endsWith(`/conversations/${conversationId}`))
  )

const open = (gw: Gateway, subHandle: string) =>
  Effect.gen(function*() {
    const created = yield* gw.call("POST", "/requests", livechatRequest(tenantId, subHandle))
    expect(created.status).toBe(201)
    const conversation = gw.zendesk.conversationOf(subHandle)!
    expect(created.body.providerConversationId).toBe(conversation.id)
    yield* backstopLooked(gw, conversation.id)
    return { sessionId: created.body.sessionId as string, conversationId: conversation.id }
  })

const agentTexts = (gw: Gateway, sessionId: string) =>
  gw.bot.eventsOf(sessionId).flatMap((e) => (e.type === "agent.message" ? [(e.data as { text?: string }).text] : []))

/** Posts a webhook body to the gateway as Sunshine would, with `apiKey` as X-API-Key. */
const postWebhook = (gw: Gateway, body: unknown, apiKey: string | null = demoZendesk.webhookSecret) =>
  Effect.promise(async () => {
    const response = await fetch(`${gw.url}/events/zendesk`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(apiKey !== null ? { "x-api-key": apiKey } : {}) },
      body: JSON.stringify(body)
    })
    return { status: response.status, body: (await response.json()) as Record<string, unknown> }
  })

describe.each(stores)("%s store", (store) => {
  it.live(
    "a whole Sunshine livechat: handover with the transcript, both sides write, the agent closes the ticket",
    () =>
      Effect.gen(function*() {
        const gw = yield* startZendeskGateway(store)
        const { conversationId, sessionId } = yield* open(gw, "alice")
        const conversation = gw.zendesk.conversationOf("alice")!
        const user = gw.zendesk.users().find((u) => u.externalId === "alice")!
        expect(user.profile).toMatchObject({ givenName: "Alice", email: "alice@example.com" })
        // The handover note (the business) carries who asks and the transcript; the agents have the conversation with our ids.
        const note = conversation.messages[0]!
        expect(note.author.type).toBe("business")
        expect(note.content).toMatchObject({ type: "text" })
        expect((note.content as { text: string }).text).toContain("user: I need help with my plan")
        expect(conversation.activeSwitchboardIntegration).toBe("zd-agentWorkspace")
        expect(conversation.switchboardActions[0]).toMatchObject({
          action: "passControl",
          by: "api",
          metadata: {
            first_message_id: note.id,
            hbfSessionId: sessionId,
            hbfSubscriber: "alice",
            "metadata.plan": "basic"
          }
        })

        // Through the typed client, as hbf-bot calls it.
        const sent = yield* gw.lcg.forwardMessage({
          payload: {
            tenantId,
            subHandle: "alice",
            messageId: "m1",
            text: "My router blinks red",
            attachments: [{
              url: "https://files.example.com/router.jpg",
              contentType: "image/jpeg",
              name: "router.jpg"
            }]
          }
        })
        const userMessages = gw.zendesk.conversationOf("alice")!.messages.filter((m) => m.author.type === "user")
        expect(userMessages.map((m) => [m.author.userId, m.content.type])).toEqual([
          [user.id, "text"],
          [user.id, "image"]
        ])
        expect(sent.providerMessageId).toBe(userMessages[0]!.id)
        // Sunshine takes typing from business authors only: the user's typing cannot reach the agent.
        expect(yield* gw.lcg.userTyping({ payload: { tenantId, subHandle: "alice" } })).toEqual({
          sessionId,
          forwarded: false
        })

        yield* gw.zendesk.agentTyping(conversationId, true)
        // Typing is the agent's first sign (Sunshine announces no join after passControl): it is the join too.
        yield* gw.zendesk.agentSay(conversationId, "Hi Alice, I am Maria")
        yield* gw.zendesk.agentSay(conversationId, {
          type: "file",
          mediaUrl: "https://z.example.com/reset.pdf",
          mediaType: "application/pdf",
          altText: "reset.pdf"
        })
        yield* gw.zendesk.closeTicket(conversationId)
        yield* eventually(
          "the end delivered",
          Effect.sync(() => typesOf(gw, sessionId)),
          (types) => types.includes("session.ended")
        )
        const events = gw.bot.eventsOf(sessionId)
        // Our own posts (the note, the user's messages) and our own passControl came back by webhook too: none is relayed.
        expect(events.map((e) => [e.type, e.seq])).toEqual([
          ["request.queued", 1],
          ["agent.joined", 2],
          ["agent.typing", 3],
          ["agent.message", 4],
          ["agent.message", 5],
          ["agent.left", 6],
          ["session.ended", 7]
        ])
        expect(events[0]!.data).toEqual({ position: 1, source: "gateway" })
        expect(events[1]!.data).toEqual({ agent: { name: "Sandbox Agent" } })
        expect(events[3]!.data).toEqual({ text: "Hi Alice, I am Maria", agent: { name: "Sandbox Agent" } })
        expect(events[4]!.data).toMatchObject({
          attachments: [{ url: "https://z.example.com/reset.pdf", contentType: "application/pdf", name: "reset.pdf" }]
        })
        expect(events[6]!.data).toEqual({ reason: "agent" })
        // The handback names nobody at Sunshine: the leave names the agent who had the chat.
        expect(agentsNamed(events)).toEqual(Array(5).fill({ name: "Sandbox Agent" }))
        const state = yield* gw.call("GET", "/subscribers/alice/livechat-state")
        expect(state.body).toMatchObject({
          state: "ended",
          session: { endReason: "agent", agent: { name: "Sandbox Agent" } }
        })
      }).pipe(Effect.scoped),
    30_000
  )

  it.live("the same webhook twice (a Sunshine retry, a duplicate delivery) is one event", () =>
    Effect.gen(function*() {
      const gw = yield* startZendeskGateway(store)
      const { conversationId, sessionId } = yield* open(gw, "bob")
      yield* gw.zendesk.duplicateNextWebhooks(1)
      yield* gw.zendesk.agentSay(conversationId, "only once", { displayName: "Maria" })
      yield* gw.zendesk.awaitWebhooks()
      expect(gw.zendesk.webhookDeliveries().some((d) => d.duplicate)).toBe(true)
      const body = agentMessageWebhook(
        conversationId,
        "evt-replayed",
        "a1b2c3d4e5f6a7b8c9d0e1f2",
        "replayed",
        new Date().toISOString()
      )
      // The message (its join is a repeat of Maria's, dropped), then nothing: the second post is a repeat.
      expect((yield* postWebhook(gw, body)).body).toEqual({ accepted: 1 })
      expect((yield* postWebhook(gw, body)).body).toEqual({ accepted: 0 })
      yield* eventsReach(gw, sessionId, 4)
      yield* Effect.sleep(Duration.millis(300))
      expect(agentTexts(gw, sessionId)).toEqual(["only once", "replayed"])
      expect(typesOf(gw, sessionId)).toEqual(["request.queued", "agent.joined", "agent.message", "agent.message"])
    }).pipe(Effect.scoped), 30_000)
})

describe("Sunshine's limits on what the gateway sends", () => {
  it.live(
    "a user profile past Sunshine's limits still hands over: names cut to 128 between whole characters, an e-mail or locale Sunshine would refuse left out",
    () =>
      Effect.gen(function*() {
        const gw = yield* startGateway({})
        // 127 letters, then an emoji whose halves would straddle the 128th unit.
        const givenName = `${"a".repeat(127)}😀b`
        const profileOf = (subHandle: string, user: object) =>
          Effect.gen(function*() {
            const created = yield* gw.call("POST", "/requests", { ...livechatRequest(tenantId, subHandle), user })
            expect(created.status).toBe(201)
            return gw.zendesk.users().find((u) => u.externalId === subHandle)!.profile
          })
        expect(yield* profileOf("long-given", { name: `${givenName} Smith`, email: "ann at example" })).toEqual({
          givenName: "a".repeat(127),
          surname: "Smith"
        })
        expect(yield* profileOf("long-surname", { name: `Ann ${"S".repeat(140)}`, locale: "x".repeat(100) }))
          .toEqual({ givenName: "Ann", surname: "S".repeat(128) })
      }).pipe(Effect.scoped),
    30_000
  )

  it.live("a long message goes as parts of at most 4096 units, none splitting an emoji", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway({})
      const { conversationId } = yield* open(gw, "long-text")
      const text = `${"a".repeat(4095)}😀${"b".repeat(10)}`
      const sent = yield* gw.call("POST", "/messages", { tenantId, subHandle: "long-text", messageId: "m-long", text })
      expect(sent.status).toBe(202)
      const parts = gw.zendesk.conversations().find((c) => c.id === conversationId)!.messages.flatMap((m) =>
        m.author.type === "user" && m.content.type === "text" ? [m.content.text] : []
      )
      expect(parts).toEqual(["a".repeat(4095), `😀${"b".repeat(10)}`])
    }).pipe(Effect.scoped), 30_000)
})

describe("Sunshine webhooks and the backstop", () => {
  it.live(
    "several events in one webhook body (Sunshine batches what queued up) arrive in order",
    () =>
      Effect.gen(function*() {
        const gw = yield* startGateway({ zendesk: { batchWebhookEvents: true } })
        const { conversationId, sessionId } = yield* open(gw, "jane")
        yield* gw.zendesk.agentTyping(conversationId, true)
        for (const text of ["first", "second", "third", "fourth"]) yield* gw.zendesk.agentSay(conversationId, text)
        yield* gw.zendesk.agentTyping(conversationId, false)
        yield* gw.zendesk.awaitWebhooks()
        expect(gw.zendesk.webhookDeliveries().some((d) => d.eventIds.length > 1)).toBe(true)
        yield* eventsReach(gw, sessionId, 8)
        expect(typesOf(gw, sessionId)).toEqual([
          "request.queued",
          "agent.joined",
          "agent.typing",
          "agent.message",
          "agent.message",
          "agent.message",
          "agent.message",
          "agent.typing"
        ])
        expect(agentTexts(gw, sessionId)).toEqual(["first", "second", "third", "fourth"])
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "agent typing without an author (optional at Sunshine) reaches the bot once the agent has the chat; before that it is nothing",
    () =>
      Effect.gen(function*() {
        const gw = yield* startZendeskGateway("memory")
        const { conversationId, sessionId } = yield* open(gw, "ulla")
        // The Agent Workspace holds the conversation, but no agent has answered yet: no typing to show.
        yield* gw.zendesk.agentTyping(conversationId, true, { withoutAuthor: true })
        yield* gw.zendesk.awaitWebhooks()
        yield* gw.zendesk.agentSay(conversationId, "Hello, I am Maria")
        yield* eventsReach(gw, sessionId, 3)
        yield* gw.zendesk.agentTyping(conversationId, true, { withoutAuthor: true })
        yield* gw.zendesk.agentTyping(conversationId, false, { withoutAuthor: true })
        yield* gw.zendesk.awaitWebhooks()
        yield* eventsReach(gw, sessionId, 5)
        const events = gw.bot.eventsOf(sessionId)
        expect(events.map((e) => e.type)).toEqual([
          "request.queued",
          "agent.joined",
          "agent.message",
          "agent.typing",
          "agent.typing"
        ])
        // Named after the agent who has the chat, as the join named them.
        const agent = events[1]!.data.agent
        expect(agent).toEqual({ name: "Sandbox Agent" })
        expect(events.slice(3).map((e) => e.data)).toEqual([{ typing: true, agent }, { typing: false, agent }])
        // Every authorless typing webhook was taken at the first attempt.
        const typingCalls = gw.zendesk.webhookDeliveries().filter((d) => d.types.includes("conversation:typing"))
        expect(typingCalls.map((d) => [d.outcome, d.statuses.length])).toEqual([
          ["delivered", 1],
          ["delivered", 1],
          ["delivered", 1]
        ])
      }).pipe(Effect.scoped),
    30_000
  )

  it.live("a wrong or missing X-API-Key is 401 and changes nothing", () =>
    Effect.gen(function*() {
      const gw = yield* startZendeskGateway("memory")
      const { conversationId, sessionId } = yield* open(gw, "carol")
      const body = agentMessageWebhook(
        conversationId,
        "evt-forged",
        "f0f0f0f0f0f0f0f0f0f0f0f0",
        "forged",
        new Date().toISOString()
      )
      const wrong = yield* postWebhook(gw, body, "not-the-secret")
      expect(wrong.status).toBe(401)
      expect(wrong.body).toMatchObject({ error: "InvalidSignature" })
      expect((yield* postWebhook(gw, body, null)).status).toBe(401)
      yield* Effect.sleep(Duration.millis(200))
      // Nothing but the request's own first figures.
      expect(typesOf(gw, sessionId)).toEqual(["request.queued"])
      // The same body with the right key is accepted: the forged attempts were not remembered as seen.
      expect((yield* postWebhook(gw, body)).body).toEqual({ accepted: 2 })
    }).pipe(Effect.scoped), 30_000)

  it.live(
    "a message whose webhook was lost arrives by the backstop, once, and in order with what follows by webhook",
    () =>
      Effect.gen(function*() {
        const gw = yield* startZendeskGateway("memory", 300)
        const { conversationId, sessionId } = yield* open(gw, "dave")
        yield* gw.zendesk.dropNextWebhooks(1, (e) => e.type === "conversation:message")
        yield* gw.zendesk.agentSay(conversationId, "lost webhook", { displayName: "Maria" })
        yield* eventually(
          "recovered by the backstop",
          Effect.sync(() => agentTexts(gw, sessionId)),
          (texts) => texts.includes("lost webhook"),
          Duration.seconds(5)
        )
        yield* gw.zendesk.agentSay(conversationId, "by webhook", { displayName: "Maria" })
        yield* eventually(
          "the next one",
          Effect.sync(() => agentTexts(gw, sessionId)),
          (texts) => texts.includes("by webhook")
        )
        // Both ways (webhook and backstop) have now seen "by webhook": still one event.
        yield* Effect.sleep(Duration.millis(900))
        expect(agentTexts(gw, sessionId)).toEqual(["lost webhook", "by webhook"])
        expect(gw.zendesk.webhookDeliveries().some((d) => d.outcome === "dropped")).toBe(true)
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "a lost hand-back (the ticket closed, its webhook dropped) is found by the backstop and ends the session",
    () =>
      Effect.gen(function*() {
        const gw = yield* startZendeskGateway("memory", 300)
        const { conversationId, sessionId } = yield* open(gw, "erin")
        yield* gw.zendesk.agentSay(conversationId, "anything else?")
        yield* gw.zendesk.dropNextWebhooks(1, (e) => e.type === "switchboard:releaseControl")
        yield* gw.zendesk.closeTicket(conversationId)
        yield* eventually(
          "the end",
          Effect.sync(() => typesOf(gw, sessionId)),
          (types) => types.includes("session.ended"),
          Duration.seconds(5)
        )
        expect(typesOf(gw, sessionId)).toEqual([
          "request.queued",
          "agent.joined",
          "agent.message",
          "agent.left",
          "session.ended"
        ])
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "the agent's last messages, their webhooks lost, are read before the ticket's close ends the session (across message pages)",
    () =>
      Effect.gen(function*() {
        // The backstop's own schedule (30 s) is out of the picture: the close's webhook asks for the poll.
        const gw = yield* startGateway({ zendesk: { pageSize: 2 } })
        const { conversationId, sessionId } = yield* open(gw, "hana")
        yield* gw.zendesk.dropNextWebhooks(3, (e) => e.type === "conversation:message")
        for (const text of ["one", "two", "three"]) yield* gw.zendesk.agentSay(conversationId, text)
        yield* gw.zendesk.closeTicket(conversationId)
        yield* eventually(
          "the end",
          Effect.sync(() => typesOf(gw, sessionId)),
          (types) => types.includes("session.ended"),
          Duration.seconds(5)
        )
        expect(typesOf(gw, sessionId)).toEqual([
          "request.queued",
          "agent.joined",
          "agent.message",
          "agent.message",
          "agent.message",
          "agent.left",
          "session.ended"
        ])
        expect(agentTexts(gw, sessionId)).toEqual(["one", "two", "three"])
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "the user ending releases control; a second livechat continues the user's conversation without its earlier events",
    () =>
      Effect.gen(function*() {
        const gw = yield* startZendeskGateway("memory")
        const first = yield* open(gw, "frank")
        yield* gw.zendesk.agentSay(first.conversationId, "first livechat")
        yield* eventsReach(gw, first.sessionId, 3)
        expect((yield* gw.call("DELETE", `/sessions/tenants/${tenantId}/subscribers/frank`)).status).toBe(204)
        const released = gw.zendesk.conversationOf("frank")!
        // releaseControl nullifies the switchboard state: no integration holds the conversation until the next handover.
        expect(released.activeSwitchboardIntegration).toBeUndefined()
        expect(released.switchboardActions.at(-1)).toMatchObject({
          action: "releaseControl",
          by: "api",
          metadata: { hbfSessionId: first.sessionId }
        })

        const second = yield* open(gw, "frank")
        expect(second.conversationId).toBe(first.conversationId)
        expect(gw.zendesk.conversationOf("frank")!.activeSwitchboardIntegration).toBe("zd-agentWorkspace")
        expect(gw.zendesk.conversations().filter((c) => c.userExternalId === "frank")).toHaveLength(1)
        // A late webhook of something said before this livechat began (new ids, an earlier Sunshine time) is not this session's.
        const earlier = new Date(Date.parse(released.messages.at(-1)!.received) - 1).toISOString()
        expect(
          (yield* postWebhook(
            gw,
            agentMessageWebhook(second.conversationId, "evt-late", "0a0a0a0a0a0a0a0a0a0a0a0a", "from before", earlier)
          )).body
        ).toEqual({ accepted: 0 })
        yield* gw.zendesk.agentSay(second.conversationId, "second livechat")
        yield* eventsReach(gw, second.sessionId, 3)
        yield* Effect.sleep(Duration.millis(300))
        expect(agentTexts(gw, second.sessionId)).toEqual(["second livechat"])
        expect(agentTexts(gw, first.sessionId)).toEqual(["first livechat"])
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "a user's attachment with a file name over Sunshine's 128-character altText still reaches the agent, its extension kept",
    () =>
      Effect.gen(function*() {
        const gw = yield* startZendeskGateway("memory")
        yield* open(gw, "hanna")
        const name = `${"Scan of the signed rental agreement, all pages ".repeat(4)}(final).pdf`
        expect(name.length).toBeGreaterThan(128)
        const sent = yield* gw.call("POST", "/messages", {
          tenantId,
          subHandle: "hanna",
          messageId: "m1",
          attachments: [
            { url: "https://files.example.com/agreement.pdf", contentType: "application/pdf", name },
            { url: "https://files.example.com/photo.png", contentType: "image/png", name: "photo.png" }
          ]
        })
        expect(sent.status).toBe(202)
        const [file, image] = gw.zendesk.conversationOf("hanna")!.messages.filter((m) => m.author.type === "user")
        // What Sunshine stored: the cut name, and the media type it set itself (the gateway sends none: read-only).
        expect(file!.content).toMatchObject({
          type: "file",
          mediaUrl: "https://files.example.com/agreement.pdf",
          mediaType: "application/pdf"
        })
        const altText = (file!.content as { altText: string }).altText
        expect(altText).toHaveLength(128)
        expect(altText.startsWith("Scan of the signed rental agreement")).toBe(true)
        expect(altText.endsWith("….pdf")).toBe(true)
        expect(image!.content).toEqual({
          type: "image",
          mediaUrl: "https://files.example.com/photo.png",
          altText: "photo.png",
          mediaType: "image/png"
        })
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "a post Sunshine stored but answered with a 503 is not posted twice; a retry after a part failed posts only the parts missing",
    () =>
      Effect.gen(function*() {
        const gw = yield* startZendeskGateway("memory")
        yield* open(gw, "ivan")
        const userTexts = () =>
          gw.zendesk.conversationOf("ivan")!.messages.filter((m) => m.author.type === "user").map((m) =>
            m.content.type === "text" ? m.content.text : m.content.type
          )
        // Stored, then answered 503: the gateway looks, finds it, and says it was sent.
        yield* gw.zendesk.failNext(1, 503, { afterApplying: true })
        const stored = yield* gw.call("POST", "/messages", {
          tenantId,
          subHandle: "ivan",
          messageId: "m1",
          text: "is it stored?"
        })
        expect(stored.status).toBe(202)
        expect(userTexts()).toEqual(["is it stored?"])
        expect(stored.body.providerMessageId).toBe(gw.zendesk.conversationOf("ivan")!.messages.at(-1)!.id)
        // The text goes, the attachment is refused (Sunshine takes http(s) media only): a 502, and hbf-bot's retry
        // does not post the text again.
        const withBadAttachment = {
          tenantId,
          subHandle: "ivan",
          messageId: "m2",
          text: "see attached",
          attachments: [{ url: "ftp://files/x.png", contentType: "image/png" }]
        }
        expect((yield* gw.call("POST", "/messages", withBadAttachment)).status).toBe(502)
        expect((yield* gw.call("POST", "/messages", withBadAttachment)).status).toBe(502)
        expect(userTexts()).toEqual(["is it stored?", "see attached"])
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "Sunshine rate limits (429 without Retry-After) are waited out; a 503 on a message post is the caller's 502, not a double post",
    () =>
      Effect.gen(function*() {
        const gw = yield* startZendeskGateway("memory")
        yield* gw.zendesk.failNext(2, 429)
        yield* open(gw, "gina")
        expect(gw.zendesk.requests().filter((r) => r.status === 429)).toHaveLength(2)
        yield* gw.zendesk.failNext(1, 503)
        const failed = yield* gw.call("POST", "/messages", {
          tenantId,
          subHandle: "gina",
          messageId: "m1",
          text: "hello?"
        })
        expect(failed.status).toBe(502)
        expect(failed.body).toMatchObject({ error: "ProviderError" })
        // hbf-bot's retry of the same message goes through, once.
        expect(
          (yield* gw.call("POST", "/messages", { tenantId, subHandle: "gina", messageId: "m1", text: "hello?" })).status
        ).toBe(202)
        expect(gw.zendesk.conversationOf("gina")!.messages.filter((m) => m.author.type === "user")).toHaveLength(1)
      }).pipe(Effect.scoped),
    30_000
  )
})

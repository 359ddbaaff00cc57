/**
 * Sunshine webhook events -> normalized events, on payloads shaped as
 * docs/PROVIDERS.md#sunshine-webhooks gives them: agent messages (and never the gateway's own
 * posts), typing, the agent's read receipts, Switchboard hand-backs; the webhook body grouped per conversation; the
 * X-API-Key check; and a reused conversation's earlier events kept out of a new session.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Redacted } from "effect"
import type { SessionRecord } from "../../src/domain/model.js"
import type { LivechatConfig } from "../../src/domain/tenant.js"
import { openingText } from "../../src/providers/handover.js"
import { ZendeskApi } from "../../src/providers/zendesk/client.js"
import { mapMessage, mapWebhookEvent } from "../../src/providers/zendesk/mapper.js"
import {
  altTextOf,
  handoverMetadata,
  makeZendeskProvider,
  userMessageParts
} from "../../src/providers/zendesk/provider.js"
import type { Message, WebhookEvent } from "../../src/providers/zendesk/schemas.js"
import { Coordinator } from "../../src/services/Coordinator.js"

const conversation = {
  id: "6380ab1e2c3d4e5f6a7b8c9d",
  type: "personal",
  activeSwitchboardIntegration: {
    id: "sbi-aw",
    name: "zd-agentWorkspace",
    integrationId: "int-aw",
    integrationType: "zd:agentWorkspace"
  }
}
const bot = { id: "sbi-bot", name: "hbf-lcg", integrationId: "int-bot", integrationType: "custom" }

const agentMessage = (
  id: string,
  content: Message["content"] = { type: "text", text: "Hello, I am Maria" }
): Message => ({
  id,
  received: "2026-11-26T10:00:05.000Z",
  author: { type: "business", displayName: "Maria", avatarUrl: "https://z/maria.png" },
  content,
  source: { type: "zd:agentWorkspace", integrationId: "int-aw" }
})

const event = (id: string, type: string, payload: unknown, createdAt = "2026-11-26T10:00:06.000Z"): WebhookEvent => ({
  id,
  createdAt,
  type,
  payload
})

const mapped = (e: WebhookEvent) => {
  const result = mapWebhookEvent(e)
  if (result._tag !== "Mapped") throw new Error(`expected Mapped, got ${result._tag}`)
  return result
}

describe("Sunshine messages", () => {
  it("an agent's message is the agent's join, then the message; both ids derive from the message id", () => {
    const result = mapped(event("evt-1", "conversation:message", { conversation, message: agentMessage("m1") }))
    expect(result.conversationId).toBe(conversation.id)
    expect(result.events).toEqual([
      {
        id: "zendesk:message:m1:joined",
        occurredAt: "2026-11-26T10:00:05.000Z",
        type: "agent.joined",
        data: { agent: { name: "Maria", avatarUrl: "https://z/maria.png" } }
      },
      {
        id: "zendesk:message:m1",
        occurredAt: "2026-11-26T10:00:05.000Z",
        type: "agent.message",
        data: { text: "Hello, I am Maria", agent: { name: "Maria", avatarUrl: "https://z/maria.png" } }
      }
    ])
    // The polling backstop reading the same message makes the same events.
    expect(mapMessage(agentMessage("m1"))).toEqual(result.events)
  })

  it("an agent's image or file is an attachment with its media type", () => {
    const image = mapMessage(
      agentMessage("m2", {
        type: "image",
        mediaUrl: "https://z/p.png",
        mediaType: "image/png",
        altText: "receipt",
        mediaSize: 2048
      })
    )
    expect(image[1]).toMatchObject({
      type: "agent.message",
      data: { attachments: [{ url: "https://z/p.png", contentType: "image/png", name: "receipt", size: 2048 }] }
    })
    const file = mapMessage(agentMessage("m3", { type: "file", mediaUrl: "https://z/terms.pdf" }))
    expect(file[1]).toMatchObject({
      data: { attachments: [{ url: "https://z/terms.pdf", contentType: "application/octet-stream" }] }
    })
  })

  it("the gateway's own posts come back by webhook and are never relayed: user messages and the business handover note", () => {
    const own = (author: Message["author"]): Message => ({
      id: "m4",
      received: "2026-11-26T10:00:01.000Z",
      author,
      content: { type: "text", text: "hi" },
      source: { type: "api:conversations" }
    })
    expect(
      mapped(
        event("evt-2", "conversation:message", {
          conversation,
          message: own({ type: "user", userId: "u1", displayName: "Alice" })
        })
      ).events
    ).toEqual([])
    expect(
      mapped(
        event("evt-3", "conversation:message", {
          conversation,
          message: own({ type: "business", displayName: "Acme bot" })
        })
      ).events
    ).toEqual([])
  })
})

describe("Sunshine typing and Switchboard", () => {
  it("business typing:start / typing:stop is the agent typing; the start is the agent's join as well (a repeat is dropped as one)", () => {
    const typing = (type: string, author: object) =>
      mapped(event("evt-4", "conversation:typing", { conversation, activity: { type, author } })).events
    expect(typing("typing:start", { type: "business", displayName: "Maria" })).toEqual([
      {
        id: "zendesk:event:evt-4:joined",
        occurredAt: "2026-11-26T10:00:06.000Z",
        type: "agent.joined",
        data: { agent: { name: "Maria" } }
      },
      {
        id: "zendesk:event:evt-4",
        occurredAt: "2026-11-26T10:00:06.000Z",
        type: "agent.typing",
        data: { typing: true, agent: { name: "Maria" } }
      }
    ])
    expect(typing("typing:stop", { type: "business", displayName: "Maria" })).toMatchObject([{
      type: "agent.typing",
      data: { typing: false, agent: { name: "Maria" } }
    }])
  })

  it("typing without an author (optional in Sunshine's spec) is the agent's while the Agent Workspace holds the conversation; it joins nobody", () => {
    const authorless = (type: string, on: object) =>
      mapWebhookEvent(event("evt-4b", "conversation:typing", { conversation: on, activity: { type } }))
    expect(authorless("typing:start", conversation)).toEqual({
      _tag: "Mapped",
      conversationId: conversation.id,
      events: [
        {
          id: "zendesk:event:evt-4b",
          occurredAt: "2026-11-26T10:00:06.000Z",
          type: "agent.typing",
          data: { typing: true }
        }
      ],
      recheck: false
    })
    expect(authorless("typing:stop", conversation)).toMatchObject({
      events: [
        {
          id: "zendesk:event:evt-4b",
          occurredAt: "2026-11-26T10:00:06.000Z",
          type: "agent.typing",
          data: { typing: false }
        }
      ]
    })
    // Control with the bot (or with nobody): whoever types, it is not an agent.
    expect(authorless("typing:start", { ...conversation, activeSwitchboardIntegration: bot })).toMatchObject({
      _tag: "Mapped",
      events: []
    })
    expect(authorless("typing:start", { id: conversation.id })).toMatchObject({ _tag: "Mapped", events: [] })
  })

  it("a control change ends nothing by itself: when it may be the agents letting go (passed elsewhere, released, ticket closed), the backstop is to look", () => {
    const own = mapped(event("evt-5", "switchboard:passControl", { conversation, metadata: { hbfSessionId: "s1" } }))
    expect(own).toMatchObject({ events: [], recheck: false })
    const unsaid = mapped(event("evt-5b", "switchboard:passControl", { conversation: { id: conversation.id } }))
    expect(unsaid).toMatchObject({ events: [], recheck: true })
    const passedBack = mapped(
      event("evt-6", "switchboard:passControl", {
        conversation: { ...conversation, activeSwitchboardIntegration: bot }
      })
    )
    expect(passedBack).toMatchObject({ events: [], recheck: true })
    const closed = mapped(
      event("evt-7", "switchboard:releaseControl", { conversation: { id: conversation.id }, reason: "ticketClosed" })
    )
    expect(closed).toMatchObject({ conversationId: conversation.id, events: [], recheck: true })
    expect(mapped(event("evt-1", "conversation:message", { conversation, message: agentMessage("m1") })).recheck).toBe(
      false
    )
  })

  it("acceptControl by the Agent Workspace is an agent joining", () => {
    expect(mapped(event("evt-8", "switchboard:acceptControl", { conversation })).events).toEqual([
      { id: "zendesk:event:evt-8", occurredAt: "2026-11-26T10:00:06.000Z", type: "agent.joined", data: { agent: {} } }
    ])
  })

  it("conversation:read by the agent (a business author) is agent.read, naming no message; the user's own read and an unsigned one are nothing", () => {
    const read = (activity: unknown) =>
      mapped(event("evt-11", "conversation:read", { conversation, ...(activity !== undefined ? { activity } : {}) }))
        .events
    expect(read({ type: "conversation:read", author: { type: "business", displayName: "Maria" } })).toEqual([
      {
        id: "zendesk:event:evt-11",
        occurredAt: "2026-11-26T10:00:06.000Z",
        type: "agent.read",
        data: { agent: { name: "Maria" } }
      }
    ])
    // What the gateway's POST /read posts comes back as the user's read: never the agent's, and
    // ignored outright, so that the echo of every read costs no session look-up.
    const ignored = (activity: unknown) =>
      mapWebhookEvent(
        event("evt-12", "conversation:read", { conversation, ...(activity !== undefined ? { activity } : {}) })
      )
    expect(ignored({ type: "conversation:read", author: { type: "user", userId: "u1" } })).toEqual({ _tag: "Ignored" })
    expect(ignored({ type: "conversation:read" })).toEqual({ _tag: "Ignored" })
    expect(ignored(undefined)).toEqual({ _tag: "Ignored" })
  })

  it("types the gateway does not use are ignored; a used type with an unreadable payload is reported", () => {
    expect(mapWebhookEvent(event("evt-9", "conversation:remove", { conversation }))._tag).toBe("Ignored")
    const unreadable = mapWebhookEvent(event("evt-10", "conversation:message", { conversation }))
    expect(unreadable._tag).toBe("Unreadable")
  })
})

describe("the Sunshine provider's webhook side", () => {
  const config = {
    provider: "zendesk",
    integrationId: "int1",
    timeouts: { pendingSeconds: 900, inactivitySeconds: 1800 },
    flowTriggers: {},
    zendesk: {
      appId: "app1",
      keyId: "key1",
      keySecret: Redacted.make("key-secret"),
      webhookSecret: Redacted.make("hook-secret"),
      apiBaseUrl: "http://sunshine"
    }
  } as LivechatConfig
  const provider = makeZendeskProvider.pipe(
    Effect.provideService(ZendeskApi, {} as never),
    Effect.provideService(Coordinator, {} as never)
  )
  const body = (events: ReadonlyArray<WebhookEvent>) =>
    new TextEncoder().encode(JSON.stringify({ app: { id: "app1" }, webhook: { id: "wh1", version: "v2" }, events }))

  it.effect("a body's events are grouped per conversation; a body that is not a Sunshine webhook is malformed", () =>
    Effect.gen(function*() {
      const zendesk = yield* provider
      const other = { ...conversation, id: "other-conversation" }
      const batches = yield* zendesk.webhook!.parse(
        body([
          event("e1", "conversation:message", { conversation, message: agentMessage("m1") }),
          event("e2", "conversation:typing", {
            conversation: other,
            activity: { type: "typing:start", author: { type: "business" } }
          }),
          event("e3", "conversation:message", { conversation, message: agentMessage("m2") })
        ])
      )
      expect(batches.map((b) => ["conversationId" in b ? b.conversationId : "", b.events.map((e) => e.id)])).toEqual([
        [conversation.id, [
          "zendesk:message:m1:joined",
          "zendesk:message:m1",
          "zendesk:message:m2:joined",
          "zendesk:message:m2"
        ]],
        ["other-conversation", ["zendesk:event:e2:joined", "zendesk:event:e2"]]
      ])
      const malformed = yield* Effect.either(
        zendesk.webhook!.parse(new TextEncoder().encode(JSON.stringify({ events: "nope" })))
      )
      expect(Either.isLeft(malformed) && malformed.left._tag).toBe("MalformedWebhook")
    }))

  it.effect("X-API-Key must be the tenant's webhook secret", () =>
    Effect.gen(function*() {
      const zendesk = yield* provider
      const verify = (key: string | undefined) =>
        zendesk.webhook!.verify(config, { headers: { "x-api-key": key }, body: new Uint8Array() })
      expect(verify("hook-secret")).toBe(true)
      expect(verify("hook-secreT")).toBe(false)
      expect(verify("hook-secret-and-more")).toBe(false)
      expect(verify(undefined)).toBe(false)
    }))

  it.effect("a reused conversation's events from before the session began are not the session's", () =>
    Effect.gen(function*() {
      const zendesk = yield* provider
      const session = {
        sessionId: "s2",
        providerState: { userId: "u1", since: "2026-11-26T10:00:00.000Z", cursor: "note" }
      } as unknown as SessionRecord
      const events = [
        ...mapMessage({ ...agentMessage("old"), received: "2026-11-26T09:59:59.999Z" }),
        ...mapMessage(agentMessage("new"))
      ]
      const kept = yield* zendesk.webhook!.forSession!(session, { conversationId: "c1", events })
      expect(kept.map((e) => e.id)).toEqual(["zendesk:message:new:joined", "zendesk:message:new"])
    }))
})

describe("what the Agent Workspace gets", () => {
  const session = {
    sessionId: "s1",
    tenantId: "t1",
    subHandle: "sub-1",
    channel: "webchat",
    user: { name: "Alice Smith", email: "alice@example.com" },
    metadata: { plan: "gold", big: "x".repeat(5_000) }
  } as unknown as SessionRecord

  it("the handover metadata names the ticket's first message and our ids, within Switchboard's 4 KB", () => {
    const metadata = handoverMetadata(session, "note-1")
    expect(metadata).toMatchObject({
      first_message_id: "note-1",
      hbfSessionId: "s1",
      hbfTenantId: "t1",
      hbfSubscriber: "sub-1",
      "metadata.plan": "gold"
    })
    expect(metadata["metadata.big"]).toBeUndefined()
    expect(Buffer.byteLength(JSON.stringify(metadata))).toBeLessThanOrEqual(4_096)
  })

  it("the handover note fits Sunshine's 4,096 characters, keeping the latest transcript entries", () => {
    const transcript = Array.from(
      { length: 50 },
      (_, i) => ({ author: "user" as const, text: `question ${i} `.repeat(20), at: `t${i}` })
    )
    const text = openingText(session, transcript, { maxEntries: 50, maxChars: 4_096 })
    expect(text.length).toBeLessThanOrEqual(4_096)
    expect(text.startsWith("Alice Smith asked for an agent on webchat.")).toBe(true)
    expect(text).toContain("[t49] user: question 49")
    expect(text).toMatch(/\(\d+ earlier messages omitted\)/)
  })

  it("a user's message goes as parts that name it: text in pieces of at most 4,096 characters, then each attachment", () => {
    const parts = userMessageParts("u1", "m1", "x".repeat(9_000), [
      { url: "https://f/a.png", contentType: "image/png", name: "a.png" },
      { url: "https://f/b.pdf", contentType: "application/pdf" }
    ])
    expect(parts.map((p) => [p.content["type"], String(p.content["text"] ?? p.content["mediaUrl"]).length, p.metadata]))
      .toEqual([
        ["text", 4_096, { hbfMessageId: "m1", hbfPart: 0 }],
        ["text", 4_096, { hbfMessageId: "m1", hbfPart: 1 }],
        ["text", 808, { hbfMessageId: "m1", hbfPart: 2 }],
        ["image", 15, { hbfMessageId: "m1", hbfPart: 3 }],
        ["file", 15, { hbfMessageId: "m1", hbfPart: 4 }]
      ])
    expect(parts.every((p) => p.author.type === "user" && p.author.userId === "u1")).toBe(true)
  })

  it("an attachment goes with its URL and name only: mediaType is Sunshine's, read-only, and never sent", () => {
    const [image, file] = userMessageParts("u1", "m1", undefined, [
      { url: "https://f/a.png", contentType: "image/png", name: "a.png" },
      { url: "https://f/b.pdf", contentType: "application/pdf" }
    ])
    expect(image!.content).toEqual({ type: "image", mediaUrl: "https://f/a.png", altText: "a.png" })
    expect(file!.content).toEqual({ type: "file", mediaUrl: "https://f/b.pdf" })
  })

  it("a file name longer than Sunshine's 128-character altText is cut in the middle and keeps its extension", () => {
    const long = `${"quarterly-report-".repeat(10)}final.pdf`
    const [part] = userMessageParts("u1", "m1", undefined, [
      { url: "https://f/r.pdf", contentType: "application/pdf", name: long }
    ])
    const altText = String(part!.content["altText"])
    expect(altText).toHaveLength(128)
    expect(altText.startsWith("quarterly-report-quarterly-report-")).toBe(true)
    expect(altText.endsWith("….pdf")).toBe(true)
    // Exactly 128 is Sunshine's own limit: left alone; no extension: cut at the end; an emoji is never split.
    expect(altTextOf("a".repeat(124) + ".png")).toBe("a".repeat(124) + ".png")
    expect(altTextOf("b".repeat(200))).toBe("b".repeat(127) + "…")
    const emoji = altTextOf("x" + "😀".repeat(100) + ".jpg")
    expect(emoji.length).toBeLessThanOrEqual(128)
    expect(emoji).toMatch(/^x(😀)+…\.jpg$/u)
  })
})

/**
 * Genesys payloads shaped exactly as docs/PROVIDERS.md#genesys-cloud-cx gives them ->
 * normalized events; and the rule that the notification path and the re-read path name each
 * change alike.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import { createHmac } from "node:crypto"
import type { SessionRecord } from "../../src/domain/model.js"
import { applyEvent } from "../../src/domain/stateMachine.js"
import {
  conversationOver,
  graceEndsAt,
  mapConversation,
  mapDetailEvent,
  mapOutboundWebhook,
  parseDetailTopic,
  topicsOf
} from "../../src/providers/genesys/mapper.js"
import { validGenesysSignature } from "../../src/providers/genesys/provider.js"
import { Conversation, DetailEvent, NotificationFrame, OutboundWebhook } from "../../src/providers/genesys/schemas.js"
import { openingText } from "../../src/providers/handover.js"

const NOW = "2026-11-26T10:00:00.000Z"
const decodeWebhook = Schema.decodeUnknownSync(OutboundWebhook)

/**
 * The outbound webhook (docs/PROVIDERS.md#outbound-webhook-agent-to-us), agent text with an
 * attachment; as Genesys sends it, `channel.from` is the integration, not the agent.
 */
const agentText = {
  id: "msg-1",
  channel: {
    id: "integration-1",
    platform: "Open",
    type: "Private",
    to: { id: "session-1", idType: "Opaque" },
    from: { nickname: "Acme Open Messaging", id: "integration-1", idType: "Opaque" },
    time: "2026-11-26T09:59:00.000Z",
    messageId: "msg-1"
  },
  type: "Text",
  text: "Hello, how can I help?",
  content: [
    {
      contentType: "Attachment",
      attachment: {
        id: "att-1",
        mediaType: "Image",
        url: "https://files.example/a.png",
        mime: "image/png",
        filename: "a.png",
        contentSizeBytes: 1234
      }
    }
  ],
  direction: "Outbound",
  originatingEntity: "Human",
  conversationId: "conv-1"
}

describe("Genesys outbound webhook", () => {
  it("agent text with an attachment is one agent.message, named by the agent who has the chat, never by the webhook's sender (the integration)", () => {
    const events = mapOutboundWebhook(decodeWebhook(agentText), NOW)
    expect(events).toEqual([
      {
        id: "genesys-livechat:webhook:msg-1",
        occurredAt: "2026-11-26T09:59:00.000Z",
        type: "agent.message",
        data: {
          text: "Hello, how can I help?",
          attachments: [{ url: "https://files.example/a.png", contentType: "image/png", name: "a.png", size: 1234 }]
        }
      }
    ])
    // Not the integration: the session's agent (the conversation's agent participant, from the join) names it.
    expect(JSON.stringify(events)).not.toContain("Acme Open Messaging")
    const session: SessionRecord = {
      sessionId: "session-1",
      tenantId: "t1",
      organizationId: "org1",
      subHandle: "sub-1",
      provider: "genesys-livechat",
      status: "active",
      agent: { id: "u-1", name: "Maria" },
      createdAt: NOW,
      lastActivityAt: NOW,
      version: 1,
      lastSeq: 1
    }
    const applied = applyEvent(session, events[0]!, NOW)
    expect(applied._tag === "Apply" && applied.event.data).toEqual({
      ...events[0]!.data,
      agent: { id: "u-1", name: "Maria" }
    })
  })

  it("a typing event is agent.typing; receipts and inbound echoes carry nothing", () => {
    const typing = decodeWebhook({
      ...agentText,
      id: "evt-1",
      type: "Event",
      text: undefined,
      content: undefined,
      events: [{ eventType: "Typing", typing: { type: "On", duration: 5000 } }]
    })
    expect(mapOutboundWebhook(typing, NOW)).toEqual([
      {
        id: "genesys-livechat:webhook:evt-1",
        occurredAt: "2026-11-26T09:59:00.000Z",
        type: "agent.typing",
        data: { typing: true }
      }
    ])
    const receipt = decodeWebhook({
      ...agentText,
      id: "r-1",
      type: "Receipt",
      status: "Delivered",
      text: undefined,
      content: undefined
    })
    expect(mapOutboundWebhook(receipt, NOW)).toEqual([])
    expect(mapOutboundWebhook(decodeWebhook({ ...agentText, direction: "Inbound" }), NOW)).toEqual([])
  })

  it("an attachment without url (optional in the SDK's ContentAttachment) costs the link only: the text arrives, the attachment is named as unavailable", () => {
    const [withLink] = agentText.content
    const linkless = {
      contentType: "Attachment",
      attachment: {
        id: "att-2",
        mediaType: "File",
        mime: "application/pdf",
        filename: "bill.pdf",
        contentSizeBytes: 99
      }
    }
    expect(mapOutboundWebhook(decodeWebhook({ ...agentText, content: [withLink, linkless] }), NOW)).toEqual([
      {
        id: "genesys-livechat:webhook:msg-1",
        occurredAt: "2026-11-26T09:59:00.000Z",
        type: "agent.message",
        data: {
          text: "Hello, how can I help?",
          attachments: [{ url: "https://files.example/a.png", contentType: "image/png", name: "a.png", size: 1234 }],
          unavailableAttachments: [{ contentType: "application/pdf", name: "bill.pdf", size: 99 }]
        }
      }
    ])
    // Nothing but a linkless attachment: still a message, so that the user hears something was sent.
    const alone = decodeWebhook({
      ...agentText,
      text: undefined,
      content: [{ contentType: "Attachment", attachment: { mediaType: "Image", url: "" } }]
    })
    expect(mapOutboundWebhook(alone, NOW)).toMatchObject([
      { type: "agent.message", data: { unavailableAttachments: [{ contentType: "application/octet-stream" }] } }
    ])
    expect(mapOutboundWebhook(alone, NOW)[0]!.data).not.toHaveProperty("attachments")
  })

  it("a webhook without id (optional in the SDK's model) gets one from its conversation, sender and time: the same for a redelivery, another for the next", () => {
    const { id: _id, ...withoutId } = agentText
    const typing = {
      ...withoutId,
      type: "Event",
      text: undefined,
      content: undefined,
      events: [{ eventType: "Typing", typing: { type: "On", duration: 5000 } }],
      conversationId: "conv-1"
    }
    const first = mapOutboundWebhook(decodeWebhook(typing), NOW)
    expect(first).toEqual([
      {
        id: "genesys-livechat:webhook:conv-1:integration-1:2026-11-26T09:59:00.000Z:Event",
        occurredAt: "2026-11-26T09:59:00.000Z",
        type: "agent.typing",
        data: { typing: true }
      }
    ])
    expect(mapOutboundWebhook(decodeWebhook(JSON.parse(JSON.stringify(typing))), "2026-11-26T10:05:00.000Z")).toEqual(
      first
    )
    const later = { ...typing, channel: { ...typing.channel, time: "2026-11-26T09:59:04.000Z" } }
    expect(mapOutboundWebhook(decodeWebhook(later), NOW)[0]!.id).not.toBe(first[0]!.id)
    // Without the conversation id, the customer (our session) names the conversation.
    const { conversationId: _c, ...bare } = typing
    expect(mapOutboundWebhook(decodeWebhook(bare), NOW)[0]!.id).toBe(
      "genesys-livechat:webhook:session-1:integration-1:2026-11-26T09:59:00.000Z:Event"
    )
    // Two messages of one instant differ by what they say.
    const said = (text: string) => mapOutboundWebhook(decodeWebhook({ ...withoutId, text }), NOW)[0]!.id
    expect(said("one")).toBe(said("one"))
    expect(said("one")).not.toBe(said("two"))
    expect(said("one")).toMatch(
      /^genesys-livechat:webhook:conv-1:integration-1:2026-11-26T09:59:00\.000Z:Text:[0-9a-f]{16}$/
    )
  })

  it("a body without the customer it is for is malformed", () => {
    const { to: _to, ...channel } = agentText.channel
    expect(Either.isLeft(Schema.decodeUnknownEither(OutboundWebhook)({ ...agentText, channel }))).toBe(true)
  })

  it("the signature is base64 HMAC-SHA256 of the raw body", () => {
    const body = new TextEncoder().encode(JSON.stringify(agentText))
    const base64 = createHmac("sha256", "secret").update(body).digest("base64")
    const hex = createHmac("sha256", "secret").update(body).digest("hex")
    expect(validGenesysSignature("secret", body, `sha256=${base64}`)).toBe(true)
    expect(validGenesysSignature("secret", body, `sha256=${hex}`)).toBe(false)
    expect(validGenesysSignature("other", body, `sha256=${base64}`)).toBe(false)
    expect(validGenesysSignature("secret", body, undefined)).toBe(false)
  })
})

describe("Genesys notifications", () => {
  const conversationId = "conv-1"
  const joinedAt = Date.parse("2026-11-26T09:58:00.000Z")
  const leftAt = Date.parse("2026-11-26T09:59:30.000Z")
  const frame = (kind: string, eventBody: unknown) =>
    JSON.stringify({
      topicName: `v2.detail.events.conversation.${conversationId}.${kind}`,
      version: "2",
      eventBody,
      metadata: { CorrelationId: "c" }
    })
  const detail = (raw: string) => {
    const decoded = Schema.decodeUnknownSync(NotificationFrame)(raw)
    const topic = parseDetailTopic(decoded.topicName)!
    return { topic, body: Schema.decodeUnknownSync(DetailEvent)(decoded.eventBody) }
  }

  it("follows four detail topics per conversation and recognises only those", () => {
    expect(topicsOf("c9")).toEqual([
      "v2.detail.events.conversation.c9.user.start",
      "v2.detail.events.conversation.c9.user.end",
      "v2.detail.events.conversation.c9.acw",
      "v2.detail.events.conversation.c9.customer.end"
    ])
    expect(parseDetailTopic("channel.metadata")).toBeUndefined()
    expect(parseDetailTopic("v2.detail.events.conversation.c9.acd.start")).toBeUndefined()
  })

  it("user.start, user.end (plain and transfer) and customer.end map to joined, left (+queued) and ended", () => {
    const start = detail(
      frame("user.start", {
        eventTime: joinedAt,
        conversationId,
        participantId: "p-agent",
        userId: "u-1",
        queueId: "q",
        mediaType: "MESSAGE"
      })
    )
    expect(start.topic).toEqual({ conversationId, kind: "user.start" })
    expect(mapDetailEvent(start.topic.kind, start.body, "Maria")).toEqual([
      {
        id: `genesys-livechat:${conversationId}:participant:p-agent:joined`,
        occurredAt: "2026-11-26T09:58:00.000Z",
        type: "agent.joined",
        data: { agent: { id: "u-1", name: "Maria" } }
      }
    ])
    const end = detail(
      frame("user.end", {
        eventTime: leftAt,
        conversationId,
        participantId: "p-agent",
        userId: "u-1",
        disconnectType: "CLIENT"
      })
    )
    expect(mapDetailEvent(end.topic.kind, end.body).map((e) => e.type)).toEqual(["agent.left"])
    const transfer = detail(
      frame("user.end", {
        eventTime: leftAt,
        conversationId,
        participantId: "p-agent",
        userId: "u-1",
        disconnectType: "TRANSFER"
      })
    )
    expect(mapDetailEvent(transfer.topic.kind, transfer.body).map((e) => e.type)).toEqual([
      "agent.left",
      "request.queued"
    ])
    const customerEnd = detail(
      frame("customer.end", { eventTime: leftAt, conversationId, participantId: "p-cust", disconnectType: "PEER" })
    )
    expect(mapDetailEvent(customerEnd.topic.kind, customerEnd.body)).toEqual([
      {
        id: `genesys-livechat:${conversationId}:ended`,
        occurredAt: "2026-11-26T09:59:30.000Z",
        type: "session.ended",
        data: { reason: "agent" }
      }
    ])
  })

  it("re-reading the conversation names the same changes with the same ids as the notifications did", () => {
    const conversation: typeof Conversation.Type = {
      id: conversationId,
      participants: [
        {
          id: "p-cust",
          purpose: "customer",
          state: "disconnected",
          disconnectType: "peer",
          connectedTime: "2026-11-26T09:57:00.000Z",
          endTime: "2026-11-26T09:59:30.000Z"
        },
        { id: "p-acd", purpose: "acd", state: "disconnected", disconnectType: "transfer" },
        {
          id: "p-agent",
          purpose: "agent",
          state: "disconnected",
          disconnectType: "client",
          connectedTime: "2026-11-26T09:58:00.000Z",
          endTime: "2026-11-26T09:59:30.000Z",
          user: { id: "u-1" },
          name: "Maria"
        }
      ]
    }
    const fromNotifications = [
      ...mapDetailEvent(
        "user.start",
        { eventTime: joinedAt, conversationId, participantId: "p-agent", userId: "u-1" },
        "Maria"
      ),
      ...mapDetailEvent("user.end", {
        eventTime: leftAt,
        conversationId,
        participantId: "p-agent",
        userId: "u-1",
        disconnectType: "CLIENT"
      }),
      ...mapDetailEvent("customer.end", { eventTime: leftAt, conversationId, disconnectType: "PEER" })
    ]
    expect(mapConversation(conversation, leftAt + 60_000)).toEqual(fromNotifications)
  })

  it("a customer who left without an end time in the re-read conversation ended at the time of the reading", () => {
    const readAt = leftAt + 60_000
    const conversation: typeof Conversation.Type = {
      id: conversationId,
      participants: [{ id: "p-cust", purpose: "customer", state: "disconnected", disconnectType: "peer" }]
    }
    expect(mapConversation(conversation, readAt)).toEqual([
      {
        id: `genesys-livechat:${conversationId}:ended`,
        occurredAt: new Date(readAt).toISOString(),
        type: "session.ended",
        data: { reason: "agent" }
      }
    ])
  })

  it("a notification without a participant id names the join by the user and the instant", () => {
    expect(mapDetailEvent("user.start", { eventTime: joinedAt, conversationId, userId: "u-1" }).map((e) => e.id))
      .toEqual([
        `genesys-livechat:${conversationId}:agent:u-1:${joinedAt}:joined`
      ])
  })

  it("a conversation is over when the customer is gone, or the last agent left without a transfer and no agent came within the grace", () => {
    const agent = (state: string, disconnectType?: string, extra: Record<string, string> = {}) => ({
      id: "p-agent",
      purpose: "agent",
      state,
      ...(disconnectType !== undefined ? { disconnectType } : {}),
      connectedTime: "2026-11-26T09:58:00.000Z",
      ...(state === "disconnected" ? { endTime: "2026-11-26T09:59:30.000Z" } : {}),
      user: { id: "u-1" },
      ...extra
    })
    const customer = { id: "p-cust", purpose: "customer", state: "connected" }
    const conv = (...participants: Array<Record<string, unknown>>) =>
      Schema.decodeUnknownSync(Conversation)({ id: conversationId, participants })
    const grace = 10_000
    expect(conversationOver(conv(customer, agent("connected")), leftAt + 60_000, grace)).toBeUndefined()
    // Within the grace a plain leave may still be a hand-over.
    expect(conversationOver(conv(customer, agent("disconnected", "client")), leftAt + 5_000, grace)).toBeUndefined()
    expect(conversationOver(conv(customer, agent("disconnected", "client")), leftAt + 10_000, grace)?.data).toEqual({
      reason: "agent"
    })
    // A transfer never ends it; after-call work ends it at once.
    expect(conversationOver(conv(customer, agent("disconnected", "transfer")), leftAt + 60_000, grace)).toBeUndefined()
    expect(
      conversationOver(
        conv(customer, agent("disconnected", "client", { startAcwTime: "2026-11-26T09:59:31.000Z" })),
        leftAt + 1_000,
        grace
      )?.type
    ).toBe(
      "session.ended"
    )
    expect(
      conversationOver(
        conv({ ...customer, state: "disconnected", disconnectType: "peer" }, agent("connected")),
        leftAt,
        grace
      )?.id
    ).toBe(
      `genesys-livechat:${conversationId}:ended`
    )
    // When to look again: only for a plain leave of the last agent.
    expect(graceEndsAt(conv(customer, agent("disconnected", "client")), grace)).toBe(leftAt + grace)
    expect(graceEndsAt(conv(customer, agent("disconnected", "transfer")), grace)).toBeUndefined()
    expect(graceEndsAt(conv(customer, agent("connected")), grace)).toBeUndefined()
    expect(
      graceEndsAt(conv(customer, agent("disconnected", "client", { startAcwTime: "2026-11-26T09:59:31.000Z" })), grace)
    ).toBeUndefined()
  })
})

describe("the opening message", () => {
  const session = { sessionId: "s1", subHandle: "sub-1", user: { name: "Nikos" }, channel: "webchat" } as SessionRecord
  it("names who asks and carries the bot transcript, the latest 50 entries", () => {
    const transcript = Array.from(
      { length: 52 },
      (_, i) => ({ author: i % 2 === 0 ? ("user" as const) : ("bot" as const), text: `line ${i}`, at: `t${i}` })
    )
    const text = openingText(session, transcript, { maxEntries: 50 })
    expect(text.split("\n").slice(0, 4)).toEqual([
      "Nikos asked for an agent on webchat.",
      "",
      "Conversation with the bot:",
      "(2 earlier messages omitted)"
    ])
    expect(text).toContain("[t51] bot: line 51")
    expect(text).not.toContain("line 1\n")
    expect(openingText(session, [], { maxEntries: 50 })).toBe("Nikos asked for an agent on webchat.")
  })
})

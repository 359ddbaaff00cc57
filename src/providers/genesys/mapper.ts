/**
 * Genesys Cloud -> normalized events. Agent messages and typing come on the outbound webhook;
 * joins, leaves and the end come from notifications or, after a gap in them, from re-reading
 * the conversation. Both of those paths name a join or leave by the agent's participant id (a
 * new one for every join), so whichever sees a change first wins and the other is dropped as
 * seen. A notification without a participant id (docs/PROVIDERS.md#detail-events does not
 * promise one) falls back to the user id and the instant; the state machine then still drops a
 * second join of the agent who has the chat.
 */
import type { Agent, EndReason, ProviderEvent } from "../../domain/model.js"
import { sha256Hex } from "../signatures.js"
import type { Conversation, DetailEvent, OutboundWebhook, Participant } from "./schemas.js"

const eventId = (...parts: ReadonlyArray<string | number>) => `genesys-livechat:${parts.join(":")}`
const iso = (epochMs: number) => new Date(epochMs).toISOString()

/** The per-conversation notification topics the gateway follows (docs/PROVIDERS.md#detail-events). */
export const detailKinds = ["user.start", "user.end", "acw", "customer.end"] as const
export type DetailKind = (typeof detailKinds)[number]

export const topicsOf = (conversationId: string) =>
  detailKinds.map((kind) => `v2.detail.events.conversation.${conversationId}.${kind}`)

const detailTopic = /^v2\.detail\.events\.conversation\.([^.]+)\.(.+)$/

/** The conversation and kind a notification topic is about, if it is a followed detail topic. */
export const parseDetailTopic = (topicName: string): { conversationId: string; kind: DetailKind } | undefined => {
  const match = detailTopic.exec(topicName)
  const kind = match?.[2]
  if (match === null || kind === undefined || !(detailKinds as ReadonlyArray<string>).includes(kind)) return undefined
  return { conversationId: match[1]!, kind: kind as DetailKind }
}

/** Genesys' disconnect types (lowercase on the conversation, uppercase in detail events) mean the same. */
const isTransfer = (disconnectType: string | undefined) => disconnectType?.toLowerCase().startsWith("transfer") === true

const endReasonOf = (disconnectType: string | undefined): EndReason => {
  switch (disconnectType?.toLowerCase()) {
    case "peer":
      return "agent"
    case "client":
      return "user"
    case "timeout":
      return "timeout"
    default:
      return "provider"
  }
}

const agentOf = (userId: string, name: string | undefined): Agent => ({
  id: userId,
  ...(name !== undefined ? { name } : {})
})

/** Who joined or left: the participant id where known, else the user id and the instant. */
const legOf = (participantId: string | undefined, userId: string, at: number) =>
  participantId !== undefined ? ["participant", participantId] : ["agent", userId, at]

const joined = (
  conversationId: string,
  leg: ReadonlyArray<string | number>,
  userId: string,
  at: number,
  name: string | undefined
): ProviderEvent => ({
  id: eventId(conversationId, ...leg, "joined"),
  occurredAt: iso(at),
  type: "agent.joined",
  data: { agent: agentOf(userId, name) }
})

/** An agent left; after a transfer the request waits in the queue again. */
const left = (
  conversationId: string,
  leg: ReadonlyArray<string | number>,
  userId: string,
  at: number,
  disconnectType: string | undefined
): ReadonlyArray<ProviderEvent> => {
  const base = eventId(conversationId, ...leg, "left")
  const leave: ProviderEvent = { id: base, occurredAt: iso(at), type: "agent.left", data: { agent: { id: userId } } }
  return isTransfer(disconnectType)
    ? [leave, { id: `${base}:queued`, occurredAt: iso(at), type: "request.queued", data: { agent: { id: userId } } }]
    : [leave]
}

/** The end of the conversation: one id, whichever way it was learnt. */
export const ended = (conversationId: string, at: number, reason: EndReason): ProviderEvent => ({
  id: eventId(conversationId, "ended"),
  occurredAt: iso(at),
  type: "session.ended",
  data: { reason }
})

/** A detail notification -> events. `agentName` is the agent's display name, looked up by user id. */
export const mapDetailEvent = (
  kind: DetailKind,
  body: DetailEvent,
  agentName?: string
): ReadonlyArray<ProviderEvent> => {
  switch (kind) {
    case "user.start":
      return body.userId === undefined
        ? []
        : [
          joined(
            body.conversationId,
            legOf(body.participantId, body.userId, body.eventTime),
            body.userId,
            body.eventTime,
            agentName
          )
        ]
    case "user.end":
      return body.userId === undefined
        ? []
        : left(
          body.conversationId,
          legOf(body.participantId, body.userId, body.eventTime),
          body.userId,
          body.eventTime,
          body.disconnectType
        )
    case "customer.end":
      return [ended(body.conversationId, body.eventTime, endReasonOf(body.disconnectType))]
    case "acw":
      // After-call work says the agent is done; whether the conversation is over is read from it.
      return []
  }
}

const isDisconnected = (p: Participant) => p.state === "disconnected" || p.state === "terminated"
const timeOf = (at: string | undefined) => (at === undefined ? undefined : Date.parse(at))

/**
 * A conversation as re-read after a gap -> every join, leave and end it shows, in time order
 * (the ones already delivered are dropped as seen). Agents without a user are skipped.
 */
export const mapConversation = (conversation: Conversation, now: number): ReadonlyArray<ProviderEvent> => {
  const events: Array<{ at: number; event: ProviderEvent }> = []
  for (const p of conversation.participants) {
    if (p.purpose === "agent" && p.user !== undefined) {
      const connectedAt = timeOf(p.connectedTime)
      const leg = ["participant", p.id]
      if (connectedAt !== undefined) {
        events.push({ at: connectedAt, event: joined(conversation.id, leg, p.user.id, connectedAt, p.name) })
      }
      const endedAt = timeOf(p.endTime)
      if (isDisconnected(p) && endedAt !== undefined) {
        for (const event of left(conversation.id, leg, p.user.id, endedAt, p.disconnectType)) {
          events.push({ at: endedAt, event })
        }
      }
    }
    if (p.purpose === "customer" && isDisconnected(p)) {
      const endedAt = timeOf(p.endTime) ?? now
      events.push({ at: endedAt, event: ended(conversation.id, endedAt, endReasonOf(p.disconnectType)) })
    }
  }
  // Stable: a leave and its requeue keep their order; the end comes after whatever happened at its instant.
  return events
    .map((e, i) => ({ ...e, i }))
    .sort((a, b) =>
      a.at - b.at || Number(a.event.type === "session.ended") - Number(b.event.type === "session.ended") || a.i - b.i
    )
    .map((e) => e.event)
}

/**
 * When a plain leave of the last agent turns into the conversation's end, if no agent joins
 * by then: the time to look again. Undefined when no such leave is pending.
 */
export const graceEndsAt = (conversation: Conversation, graceMs: number): number | undefined => {
  const agents = conversation.participants.filter((p) => p.purpose === "agent")
  if (agents.length === 0 || agents.some((p) => !isDisconnected(p))) return undefined
  const last = agents.reduce((a, b) => ((timeOf(b.endTime) ?? 0) > (timeOf(a.endTime) ?? 0) ? b : a))
  const leftAt = timeOf(last.endTime)
  return isTransfer(last.disconnectType) || last.startAcwTime !== undefined || leftAt === undefined
    ? undefined
    : leftAt + graceMs
}

/**
 * Whether the conversation is over for the customer (docs/PROVIDERS.md#conversation-resource,
 * and docs/PROVIDERS.md#lessons-from-systems-that-did-this-before): the customer is
 * disconnected; or no agent is connected and the last one left with after-call work started, or
 * left (not by a transfer) more than `graceMs` ago without another agent joining. Answers the
 * end event, if over.
 */
export const conversationOver = (
  conversation: Conversation,
  now: number,
  graceMs: number
): ProviderEvent | undefined => {
  const customer = conversation.participants.find((p) => p.purpose === "customer")
  if (customer !== undefined && isDisconnected(customer)) {
    return ended(conversation.id, timeOf(customer.endTime) ?? now, endReasonOf(customer.disconnectType))
  }
  const agents = conversation.participants.filter((p) => p.purpose === "agent")
  if (agents.length === 0 || agents.some((p) => !isDisconnected(p))) return undefined
  const last = agents.reduce((a, b) => ((timeOf(b.endTime) ?? 0) > (timeOf(a.endTime) ?? 0) ? b : a))
  if (isTransfer(last.disconnectType)) return undefined
  const leftAt = timeOf(last.endTime) ?? now
  return last.startAcwTime !== undefined || now - leftAt >= graceMs
    ? ended(conversation.id, Math.max(leftAt, now), "agent")
    : undefined
}

const present = (value: string | undefined) => (value !== undefined && value !== "" ? value : undefined)

/**
 * The event id of an outbound webhook: Genesys' message id; without one (optional in the SDK's
 * model), what identifies the webhook instead: the conversation, the sender and the time, and for
 * a message a digest of what it says. A redelivery (byte-identical) gets the same id; without a
 * time either, the gateway's stands in, so a redelivered one may be seen twice.
 */
const webhookEventId = (webhook: OutboundWebhook, occurredAt: string) => {
  const id = present(webhook.id)
  if (id !== undefined) return eventId("webhook", id)
  const conversation = present(webhook.conversationId) ?? webhook.channel.to.id
  const sender = present(webhook.channel.from?.id) ?? present(webhook.channel.from?.nickname) ?? "-"
  const said = webhook.type === "Text"
    ? [sha256Hex(JSON.stringify([webhook.text ?? null, webhook.content ?? null])).slice(0, 16)]
    : []
  return eventId("webhook", conversation, sender, occurredAt, webhook.type, ...said)
}

/** An attachment's content type: its MIME type, when Genesys gives one. */
const contentTypeOf = (attachment: { readonly mime?: string | undefined }) =>
  attachment.mime ?? "application/octet-stream"

/**
 * The outbound webhook -> an agent message or typing; receipts and echoes of our own messages
 * carry nothing. An attachment without a link (`url` is optional in the SDK's model) cannot be
 * passed on: the message keeps its text and names it in `unavailableAttachments`.
 *
 * The message names no agent here: `channel.from` holds the integration's name and id, not the
 * agent's (docs/PROVIDERS.md#outbound-webhook-agent-to-us). The session names it: the agent who has
 * the chat, from the conversation's agent participant at the join (domain/stateMachine.ts).
 */
export const mapOutboundWebhook = (webhook: OutboundWebhook, now: string): ReadonlyArray<ProviderEvent> => {
  if (webhook.direction !== undefined && webhook.direction !== "Outbound") return []
  const occurredAt = webhook.channel.time ?? now
  const id = webhookEventId(webhook, occurredAt)
  switch (webhook.type) {
    case "Text": {
      const files = (webhook.content ?? []).flatMap((c) => (c.attachment === undefined ? [] : [c.attachment]))
      const described = (a: (typeof files)[number]) => ({
        contentType: contentTypeOf(a),
        ...(a.filename !== undefined ? { name: a.filename } : {}),
        ...(a.contentSizeBytes !== undefined ? { size: a.contentSizeBytes } : {})
      })
      const attachments = files.flatMap((a) => {
        const url = present(a.url)
        return url === undefined ? [] : [{ url, ...described(a) }]
      })
      const unavailableAttachments = files.filter((a) => present(a.url) === undefined).map(described)
      if (webhook.text === undefined && attachments.length === 0 && unavailableAttachments.length === 0) return []
      return [
        {
          id,
          occurredAt,
          type: "agent.message",
          data: {
            ...(webhook.text !== undefined ? { text: webhook.text } : {}),
            ...(attachments.length > 0 ? { attachments } : {}),
            ...(unavailableAttachments.length > 0 ? { unavailableAttachments } : {})
          }
        }
      ]
    }
    case "Event":
      return (webhook.events ?? []).some((e) => e.eventType === "Typing")
        ? [{ id, occurredAt, type: "agent.typing", data: { typing: true } }]
        : []
    default:
      return []
  }
}

/** How a Genesys conversation changes: each change publishes its detail event, and the queue topic the conversation as it is then. */
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import type { Notifications } from "./notifications.js"
import {
  type ConversationState,
  type GenesysState,
  type Instant,
  isOver,
  type MutableParticipant,
  now
} from "./state.js"
import type { DisconnectType } from "./types.js"
import type { InboundMessage } from "./wire.js"

export interface Conversations {
  /** The queue's acd participant joins: the conversation waits for an agent. */
  readonly enqueue: (c: ConversationState, at: Instant) => void
  readonly addParticipant: (
    c: ConversationState,
    p: Omit<MutableParticipant, "id" | "attributes"> & { attributes?: Record<string, string> }
  ) => MutableParticipant
  /** One participant leaves; an agent's leave starts after-call work unless it is a transfer. */
  readonly disconnect: (
    c: ConversationState,
    p: MutableParticipant,
    disconnectType: DisconnectType,
    at: Instant
  ) => void
  /** Everybody still connected leaves: the customer with `customerType`, the others with `othersType`. */
  readonly disconnectAll: (c: ConversationState, customerType: DisconnectType, othersType: DisconnectType) => void
  /** The conversation still going on between this integration and this sender, if any. */
  readonly openConversation: (integrationId: string, fromId: string) => ConversationState | undefined
  /** A first message opens a conversation: the customer joins, then the queue. */
  readonly startConversation: (integrationId: string, body: InboundMessage) => Effect.Effect<ConversationState>
}

export const makeConversations = (
  state: GenesysState,
  { publishDetail, publishQueue }: Notifications,
  baseUrl: string
): Conversations => {
  const addParticipant: Conversations["addParticipant"] = (c, p) => {
    const participant: MutableParticipant = { id: randomUUID(), attributes: {}, ...p }
    c.participants.push(participant)
    return participant
  }

  const enqueue = (c: ConversationState, at: Instant) => {
    const acd = addParticipant(c, {
      purpose: "acd",
      state: "connected",
      connectedTime: at.iso,
      name: c.queueId,
      queue: { id: c.queueId }
    })
    publishDetail(c, "acd.start", at, { participantId: acd.id, queueId: c.queueId, mediaType: "MESSAGE" })
  }

  const disconnect = (c: ConversationState, p: MutableParticipant, disconnectType: DisconnectType, at: Instant) => {
    p.state = "disconnected"
    p.disconnectType = disconnectType
    p.endTime = at.iso
    const upper = disconnectType.toUpperCase()
    switch (p.purpose) {
      case "customer":
        return publishDetail(c, "customer.end", at, {
          participantId: p.id,
          disconnectType: upper,
          mediaType: "MESSAGE"
        })
      case "acd":
        return publishDetail(c, "acd.end", at, {
          participantId: p.id,
          queueId: c.queueId,
          disconnectType: upper,
          mediaType: "MESSAGE"
        })
      case "agent": {
        const userId = p.user?.id
        publishDetail(c, "user.end", at, {
          participantId: p.id,
          userId,
          queueId: c.queueId,
          disconnectType: upper,
          mediaType: "MESSAGE"
        })
        // a transfer hands the chat on; any other leave starts after-call work
        if (disconnectType !== "transfer") {
          p.startAcwTime = at.iso
          publishDetail(c, "acw", at, { participantId: p.id, userId })
        }
      }
    }
  }

  const routeQueue = (requested: string | undefined): Effect.Effect<string> => {
    const first = state.queues[0]!.queueId
    if (requested === undefined) return Effect.succeed(first)
    if (state.queues.some((q) => q.queueId === requested)) return Effect.succeed(requested)
    return Effect.as(Effect.logWarning(`genesys sim: unknown queue ${requested}, routed to ${first}`), first)
  }

  return {
    enqueue,
    addParticipant,
    disconnect,
    disconnectAll: (c, customerType, othersType) => {
      const remaining = c.participants.filter((p) => p.state !== "disconnected")
      if (remaining.length === 0) return
      const at = now()
      for (const p of remaining) if (p.purpose !== "customer") disconnect(c, p, othersType, at)
      for (const p of remaining) if (p.purpose === "customer") disconnect(c, p, customerType, at)
      publishQueue(c)
    },
    openConversation: (integrationId, fromId) =>
      [...state.conversations.values()].reverse().find((c) =>
        c.integrationId === integrationId && c.fromId === fromId && !isOver(c)
      ),
    startConversation: (integrationId, body) =>
      Effect.gen(function*() {
        // Custom attributes may come in either place (docs/PROVIDERS.md#custom-attributes); channel.metadata's win.
        const attributes = { ...body.metadata, ...body.channel.metadata?.customAttributes }
        const queueId = yield* routeQueue(attributes["queueId"])
        const from = body.channel.from
        const at = now()
        const c: ConversationState = {
          id: randomUUID(),
          integrationId,
          fromId: from.id,
          fromIdType: from.idType,
          queueId,
          startTime: at.iso,
          participants: [],
          inbound: [],
          typingEvents: 0,
          receipts: []
        }
        state.conversations.set(c.id, c)
        const name = from.nickname ??
          ([from.firstName, from.lastName].filter((s) => s !== undefined).join(" ") || from.id)
        const customer = addParticipant(c, {
          purpose: "customer",
          state: "connected",
          connectedTime: at.iso,
          name,
          attributes
        })
        publishDetail(c, "customer.start", at, { participantId: customer.id, mediaType: "MESSAGE" })
        enqueue(c, at)
        publishQueue(c)
        yield* Effect.log(
          `genesys sim <- new conversation ${c.id} from ${from.id} in queue ${queueId}; ` +
            `drive the agent with POST ${baseUrl}/sim/conversations/${c.id}/join|say|typing|leave|end`
        )
        return c
      })
  }
}

/**
 * Sunshine webhook events and listed messages -> normalized events
 * (docs/PROVIDERS.md#sunshine-webhooks, #sunshine-messages). A message's events derive their
 * ids from the message id, so the webhook and the polling backstop delivering one message make
 * one event; the other events derive theirs from the webhook event id, so a retried webhook is
 * one event too. `occurredAt` is Sunshine's own time, which is what tells a reused
 * conversation's events from before a session apart from the session's own.
 */
import { Either, ParseResult, Schema } from "effect"
import type { Agent, AgentMessageAttachment, ProviderEvent } from "../../domain/model.js"
import {
  type Conversation,
  type Message,
  MessagePayload,
  ReadPayload,
  type SwitchboardIntegration,
  SwitchboardPayload,
  TypingPayload,
  type WebhookEvent
} from "./schemas.js"

/** The switchboard integration of Zendesk's Agent Workspace: whoever holds it, the agents have the conversation. */
export const agentWorkspace = { name: "zd-agentWorkspace", integrationType: "zd:agentWorkspace" } as const

export const isAgentWorkspace = (integration: SwitchboardIntegration | null | undefined) =>
  integration != null &&
  (integration.integrationType === agentWorkspace.integrationType || integration.name === agentWorkspace.name)

/** Whether the agents hold the conversation, or are being offered it. */
export const agentsHold = (conversation: Conversation) =>
  isAgentWorkspace(conversation.activeSwitchboardIntegration) ||
  isAgentWorkspace(conversation.pendingSwitchboardIntegration)

/**
 * Agent messages are the Agent Workspace's. Every message fires the webhook, the gateway's
 * own posts too (user messages, the handover note): those are never relayed back.
 */
export const isAgentMessage = (message: Message) =>
  message.author.type === "business" && message.source?.type === agentWorkspace.integrationType

const messageEventId = (messageId: string) => `zendesk:message:${messageId}`
const webhookEventId = (eventId: string) => `zendesk:event:${eventId}`

const agentOf = (author: Message["author"]): Agent => ({
  ...(author.displayName !== undefined ? { name: author.displayName } : {}),
  ...(author.avatarUrl !== undefined ? { avatarUrl: author.avatarUrl } : {})
})

const attachmentOf = (content: Message["content"]): ReadonlyArray<typeof AgentMessageAttachment.Type> =>
  content.mediaUrl === undefined
    ? []
    : [
      {
        url: content.mediaUrl,
        contentType: content.mediaType ?? (content.type === "image" ? "image/*" : "application/octet-stream"),
        ...(content.altText !== undefined ? { name: content.altText } : {}),
        ...(content.mediaSize !== undefined ? { size: content.mediaSize } : {})
      }
    ]

/**
 * An agent's message: the agent's join (Sunshine announces none after passControl, so the
 * first message is the join; a repeat while the same agent has the chat is dropped), then
 * the message. Anything else (the gateway's own posts) maps to nothing.
 */
export const mapMessage = (message: Message): ReadonlyArray<ProviderEvent> => {
  if (!isAgentMessage(message)) return []
  const agent = agentOf(message.author)
  const attachments = attachmentOf(message.content)
  // An image or file may carry a caption as its text.
  const text = message.content.text
  if ((text === undefined || text === "") && attachments.length === 0) return []
  const id = messageEventId(message.id)
  const occurredAt = message.received
  return [
    { id: `${id}:joined`, occurredAt, type: "agent.joined", data: { agent } },
    {
      id,
      occurredAt,
      type: "agent.message",
      data: {
        ...(text !== undefined && text !== "" ? { text } : {}),
        ...(attachments.length > 0 ? { attachments } : {}),
        agent
      }
    }
  ]
}

/** The agents gave the conversation back (ticket closed, passed back, moved to email): the livechat is over. The backstop's poll decides it. */
export const handedBack = (id: string, occurredAt: string): ReadonlyArray<ProviderEvent> => [
  { id: `${id}:left`, occurredAt, type: "agent.left", data: {} },
  { id: `${id}:ended`, occurredAt, type: "session.ended", data: { reason: "agent" } }
]

export type MappedWebhookEvent =
  | {
    readonly _tag: "Mapped"
    readonly conversationId: string
    readonly events: ReadonlyArray<ProviderEvent>
    /** A control change: the conversation is to be looked at again (./poller.ts) before anything ends. */
    readonly recheck: boolean
  }
  /** A type the gateway does not use (client:add, conversation:remove…). */
  | { readonly _tag: "Ignored" }
  /** A type the gateway uses whose payload it cannot read. */
  | { readonly _tag: "Unreadable"; readonly reason: string }

const decode =
  <A, I>(schema: Schema.Schema<A, I>) =>
  (event: WebhookEvent, map: (payload: A) => MappedWebhookEvent): MappedWebhookEvent =>
    Either.match(Schema.decodeUnknownEither(schema)(event.payload), {
      // The paths only: the formatted values would carry what users wrote into the logs.
      onLeft: (e) => ({
        _tag: "Unreadable",
        reason: ParseResult.ArrayFormatter.formatErrorSync(e).map((i) => i.path.join(".")).join(", ")
      }),
      onRight: map
    })

const mapped = (
  conversation: Conversation,
  events: ReadonlyArray<ProviderEvent>,
  recheck = false
): MappedWebhookEvent => ({
  _tag: "Mapped",
  conversationId: conversation.id,
  events,
  recheck
})

export const mapWebhookEvent = (event: WebhookEvent): MappedWebhookEvent => {
  const id = webhookEventId(event.id)
  switch (event.type) {
    case "conversation:message":
      return decode(MessagePayload)(event, ({ conversation, message }) => mapped(conversation, mapMessage(message)))
    case "conversation:typing":
      return decode(TypingPayload)(event, ({ activity, conversation }) => {
        const { author } = activity
        // Who types need not be said (`author` is optional): while the Agent Workspace holds the
        // conversation, its only typist is the agent (the gateway's user types through the
        // gateway, which sends Sunshine no typing).
        const byAgent = author === undefined
          ? isAgentWorkspace(conversation.activeSwitchboardIntegration)
          : author.type === "business"
        if (!byAgent) return mapped(conversation, [])
        const typing = (typing: boolean): ProviderEvent => ({
          id,
          occurredAt: event.createdAt,
          type: "agent.typing",
          data: { typing, ...(author !== undefined ? { agent: agentOf(author) } : {}) }
        })
        switch (activity.type) {
          case "typing:start":
            // An agent typing has the conversation: the start is the join too, when it is the first
            // sign of the agent. An unnamed typist joins nobody: the typing reaches the bot once an
            // agent has the session.
            return mapped(
              conversation,
              author === undefined ? [typing(true)] : [
                {
                  id: `${id}:joined`,
                  occurredAt: event.createdAt,
                  type: "agent.joined",
                  data: { agent: agentOf(author) }
                },
                typing(true)
              ]
            )
          case "typing:stop":
            return mapped(conversation, [typing(false)])
          default:
            return mapped(conversation, [])
        }
      })
    case "conversation:read":
      return decode(ReadPayload)(event, ({ activity, conversation }) => {
        const author = activity?.author
        // The agent's reads only: the user's (the gateway's own POST /read) come back here too, and
        // a read without an author cannot be told from them: ignored, so our own echo costs no
        // look-up. It names no message: the whole conversation is read.
        if (author?.type !== "business") return { _tag: "Ignored" }
        return mapped(conversation, [
          { id, occurredAt: event.createdAt, type: "agent.read", data: { agent: agentOf(author) } }
        ])
      })
    case "switchboard:acceptControl":
      // After an offerControl: an agent took the conversation. Who, the payload does not say: the join
      // names nobody, and the agent's first message or typing (the author) brings a join naming them.
      return decode(SwitchboardPayload)(event, ({ conversation }) =>
        mapped(
          conversation,
          isAgentWorkspace(conversation.activeSwitchboardIntegration)
            ? [{ id, occurredAt: event.createdAt, type: "agent.joined", data: { agent: {} } }]
            : []
        ))
    case "switchboard:passControl":
      // To the Agent Workspace (our own handover coming back): nothing to look at.
      return decode(SwitchboardPayload)(
        event,
        ({ conversation }) => mapped(conversation, [], !isAgentWorkspace(conversation.activeSwitchboardIntegration))
      )
    case "switchboard:releaseControl":
      // Control left the Agent Workspace (the agent passed it back, closed the ticket, moved it to
      // email), or a passControl says not where it went. Whether for
      // this session (a late ticketClosed of an earlier ticket), the conversation itself says: the
      // backstop reads it, then the session's last messages, and only then ends the session, so a
      // message whose webhook is still being retried is not lost behind the end.
      return decode(SwitchboardPayload)(event, ({ conversation }) => mapped(conversation, [], true))
    default:
      return { _tag: "Ignored" }
  }
}

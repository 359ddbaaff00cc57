/**
 * Sunshine Conversations v2 shapes the gateway reads
 * (docs/PROVIDERS.md#zendesk-sunshine-conversations-v2): API answers and webhook bodies.
 * Unknown fields are ignored.
 */
import { Schema } from "effect"

const Json = Schema.Record({ key: Schema.String, value: Schema.Unknown })

export const Author = Schema.Struct({
  type: Schema.Literal("business", "user"),
  userId: Schema.optional(Schema.String),
  displayName: Schema.optional(Schema.String),
  avatarUrl: Schema.optional(Schema.String)
})

/** text, image and file are what the gateway relays; other types (carousel, form, location…) are read as their text, if any. */
export const Content = Schema.Struct({
  type: Schema.String,
  text: Schema.optional(Schema.String),
  mediaUrl: Schema.optional(Schema.String),
  mediaType: Schema.optional(Schema.String),
  mediaSize: Schema.optional(Schema.Number),
  altText: Schema.optional(Schema.String)
})

export const Message = Schema.Struct({
  id: Schema.String,
  received: Schema.String,
  author: Author,
  content: Content,
  source: Schema.optional(Schema.Struct({ type: Schema.String, integrationId: Schema.optional(Schema.String) })),
  metadata: Schema.optional(Schema.NullOr(Json))
})
export type Message = typeof Message.Type

export const SwitchboardIntegration = Schema.Struct({
  id: Schema.optional(Schema.String),
  name: Schema.optional(Schema.String),
  integrationId: Schema.optional(Schema.String),
  integrationType: Schema.optional(Schema.String)
})
export type SwitchboardIntegration = typeof SwitchboardIntegration.Type

export const Conversation = Schema.Struct({
  id: Schema.String,
  type: Schema.optional(Schema.String),
  activeSwitchboardIntegration: Schema.optional(Schema.NullOr(SwitchboardIntegration)),
  pendingSwitchboardIntegration: Schema.optional(Schema.NullOr(SwitchboardIntegration))
})
export type Conversation = typeof Conversation.Type

export const UserResponse = Schema.Struct({
  user: Schema.Struct({ id: Schema.String, externalId: Schema.optional(Schema.String) })
})
export const ConversationResponse = Schema.Struct({ conversation: Conversation })
export const ConversationList = Schema.Struct({ conversations: Schema.Array(Conversation) })
export const MessagePostResponse = Schema.Struct({ messages: Schema.Array(Message) })
/** Messages are decoded one by one (by the client): one odd message must not hide the others. */
export const MessageList = Schema.Struct({
  messages: Schema.Array(Schema.Unknown),
  meta: Schema.Struct({
    hasMore: Schema.Boolean,
    afterCursor: Schema.optional(Schema.String),
    beforeCursor: Schema.optional(Schema.String)
  })
})
export type MessageList = typeof MessageList.Type
export const ErrorBody = Schema.Struct({
  errors: Schema.Array(Schema.Struct({ code: Schema.optional(Schema.String) }))
})

// ---------------------------------------------------------------------------------------
// Webhooks

export const WebhookEvent = Schema.Struct({
  id: Schema.String.pipe(Schema.minLength(1)),
  createdAt: Schema.String,
  type: Schema.String,
  payload: Schema.Unknown
})
export type WebhookEvent = typeof WebhookEvent.Type

/** Events are decoded one by one: one odd event must not cost the others (Sunshine never retries a 400). */
export const WebhookBody = Schema.Struct({
  app: Schema.Struct({ id: Schema.String }),
  events: Schema.Array(Schema.Unknown)
})

export const MessagePayload = Schema.Struct({ conversation: Conversation, message: Message })
/** `activity.author` is optional in Sunshine's spec (docs/PROVIDERS.md#sunshine-webhooks): its absence costs the typist's name only. */
export const TypingPayload = Schema.Struct({
  conversation: Conversation,
  activity: Schema.Struct({ type: Schema.String, author: Schema.optional(Author) })
})
export const SwitchboardPayload = Schema.Struct({
  conversation: Conversation,
  metadata: Schema.optional(Schema.NullOr(Json)),
  reason: Schema.optional(Schema.String)
})
/**
 * `conversation:read` (the SDK's ConversationReadEventAllOfPayload): every field optional in the
 * spec; who read is `activity.author`, and a read without one is nobody's the gateway can name.
 */
export const ReadPayload = Schema.Struct({
  conversation: Conversation,
  activity: Schema.optional(Schema.Struct({ author: Schema.optional(Author) }))
})

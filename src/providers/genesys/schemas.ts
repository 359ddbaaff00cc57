/**
 * Genesys Cloud wire shapes (docs/PROVIDERS.md#genesys-cloud-cx), decoded once where they
 * enter: API answers in the client, the outbound webhook in the provider, socket frames in
 * the notifications. Only the fields the gateway uses are declared; the rest is ignored.
 */
import { Schema } from "effect"

const NonEmpty = Schema.String.pipe(Schema.minLength(1))

export const TokenGrant = Schema.Struct({
  access_token: NonEmpty,
  token_type: Schema.String,
  expires_in: Schema.Number
})

/** Genesys error bodies: `{ message, code, status, contextId, details, errors }`. */
export const ErrorBody = Schema.Struct({
  code: Schema.optional(Schema.String),
  /** Genesys' id of the failed request: what its support looks a failure up by. */
  contextId: Schema.optional(Schema.String)
})

export const InboundAccepted = Schema.Struct({
  id: NonEmpty,
  conversationId: Schema.optional(Schema.String)
})

export const MessageDetails = Schema.Struct({
  id: Schema.String,
  conversationId: Schema.optional(Schema.String)
})

export const Participant = Schema.Struct({
  id: Schema.String,
  purpose: Schema.String,
  state: Schema.optional(Schema.String),
  disconnectType: Schema.optional(Schema.String),
  connectedTime: Schema.optional(Schema.String),
  endTime: Schema.optional(Schema.String),
  startAcwTime: Schema.optional(Schema.String),
  user: Schema.optional(Schema.Struct({ id: Schema.String })),
  name: Schema.optional(Schema.String)
})
export type Participant = typeof Participant.Type

export const Conversation = Schema.Struct({
  id: Schema.String,
  participants: Schema.Array(Participant)
})
export type Conversation = typeof Conversation.Type

export const NotificationChannel = Schema.Struct({
  id: NonEmpty,
  connectUri: NonEmpty,
  expires: Schema.optional(Schema.String)
})
export type NotificationChannel = typeof NotificationChannel.Type

/**
 * `PUT|POST /api/v2/notifications/channels/{id}/subscriptions` (the SDK's
 * ChannelTopicEntityListing): each topic asked for, with `state` ("Permitted" or "Rejected")
 * and, when rejected, why (`rejectionReason`, `missingPermissions`). A rejected topic sends
 * nothing, ever.
 */
export const ChannelTopicListing = Schema.Struct({
  entities: Schema.optionalWith(
    Schema.Array(Schema.Struct({
      id: Schema.String,
      state: Schema.optional(Schema.String),
      rejectionReason: Schema.optional(Schema.String),
      missingPermissions: Schema.optional(Schema.Array(Schema.String))
    })),
    { default: () => [] }
  )
})
export type ChannelTopicListing = typeof ChannelTopicListing.Type

export const EstimatedWaitTime = Schema.Struct({
  results: Schema.Array(Schema.Struct({ estimatedWaitTimeSeconds: Schema.optional(Schema.Number) }))
})

export const QueueObservations = Schema.Struct({
  results: Schema.Array(
    Schema.Struct({
      data: Schema.optionalWith(
        Schema.Array(
          Schema.Struct({
            metric: Schema.String,
            qualifier: Schema.optional(Schema.String),
            stats: Schema.optional(Schema.Struct({ count: Schema.optional(Schema.Number) }))
          })
        ),
        { default: () => [] }
      )
    })
  )
})

export const GenesysUser = Schema.Struct({ id: Schema.String, name: Schema.optional(Schema.String) })

/**
 * What Genesys posts to the integration's outbound URL: an agent's message, typing, or a receipt.
 * Only what names the session is required (docs/PROVIDERS.md#outbound-webhook-agent-to-us): the
 * SDK's model makes the message `id` and an attachment's `url` optional, and a webhook missing one
 * of them still carries the rest.
 */
export const OutboundWebhook = Schema.Struct({
  id: Schema.optional(Schema.String),
  channel: Schema.Struct({
    id: Schema.optional(Schema.String),
    /** The customer: our session id, as we sent it in `channel.from.id`. */
    to: Schema.Struct({ id: NonEmpty }),
    from: Schema.optional(
      Schema.Struct({ id: Schema.optional(Schema.String), nickname: Schema.optional(Schema.String) })
    ),
    time: Schema.optional(Schema.String)
  }),
  type: Schema.String,
  text: Schema.optional(Schema.String),
  content: Schema.optional(
    Schema.Array(
      Schema.Struct({
        contentType: Schema.optional(Schema.String),
        attachment: Schema.optional(
          Schema.Struct({
            url: Schema.optional(Schema.String),
            mime: Schema.optional(Schema.String),
            mediaType: Schema.optional(Schema.String),
            filename: Schema.optional(Schema.String),
            contentSizeBytes: Schema.optional(Schema.Number)
          })
        )
      })
    )
  ),
  events: Schema.optional(
    Schema.Array(
      Schema.Struct({
        eventType: Schema.String,
        typing: Schema.optional(Schema.Struct({ type: Schema.optional(Schema.String) }))
      })
    )
  ),
  direction: Schema.optional(Schema.String),
  conversationId: Schema.optional(Schema.String)
})
export type OutboundWebhook = typeof OutboundWebhook.Type

/** One frame of the notifications socket. */
export const NotificationFrame = Schema.parseJson(
  Schema.Struct({
    topicName: Schema.String,
    eventBody: Schema.optional(Schema.Unknown)
  })
)

/** The body of a `v2.detail.events.conversation.{id}.*` notification. */
export const DetailEvent = Schema.Struct({
  eventTime: Schema.Number,
  conversationId: Schema.String,
  participantId: Schema.optional(Schema.String),
  userId: Schema.optional(Schema.String),
  disconnectType: Schema.optional(Schema.String)
})
export type DetailEvent = typeof DetailEvent.Type

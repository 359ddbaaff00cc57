/** hbf-lcm's agent events as posted to /events/helvia-livechat (docs/CONTRACTS.md#hbf-lcm). */
import { Schema } from "effect"

export const HelviaEventType = Schema.Literal(
  "CONVERSATION_BEGIN",
  "MESSAGE",
  "CONVERSATION_TYPING",
  "CONVERSATION_END",
  "TRANSFER_REQUEST",
  "REQUEST_MISSED"
)

export const HelviaAgent = Schema.Struct({
  id: Schema.optional(Schema.String),
  fullName: Schema.optional(Schema.String),
  image: Schema.optional(Schema.String)
})

export const HelviaWebhook = Schema.Struct({
  id: Schema.String.pipe(Schema.minLength(1)),
  type: HelviaEventType,
  platformSessionId: Schema.String.pipe(Schema.minLength(1)),
  platformUserId: Schema.String,
  occurredAt: Schema.String,
  agent: Schema.optional(HelviaAgent),
  message: Schema.optional(
    Schema.Struct({
      text: Schema.optional(Schema.String),
      attachments: Schema.optional(
        Schema.Array(Schema.Struct({ name: Schema.String, path: Schema.String, mimetype: Schema.String }))
      )
    })
  ),
  typing: Schema.optional(Schema.Boolean)
})
export type HelviaWebhook = typeof HelviaWebhook.Type

export const signatureHeader = "x-helvia-signature"

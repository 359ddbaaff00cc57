/** hbf-lcm's wire shapes (docs/CONTRACTS.md#hbf-lcm), and the bodies of its sandbox routes. */
import { Schema } from "effect"
import { AgentAttachment } from "../http/agentActions.js"
import { Attachment, HttpUrl, IsoDateTime, Metadata, NonEmptyString } from "../http/schemas.js"

export const LcmCreateRequest = Schema.Struct({
  type: Schema.Literal("external"),
  status: Schema.Literal("new"),
  requestedDate: IsoDateTime,
  platformSessionId: NonEmptyString,
  platformUserId: NonEmptyString,
  platformUserName: Schema.String,
  platformUserEmail: Schema.optional(Schema.String),
  platformUserPhone: Schema.optional(Schema.String),
  platformUserLanguage: Schema.optional(Schema.String),
  platformType: Schema.Literal("LIVECHAT"),
  platformOrigin: NonEmptyString,
  organizationId: NonEmptyString,
  tenantId: NonEmptyString,
  tenantName: Schema.String,
  tenantImageUrl: Schema.String,
  extras: Schema.Struct({
    callbackUrl: HttpUrl,
    transcript: Schema.optional(
      Schema.Array(
        Schema.Struct({ author: Schema.Literal("user", "bot", "agent"), text: Schema.String, at: Schema.String })
      )
    ),
    metadata: Schema.optional(Metadata)
  })
})
export type LcmCreateRequest = typeof LcmCreateRequest.Type

export const LcmUserMessage = Schema.Struct({
  platformSessionId: NonEmptyString,
  platformUserId: NonEmptyString,
  messageId: NonEmptyString,
  text: Schema.optional(Schema.String),
  attachments: Schema.optional(Schema.Array(Attachment)),
  sentDate: IsoDateTime
}).pipe(
  Schema.filter((m) =>
    (m.text !== undefined && m.text !== "") || (m.attachments !== undefined && m.attachments.length > 0)
      ? undefined
      : { path: ["text"], message: "text or attachments is required" }
  )
)
export type LcmUserMessage = typeof LcmUserMessage.Type

export interface LcmAgent {
  readonly id?: string
  readonly fullName?: string
  readonly image?: string
}

export interface LcmAttachment {
  readonly name: string
  readonly path: string
  readonly mimetype: string
}

export type LcmEventType =
  | "CONVERSATION_BEGIN"
  | "MESSAGE"
  | "CONVERSATION_TYPING"
  | "CONVERSATION_END"
  | "TRANSFER_REQUEST"
  | "REQUEST_MISSED"

/** The webhook body hbf-lcm posts to `extras.callbackUrl`. */
export interface LcmWebhookEvent {
  readonly id: string
  readonly type: LcmEventType
  readonly platformSessionId: string
  readonly platformUserId: string
  readonly occurredAt: string
  readonly agent?: LcmAgent
  readonly message?: { readonly text?: string; readonly attachments?: ReadonlyArray<LcmAttachment> }
  readonly typing?: boolean
}

// ---- sandbox bodies ----

export const JoinBody = Schema.Struct({
  id: Schema.optional(Schema.String),
  fullName: Schema.optional(Schema.String),
  image: Schema.optional(Schema.String)
})
export const SayBody = Schema.Struct({
  text: Schema.String,
  attachments: Schema.optional(Schema.Array(AgentAttachment))
})
export const TypingBody = Schema.Struct({ on: Schema.optionalWith(Schema.Boolean, { default: () => true }) })

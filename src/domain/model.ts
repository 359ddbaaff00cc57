/**
 * The normalized model of hbf-lcg (CONTRACTS.md section 1 and 6). Every provider maps
 * into these shapes at its edge; nothing inside the gateway speaks a provider's dialect.
 */
import { Schema } from "effect"

export const ProviderAlias = Schema.Literal("helvia-livechat", "cisco-livechat", "genesys-livechat", "zendesk")
export type ProviderAlias = typeof ProviderAlias.Type
export const providerAliases: ReadonlyArray<ProviderAlias> = ProviderAlias.literals

const NonEmpty = Schema.String.pipe(Schema.minLength(1, { message: () => "must not be empty" }))
/**
 * Ids that appear in URLs, Redis keys, logs and provider payloads: short, and free of control
 * characters (a NUL, CR or LF would reach all of those). Anything else is allowed: subscriber
 * handles carry `:`, `+`, `@` and text in any script.
 */
const controlCharacter = /\p{Cc}/u
export const Id = NonEmpty.pipe(
  Schema.maxLength(256, { message: () => "must be at most 256 characters" }),
  Schema.filter((id) => !controlCharacter.test(id), { message: () => "must not contain control characters" })
)

export const SessionStatus = Schema.Literal("pending", "active", "ended")
export type SessionStatus = typeof SessionStatus.Type
export const openStatuses: ReadonlyArray<SessionStatus> = ["pending", "active"]

export const EndReason = Schema.Literal("agent", "user", "timeout", "inactivity", "provider", "error")
export type EndReason = typeof EndReason.Type

export const User = Schema.Struct({
  name: Schema.optional(Schema.String),
  email: Schema.optional(Schema.String),
  phone: Schema.optional(Schema.String),
  locale: Schema.optional(Schema.String)
})
export type User = typeof User.Type

export const TranscriptEntry = Schema.Struct({
  author: Schema.Literal("user", "bot", "agent"),
  text: Schema.String,
  at: Schema.String
})
export type TranscriptEntry = typeof TranscriptEntry.Type

export const Metadata = Schema.Record({ key: Schema.String, value: Schema.Union(Schema.String, Schema.Number, Schema.Boolean) })
export type Metadata = typeof Metadata.Type

export const Attachment = Schema.Struct({
  url: NonEmpty,
  contentType: NonEmpty,
  name: Schema.optional(Schema.String),
  size: Schema.optional(Schema.NonNegativeInt)
})
export type Attachment = typeof Attachment.Type

export const Agent = Schema.Struct({
  id: Schema.optional(Schema.String),
  name: Schema.optional(Schema.String),
  avatarUrl: Schema.optional(Schema.String)
})
export type Agent = typeof Agent.Type

/** A session as the upstream API shows it. */
export const Session = Schema.Struct({
  sessionId: Schema.String,
  tenantId: Schema.String,
  organizationId: Schema.String,
  subHandle: Schema.String,
  provider: ProviderAlias,
  status: SessionStatus,
  providerConversationId: Schema.optional(Schema.String),
  agent: Schema.optional(Agent),
  createdAt: Schema.String,
  assignedAt: Schema.optional(Schema.String),
  endedAt: Schema.optional(Schema.String),
  endReason: Schema.optional(EndReason),
  position: Schema.optional(Schema.Number),
  estimatedWaitSeconds: Schema.optional(Schema.Number)
}).annotations({ identifier: "Session" })
export type Session = typeof Session.Type

/**
 * What the store keeps: the public session plus the gateway's own bookkeeping.
 * `version` makes every write a compare-and-set; `lastSeq` numbers the session's events;
 * `providerState` is the adapter's opaque cursor (poll cursor, cookie, participant ids).
 */
export const SessionRecord = Schema.Struct({
  ...Session.fields,
  version: Schema.Int,
  lastSeq: Schema.Int,
  lastActivityAt: Schema.String,
  channel: Schema.optional(Schema.String),
  queue: Schema.optional(Schema.String),
  user: Schema.optional(User),
  metadata: Schema.optional(Metadata),
  providerState: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  /**
   * Opened by a token confined to tenants: the session is its tenant's alone. It does not hold
   * the subscriber for other tenants, and look-ups of the subscriber without a tenant (a
   * platform token's) do not find it (docs/SECURITY.md).
   */
  confined: Schema.optional(Schema.Boolean)
}).annotations({ identifier: "SessionRecord" })
export type SessionRecord = typeof SessionRecord.Type

/** The upstream view of a record: the internal bookkeeping fields stripped. */
export const toSession = (record: SessionRecord): Session => {
  const {
    version: _v,
    lastSeq: _s,
    lastActivityAt: _a,
    channel: _c,
    queue: _q,
    user: _u,
    metadata: _m,
    providerState: _p,
    confined: _confined,
    ...session
  } = record
  return session
}

// ---------------------------------------------------------------------------------------
// Normalized events (CONTRACTS.md section 6)

export const EventType = Schema.Literal(
  "request.queued",
  "agent.joined",
  "agent.message",
  "agent.typing",
  "agent.left",
  "session.ended",
  "request.failed"
)
export type EventType = typeof EventType.Type

export const AgentMessageAttachment = Schema.Struct({
  url: Schema.String,
  contentType: Schema.String,
  name: Schema.optional(Schema.String),
  size: Schema.optional(Schema.Number)
})

const EventFields = <T extends EventType, D extends Schema.Struct.Fields>(type: T, data: D) =>
  Schema.Struct({ type: Schema.Literal(type), data: Schema.Struct(data) })

/** The type-specific part of an event: `type` and its `data`. */
export const EventBody = Schema.Union(
  EventFields("request.queued", {
    position: Schema.optional(Schema.Number),
    estimatedWaitSeconds: Schema.optional(Schema.Number)
  }),
  EventFields("agent.joined", { agent: Agent }),
  EventFields("agent.message", {
    text: Schema.optional(Schema.String),
    attachments: Schema.optional(Schema.Array(AgentMessageAttachment)),
    agent: Schema.optional(Agent)
  }),
  EventFields("agent.typing", { typing: Schema.Boolean }),
  EventFields("agent.left", { agent: Schema.optional(Agent) }),
  EventFields("session.ended", { reason: EndReason }),
  EventFields("request.failed", { reason: Schema.String, message: Schema.optional(Schema.String) })
)
export type EventBody = typeof EventBody.Type

/**
 * An event as an adapter produces it: `id` derived deterministically from the provider's
 * own ids, so a redelivered provider event maps to the same id and is dropped as seen.
 */
export type ProviderEvent = EventBody & {
  readonly id: string
  readonly occurredAt: string
}

/** An event as delivered to hbf-bot, numbered per session. */
export const LivechatEvent = Schema.extend(
  Schema.Struct({
    id: Schema.String,
    sessionId: Schema.String,
    tenantId: Schema.String,
    organizationId: Schema.String,
    subHandle: Schema.String,
    provider: ProviderAlias,
    seq: Schema.Int,
    occurredAt: Schema.String
  }),
  EventBody
).annotations({ identifier: "LivechatEvent" })
export type LivechatEvent = typeof LivechatEvent.Type

export const LivechatState = Schema.Struct({
  subHandle: Schema.String,
  state: Schema.Literal("none", "pending", "active", "ended"),
  session: Schema.optional(Session)
}).annotations({ identifier: "LivechatState" })
export type LivechatState = typeof LivechatState.Type

export const Availability = Schema.Struct({
  tenantId: Schema.String,
  available: Schema.Boolean,
  reason: Schema.optional(Schema.Literal("outside-business-hours", "no-agents", "not-configured", "provider-unreachable")),
  businessHours: Schema.Struct({
    timezone: Schema.String,
    openNow: Schema.Boolean,
    nextOpenAt: Schema.optional(Schema.String),
    nextCloseAt: Schema.optional(Schema.String)
  }),
  agentsOnline: Schema.optional(Schema.Number),
  estimatedWaitSeconds: Schema.optional(Schema.Number)
}).annotations({ identifier: "Availability" })
export type Availability = typeof Availability.Type

// ---------------------------------------------------------------------------------------
// Upstream request bodies (CONTRACTS.md section 1)

export const CreateRequest = Schema.Struct({
  tenantId: Id,
  subHandle: Id,
  channel: Schema.optional(Schema.String),
  user: Schema.optional(User),
  transcript: Schema.optional(Schema.Array(TranscriptEntry)),
  metadata: Schema.optional(Metadata),
  queue: Schema.optional(Schema.String)
}).annotations({ identifier: "CreateRequest" })
export type CreateRequest = typeof CreateRequest.Type

export const UpdateRequest = Schema.Struct({
  status: Schema.optional(Schema.Literal("cancelled")),
  user: Schema.optional(User),
  metadata: Schema.optional(Metadata)
}).annotations({ identifier: "UpdateRequest" })
export type UpdateRequest = typeof UpdateRequest.Type

export const ForwardMessage = Schema.Struct({
  tenantId: Id,
  subHandle: Id,
  messageId: Id,
  text: Schema.optional(Schema.String),
  attachments: Schema.optional(Schema.Array(Attachment))
})
  .pipe(
    Schema.filter((m) => (m.text !== undefined && m.text.length > 0) || (m.attachments?.length ?? 0) > 0, {
      message: () => "a message needs text or attachments"
    })
  )
  .annotations({ identifier: "ForwardMessage" })
export type ForwardMessage = typeof ForwardMessage.Type

/** The user is typing (hbf-bot sees it on the user's channel). */
export const UserTyping = Schema.Struct({ tenantId: Id, subHandle: Id }).annotations({ identifier: "UserTyping" })
export type UserTyping = typeof UserTyping.Type

export const TypingAccepted = Schema.Struct({
  sessionId: Schema.String,
  /** Whether the provider was told: some providers have no way to show the agent that the user types. */
  forwarded: Schema.Boolean
}).annotations({ identifier: "TypingAccepted" })
export type TypingAccepted = typeof TypingAccepted.Type

export const MessageAccepted = Schema.Struct({
  messageId: Schema.String,
  sessionId: Schema.String,
  providerMessageId: Schema.optional(Schema.String)
}).annotations({ identifier: "MessageAccepted" })
export type MessageAccepted = typeof MessageAccepted.Type

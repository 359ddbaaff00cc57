/**
 * The normalized model of hbf-lcg (docs/CONTRACTS.md#upstream-api and #hbf-bot). Every provider
 * maps into these shapes at its edge; nothing inside the gateway speaks a provider's dialect.
 */
import { Schema } from "effect"

export const ProviderAlias = Schema.Literal("helvia-livechat", "cisco-livechat", "genesys-livechat", "zendesk")
export type ProviderAlias = typeof ProviderAlias.Type
export const providerAliases: ReadonlyArray<ProviderAlias> = ProviderAlias.literals

const NonEmpty = Schema.String.pipe(Schema.minLength(1, { message: () => "must not be empty" }))
/**
 * Ids that appear in URLs, Redis keys, logs and provider payloads: short, free of control
 * characters (a NUL, CR or LF would reach all of those) and of unpaired surrogates (UTF-8
 * has none: Redis would get U+FFFD for each, so that "s\ud800" and "s\udfff" named one key).
 * Anything else is allowed: subscriber handles carry `:`, `+`, `@` and text in any script.
 */
const controlOrLoneSurrogate = /[\p{Cc}\p{Cs}]/u
export const Id = NonEmpty.pipe(
  Schema.maxLength(256, { message: () => "must be at most 256 characters" }),
  Schema.filter((id) => !controlOrLoneSurrogate.test(id), {
    message: () => "must not contain control characters or unpaired surrogates"
  })
)

/** Free text a session keeps (a user's name, a channel): at most 256 characters, rewritten with the session on every change. */
const ShortText = Schema.String.pipe(Schema.maxLength(256, { message: () => "must be at most 256 characters" }))

/**
 * A label a session keeps and shows (its queue, its channel): part of Redis keys (a queue's
 * pending index) and printed by the operator's tools (`npm run timeline`), so free of control
 * characters and unpaired surrogates as ids are.
 */
const Label = ShortText.pipe(
  Schema.filter((name) => !controlOrLoneSurrogate.test(name), {
    message: () => "must not contain control characters or unpaired surrogates"
  })
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

/** The user as a request gives it (stored records keep the plain `User`: one stored before the limits still reads). */
const RequestUser = Schema.Struct({
  name: Schema.optionalWith(ShortText, { exact: true }),
  email: Schema.optionalWith(ShortText, { exact: true }),
  phone: Schema.optionalWith(ShortText, { exact: true }),
  locale: Schema.optionalWith(ShortText, { exact: true })
})

export const TranscriptEntry = Schema.Struct({
  author: Schema.Literal("user", "bot", "agent"),
  text: Schema.String,
  at: Schema.String
})
export type TranscriptEntry = typeof TranscriptEntry.Type

export const Metadata = Schema.Record({
  key: Schema.String,
  value: Schema.Union(Schema.String, Schema.Number, Schema.Boolean)
})
export type Metadata = typeof Metadata.Type

/**
 * What a request may carry into a session (README "Limits"). The session record holds the
 * metadata and is rewritten on every change of the session; the transcript and a message's
 * text go to the provider in one call. Sizes are UTF-8 bytes, of the JSON where "in all".
 */
export const requestLimits = {
  metadataKeys: 50,
  metadataKeyChars: 256,
  metadataValueBytes: 2 * 1024,
  metadataBytes: 16 * 1024,
  transcriptEntries: 200,
  transcriptBytes: 64 * 1024,
  messageTextBytes: 16 * 1024,
  attachments: 10,
  attachmentUrlChars: 2048
} as const

/** The size of `value` as JSON, in UTF-8 bytes. */
export const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value))

/** A limit in bytes as the 400s and the API docs name it: `16384 bytes (16 KB)`. */
const inBytes = (bytes: number) => `${bytes} bytes (${bytes / 1024} KB)`

/** The metadata limit `metadata` breaks, as its 400 names it; undefined within them all. */
export const metadataOverLimit = (metadata: Metadata): string | undefined => {
  const keys = Object.keys(metadata)
  if (keys.length > requestLimits.metadataKeys) return `at most ${requestLimits.metadataKeys} keys`
  for (const key of keys) {
    if (key.length > requestLimits.metadataKeyChars) {
      return `at most ${requestLimits.metadataKeyChars} characters per key`
    }
    const value = metadata[key]
    if (typeof value === "string" && Buffer.byteLength(value) > requestLimits.metadataValueBytes) {
      return `at most ${inBytes(requestLimits.metadataValueBytes)} per value`
    }
  }
  if (jsonBytes(metadata) > requestLimits.metadataBytes) return `at most ${inBytes(requestLimits.metadataBytes)} in all`
  return undefined
}

/** Metadata as a request gives it, within the limits (stored records keep the plain `Metadata`: one stored before the limits still reads). */
const RequestMetadata = Metadata.pipe(Schema.filter(metadataOverLimit)).annotations({
  description:
    `at most ${requestLimits.metadataKeys} keys of at most ${requestLimits.metadataKeyChars} characters, string values of at most ${
      inBytes(requestLimits.metadataValueBytes)
    }, ${inBytes(requestLimits.metadataBytes)} in all (UTF-8, as JSON)`
})

/** A user's attachment, as a link: each provider gets its URL (CCP in the chat's text). */
export const Attachment = Schema.Struct({
  url: NonEmpty.pipe(
    Schema.maxLength(requestLimits.attachmentUrlChars, {
      message: () => `must be at most ${requestLimits.attachmentUrlChars} characters`
    })
  ),
  contentType: NonEmpty.pipe(Schema.maxLength(256, { message: () => "must be at most 256 characters" })),
  name: Schema.optionalWith(ShortText, { exact: true }),
  size: Schema.optional(Schema.NonNegativeInt)
})
export type Attachment = typeof Attachment.Type

/**
 * Where a request's queue figures came from: the contact center's own (`provider`), or the
 * gateway's records of the tenant's requests (`gateway`: docs/ARCHITECTURE.md#queue-figures).
 */
export const QueueSource = Schema.Literal("provider", "gateway")
export type QueueSource = typeof QueueSource.Type

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
  /** The agent who has the chat, or had it last (kept after a leave, a requeue and the end). */
  agent: Schema.optional(Agent),
  /** When `agent` left the chat: set, no agent has it now. */
  agentLeftAt: Schema.optional(Schema.String),
  createdAt: Schema.String,
  assignedAt: Schema.optional(Schema.String),
  endedAt: Schema.optional(Schema.String),
  endReason: Schema.optional(EndReason),
  /** While pending: the latest queue figures hbf-bot was sent (`request.queued`), and where they came from. */
  position: Schema.optional(Schema.Number),
  estimatedWaitSeconds: Schema.optional(Schema.Number),
  queueSource: Schema.optional(QueueSource)
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
  /** When hbf-bot was last sent `request.queued` figures (the updates are throttled per session). */
  queueUpdatedAt: Schema.optional(Schema.String),
  /** When `request.wait-warning` was sent: once per session. */
  waitWarnedAt: Schema.optional(Schema.String),
  /** The `lastActivityAt` a `session.inactivity-warning` was sent for: a later activity makes the next one due. */
  inactivityWarnedFor: Schema.optional(Schema.String),
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
    queueUpdatedAt: _qu,
    waitWarnedAt: _ww,
    inactivityWarnedFor: _iw,
    confined: _confined,
    ...session
  } = record
  return session
}

// ---------------------------------------------------------------------------------------
// Normalized events (docs/CONTRACTS.md#hbf-bot)

export const EventType = Schema.Literal(
  "request.queued",
  "agent.joined",
  "agent.message",
  "agent.typing",
  "agent.left",
  "session.ended",
  "request.failed",
  "request.wait-warning",
  "session.inactivity-warning",
  "agent.read"
)
export type EventType = typeof EventType.Type

export const AgentMessageAttachment = Schema.Struct({
  url: Schema.String,
  contentType: Schema.String,
  name: Schema.optional(Schema.String),
  size: Schema.optional(Schema.Number)
})

/**
 * An attachment the agent sent that cannot be passed on (the provider gave no link to it): what
 * is known of it, so that the user can be told something was sent (docs/CONTRACTS.md#hbf-bot).
 */
export const UnavailableAttachment = Schema.Struct({
  contentType: Schema.String,
  name: Schema.optional(Schema.String),
  size: Schema.optional(Schema.Number)
})

const EventFields = <T extends EventType, D extends Schema.Struct.Fields>(type: T, data: D) =>
  Schema.Struct({ type: Schema.Literal(type), data: Schema.Struct(data) })

/** The type-specific part of an event: `type` and its `data`. */
export const EventBody = Schema.Union(
  EventFields("request.queued", {
    /** 1 = next. */
    position: Schema.optional(Schema.Int),
    estimatedWaitSeconds: Schema.optional(Schema.Int),
    /** Where the figures came from; absent when there are none (a handback before any are known). */
    source: Schema.optional(QueueSource),
    /** After a transfer: the agent who handed the chat back to the queue. */
    agent: Schema.optional(Agent)
  }),
  EventFields("agent.joined", { agent: Agent }),
  EventFields("agent.message", {
    text: Schema.optional(Schema.String),
    attachments: Schema.optional(Schema.Array(AgentMessageAttachment)),
    unavailableAttachments: Schema.optional(Schema.Array(UnavailableAttachment)),
    agent: Schema.optional(Agent)
  }),
  EventFields("agent.typing", { typing: Schema.Boolean, agent: Schema.optional(Agent) }),
  EventFields("agent.left", { agent: Schema.optional(Agent) }),
  EventFields("session.ended", { reason: EndReason }),
  EventFields("request.failed", { reason: Schema.String, message: Schema.optional(Schema.String) }),
  /** The request has waited the tenant's `timeouts.waitWarningSeconds`: sent once, while still pending. */
  EventFields("request.wait-warning", {
    waitedSeconds: Schema.Int,
    position: Schema.optional(Schema.Int),
    estimatedWaitSeconds: Schema.optional(Schema.Int)
  }),
  /** The session will be closed for inactivity at `endsAt` unless the user or the agent does something before. */
  EventFields("session.inactivity-warning", { endsAt: Schema.String }),
  /** The agent has read the user's messages, up to this one where the provider says which. */
  EventFields("agent.read", { upToProviderMessageId: Schema.optional(Schema.String), agent: Schema.optional(Agent) })
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

export const ProviderHealth = Schema.Literal("ok", "degraded", "unreachable")
export type ProviderHealth = typeof ProviderHealth.Type

export const Availability = Schema.Struct({
  tenantId: Schema.String,
  available: Schema.Boolean,
  reason: Schema.optional(
    Schema.Literal("outside-business-hours", "no-agents", "not-configured", "provider-unreachable")
  ),
  businessHours: Schema.Struct({
    timezone: Schema.String,
    openNow: Schema.Boolean,
    nextOpenAt: Schema.optional(Schema.String),
    nextCloseAt: Schema.optional(Schema.String)
  }),
  agentsOnline: Schema.optional(Schema.Number),
  estimatedWaitSeconds: Schema.optional(Schema.Number),
  /**
   * How the tenant's recent calls to its provider went: `unreachable` while its credential's
   * breaker is open (then `available: false`, reason `provider-unreachable`), `degraded` while
   * calls fail but not enough to open it, or it lets a probe through. Absent when no provider is configured.
   */
  health: Schema.optional(ProviderHealth),
  /** Where each figure above came from. */
  sources: Schema.optional(
    Schema.Struct({
      agentsOnline: Schema.optional(Schema.Literal("provider")),
      estimatedWaitSeconds: Schema.optional(QueueSource)
    })
  ),
  followedBy: Schema.optional(
    Schema.Literal("notifications", "polling").annotations({
      description:
        "How the provider's agent joins, leaves and conversation ends reach the gateway: `notifications` as they happen; `polling` when the provider refused the notification topics (missing permissions), so they arrive up to about 15 s later. Absent when the provider has no such choice or it is not known now."
    })
  )
}).annotations({ identifier: "Availability" })
export type Availability = typeof Availability.Type

// ---------------------------------------------------------------------------------------
// Upstream request bodies (docs/CONTRACTS.md#upstream-api)

const Transcript = Schema.Array(TranscriptEntry).pipe(
  Schema.filter((transcript) => {
    if (transcript.length > requestLimits.transcriptEntries) return `at most ${requestLimits.transcriptEntries} entries`
    if (jsonBytes(transcript) > requestLimits.transcriptBytes) {
      return `at most ${inBytes(requestLimits.transcriptBytes)} in all`
    }
    return undefined
  })
).annotations({
  description: `at most ${requestLimits.transcriptEntries} entries, ${
    inBytes(requestLimits.transcriptBytes)
  } in all (UTF-8, as JSON)`
})

/** Each UTF-16 unit is at most 3 UTF-8 bytes: most texts are within the limit by their length alone, uncounted (the forward path). */
const MessageText = Schema.String.pipe(
  Schema.filter(
    (text) =>
      text.length * 3 <= requestLimits.messageTextBytes ||
      Buffer.byteLength(text) <= requestLimits.messageTextBytes ||
      `at most ${inBytes(requestLimits.messageTextBytes)}`
  )
).annotations({
  description: `at most ${
    inBytes(requestLimits.messageTextBytes)
  } (UTF-8); Sunshine gets it in parts of 4,096 characters`
})

// The limited fields are exact optionals: a union with undefined would add "expected undefined" to their 400s.
export const CreateRequest = Schema.Struct({
  tenantId: Id,
  subHandle: Id,
  channel: Schema.optionalWith(Label, { exact: true }),
  user: Schema.optionalWith(RequestUser, { exact: true }),
  transcript: Schema.optionalWith(Transcript, { exact: true }),
  metadata: Schema.optionalWith(RequestMetadata, { exact: true }),
  queue: Schema.optionalWith(Label, { exact: true })
}).annotations({ identifier: "CreateRequest" })
export type CreateRequest = typeof CreateRequest.Type

export const UpdateRequest = Schema.Struct({
  status: Schema.optional(Schema.Literal("cancelled")),
  user: Schema.optionalWith(RequestUser, { exact: true }),
  /** Merged into the session's: the merged metadata is held to the same limits (LivechatRequests `update`). */
  metadata: Schema.optionalWith(RequestMetadata, { exact: true })
}).annotations({ identifier: "UpdateRequest" })
export type UpdateRequest = typeof UpdateRequest.Type

export const ForwardMessage = Schema.Struct({
  tenantId: Id,
  subHandle: Id,
  messageId: Id,
  text: Schema.optionalWith(MessageText, { exact: true }),
  attachments: Schema.optionalWith(
    Schema.Array(Attachment).pipe(
      Schema.maxItems(requestLimits.attachments, { message: () => `at most ${requestLimits.attachments} attachments` })
    ),
    { exact: true }
  )
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

/** What the provider made of a user message: its attachments' fate, and how many messages the agent got. */
export const MessageDelivery = Schema.Struct({
  /** Absent when the message had none. */
  attachments: Schema.optional(Schema.Literal("native", "as-links", "dropped")),
  /** Messages the agent sees (a long text split, attachments sent apart); at least 1. */
  parts: Schema.Int
}).annotations({ identifier: "MessageDelivery" })
export type MessageDelivery = typeof MessageDelivery.Type

export const MessageAccepted = Schema.Struct({
  messageId: Schema.String,
  sessionId: Schema.String,
  providerMessageId: Schema.optional(Schema.String),
  delivery: MessageDelivery
}).annotations({ identifier: "MessageAccepted" })
export type MessageAccepted = typeof MessageAccepted.Type

/**
 * The user has read the conversation, up to `messageId` where given: the `id` of an `agent.message`
 * event hbf-bot received (docs/CONTRACTS.md#upstream-api); any other id reads as everything so far.
 */
export const UserRead = Schema.Struct({
  tenantId: Id,
  subHandle: Id,
  messageId: Schema.optionalWith(Id, { exact: true })
}).annotations({ identifier: "UserRead" })
export type UserRead = typeof UserRead.Type

export const ReadAccepted = Schema.Struct({
  sessionId: Schema.String,
  /** Whether the provider was told: some providers take no read receipts from the user. */
  forwarded: Schema.Boolean
}).annotations({ identifier: "ReadAccepted" })
export type ReadAccepted = typeof ReadAccepted.Type

/**
 * What the tenant's provider carries (`GET /tenants/:tenantId/capabilities`), declared beside
 * each provider's code (`capabilities` of its `LivechatProvider`).
 */
export const Capabilities = Schema.Struct({
  provider: ProviderAlias,
  /** The agent sees the user typing (`POST /typing` answers `forwarded: true`). */
  userTyping: Schema.Boolean,
  /** hbf-bot gets `agent.typing`. */
  agentTyping: Schema.Boolean,
  /** `user`: `POST /read` reaches the agent; `agent`: hbf-bot gets `agent.read`. */
  readReceipts: Schema.Struct({ user: Schema.Boolean, agent: Schema.Boolean }),
  /** The user's attachments reach the agent as files (`native`), as links in the text (`as-links`), or not at all. */
  userAttachments: Schema.Literal("native", "as-links", "none"),
  /** The agent's attachments reach hbf-bot. */
  agentAttachments: Schema.Literal("native", "none"),
  /** The longest text the agent gets as one message (characters). */
  maxTextLength: Schema.Int,
  /** A longer text is sent in several messages (else it is refused or cut by the provider). */
  splitsLongText: Schema.Boolean,
  /**
   * Where a waiting request's `position` comes from: `provider` where the provider tells it,
   * `gateway` where the gateway ranks the tenant's pending requests itself (a provider's
   * estimated wait alone, as Genesys gives one per queue, does not make it `provider`).
   */
  queuePosition: QueueSource,
  /** An agent can hand the chat back to a queue (hbf-bot gets `agent.left` then `request.queued`). */
  transfer: Schema.Boolean
}).annotations({ identifier: "Capabilities" })
export type Capabilities = typeof Capabilities.Type

import type { Effect, Option } from "effect"
import type {
  Attachment,
  Capabilities,
  EndReason,
  MessageDelivery,
  Metadata,
  ProviderAlias,
  ProviderEvent,
  SessionRecord,
  TranscriptEntry
} from "../domain/model.js"
import type { LivechatConfig, Tenant } from "../domain/tenant.js"
import type { ConversationOver, MalformedWebhook, PayloadTooLarge, ProviderError } from "./errors.js"

export interface CreateContext {
  readonly session: SessionRecord
  readonly tenant: Tenant
  readonly config: LivechatConfig
  readonly transcript: ReadonlyArray<TranscriptEntry>
  readonly metadata?: Metadata
  /** Where this provider's webhooks reach the gateway. */
  readonly callbackUrl: string
}

export interface Created {
  readonly conversationId: string
  readonly providerState?: Record<string, unknown>
  /** Events known at once, e.g. the queue position. */
  readonly events?: ReadonlyArray<ProviderEvent>
}

export interface SessionContext {
  readonly session: SessionRecord
  readonly config: LivechatConfig
}

export interface UserMessage {
  readonly messageId: string
  readonly text?: string
  readonly attachments?: ReadonlyArray<Attachment>
}

/** A waiting request's place in the provider's queue, where the provider tells it; absent fields it does not. */
export interface ProviderQueueFigures {
  readonly position?: number
  readonly estimatedWaitSeconds?: number
}

export interface ProviderAvailability {
  readonly agentsOnline?: number
  readonly estimatedWaitSeconds?: number
  /** How agent joins, leaves and ends reach the gateway (see `Availability.followedBy`). */
  readonly followedBy?: "notifications" | "polling"
}

/**
 * A verified webhook body's events for one conversation. Its session is named by our session
 * id where the provider echoes it back (the surest way), else by the provider's conversation
 * id, looked up among the verified tenants' conversations.
 */
export type WebhookBatch = ({ readonly sessionId: string } | { readonly conversationId: string }) & {
  readonly events: ReadonlyArray<ProviderEvent>
  /**
   * The webhook says something the provider confirms by looking at the conversation itself
   * (a Sunshine hand-back: the session's last messages are read before it ends).
   */
  readonly recheck?: boolean
}

/**
 * Who a webhook claims to come from, found with the least work and nothing trusted yet: the
 * session it names (helvia, Genesys: one id of the body), or a source that tenants register
 * as theirs when they open a session (Sunshine: a digest of the shared secret it carries).
 * The tenants found through it verify the webhook; nothing else of it is read before.
 */
export type WebhookSender =
  | { readonly _tag: "Session"; readonly sessionId: string }
  | { readonly _tag: "Source"; readonly source: string }

export interface IncomingWebhook {
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly body: Uint8Array
}

/** One contact-center product, mapped to the normalized model at its edge; `A` is its alias. */
export interface LivechatProvider<A extends ProviderAlias = ProviderAlias> {
  readonly alias: A
  /** What the provider carries (`GET /tenants/:tenantId/capabilities`), declared beside the code that does it. */
  readonly capabilities: Capabilities
  readonly create: (context: CreateContext) => Effect.Effect<Created, ProviderError>
  /**
   * ConversationOver: the provider says the conversation ended (before the gateway heard it).
   * `delivery` is `deliveryOf(message)`, answered here so that the forward path adds no step for it.
   */
  readonly sendMessage: (
    context: SessionContext,
    message: UserMessage
  ) => Effect.Effect<
    { readonly providerMessageId?: string; readonly delivery: MessageDelivery },
    ProviderError | ConversationOver
  >
  /**
   * What `sendMessage` makes of `message` (its attachments' fate, the messages the agent gets),
   * known without sending it: also the answer to a retry of a message whose result was stored
   * without one (by a version before deliveries were kept).
   */
  readonly deliveryOf: (message: UserMessage) => MessageDelivery
  /**
   * Starts following the provider's side of a session once it is stored with its
   * conversation id (e.g. subscribes to its notifications). Failures are the provider's to
   * log and recover from.
   */
  readonly follow?: (context: SessionContext) => Effect.Effect<void>
  /** Tells the agent that the user is typing; absent = the provider has no way to. */
  readonly sendTyping?: (context: SessionContext) => Effect.Effect<void, ProviderError | ConversationOver>
  /**
   * Tells the agent that the user has read the conversation, up to `upTo` where given: the id
   * of an `agent.message` event, which a provider whose receipts name a message reads its own
   * message id from (its mapper made the event id). Absent = the provider has no way to.
   */
  readonly sendRead?: (
    context: SessionContext,
    upTo: string | undefined
  ) => Effect.Effect<void, ProviderError | ConversationOver>
  /** The provider's figures for a waiting request; absent = it tells none (the gateway computes them). */
  readonly queueFigures?: (context: SessionContext) => Effect.Effect<ProviderQueueFigures, ProviderError>
  /** Tells the provider the session is over (user left, timeout); `reason` is why. */
  readonly end: (context: SessionContext, reason: EndReason) => Effect.Effect<void, ProviderError>
  /** What the provider knows about agents right now; absent = the provider cannot tell. */
  readonly availability?: (config: LivechatConfig) => Effect.Effect<ProviderAvailability, ProviderError>
  /**
   * A cheap, harmless call that shows whether the provider answers, made when its credential's
   * breaker lets a probe through (docs/PROVIDERS.md); its outcome is recorded like any call's.
   * Absent where `availability` already calls the provider (Genesys): that call is the probe.
   */
  readonly probe?: (config: LivechatConfig) => Effect.Effect<void, ProviderError>
  /**
   * How the provider pushes events to /events/:alias; absent = it pushes nothing (CCP is
   * polled), and every POST there is refused. A webhook is authenticated before its body is
   * decoded (docs/SECURITY.md): the header must be there and well formed, the sender it claims
   * must lead to tenants, and one of their configs must verify it.
   */
  readonly webhook?: {
    /** The header that authenticates the webhook (a signature, or Sunshine's shared secret). */
    readonly authHeader: string
    /** Whether the header's value has the exact form of one (encoding and length), checked before anything else. */
    readonly wellFormed: (header: string) => boolean
    /** The sender the webhook claims; none when the body does not even say that much. */
    readonly senderOf: (webhook: IncomingWebhook) => Option.Option<WebhookSender>
    /** The source a tenant's webhooks come from, for providers that name a source (remembered when a session is created). */
    readonly sourceOf?: (config: LivechatConfig) => Option.Option<string>
    /** Whether the webhook's signature or shared secret is the tenant's. */
    readonly verify: (config: LivechatConfig, webhook: IncomingWebhook) => boolean
    /** Decodes a verified body into per-conversation events; more events than a webhook may carry is PayloadTooLarge. */
    readonly parse: (body: Uint8Array) => Effect.Effect<ReadonlyArray<WebhookBatch>, MalformedWebhook | PayloadTooLarge>
    /**
     * A verified batch for `session`: the events to ingest (absent = all of them). A provider
     * that carries a user's successive livechats in one conversation (Sunshine) leaves out
     * what happened before the session began, and acts on `recheck`.
     */
    readonly forSession?: (session: SessionRecord, batch: WebhookBatch) => Effect.Effect<ReadonlyArray<ProviderEvent>>
  }
}

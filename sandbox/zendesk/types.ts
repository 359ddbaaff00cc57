/** The Sunshine Conversations simulator's options, what it shows, and its scripting interface. */
import { Data, type Effect } from "effect"

export interface ZendeskSimOptions {
  readonly appId: string
  readonly keyId: string
  readonly keySecret: string
  /** Sent as header X-API-Key with every webhook call. */
  readonly webhookSecret: string
  /** Where webhooks go (the gateway's Zendesk webhook route); unset = nothing is delivered. See `setWebhookUrl`. */
  readonly webhookUrl?: string
  /** The bot's switchboard integration, the app's default one: id default random (24 hex), name default "hbf-lcg". */
  readonly botIntegration?: { readonly id?: string; readonly name?: string }
  /** Messages per page of `GET .../messages`; default 100 (the real, fixed size). */
  readonly pageSize?: number
  /** Default 30,000: a conversation holding that many answers 423 to new messages. */
  readonly maxMessagesPerConversation?: number
  /** Waits between webhook attempts (attempts = 1 + length); default [200, 400, 800, 1600]: 5 attempts like the real service, faster. */
  readonly retryDelaysMs?: ReadonlyArray<number>
  /** Per webhook attempt; default 20,000 ms. */
  readonly webhookTimeoutMs?: number
  /** Events waiting together are sent in one call (up to 10); default false: one event per call. */
  readonly batchWebhookEvents?: boolean
}

export type SunshineMetadata = Readonly<Record<string, string | number | boolean>>

/** A switchboard integration as conversations and webhooks show it. */
export interface SwitchboardIntegration {
  readonly id: string
  readonly name: string
  readonly integrationId: string
  readonly integrationType: string
}

export type MessageContent =
  | { readonly type: "text"; readonly text: string }
  | {
    readonly type: "image" | "file"
    readonly mediaUrl: string
    readonly mediaType?: string
    readonly altText?: string
    readonly text?: string
  }

export interface MessageAuthor {
  readonly type: "user" | "business"
  readonly userId?: string
  readonly displayName: string
  readonly avatarUrl?: string
}

/** A message as the API and the webhooks show it. */
export interface ZendeskMessage {
  /** 24 hex chars. */
  readonly id: string
  readonly received: string
  readonly author: MessageAuthor
  readonly content: MessageContent
  /** `api:conversations` for messages posted through the API, `zd:agentWorkspace` for the agent's. */
  readonly source: { readonly type: string; readonly integrationId?: string }
  readonly metadata?: SunshineMetadata
}

export type SwitchboardAction = "passControl" | "offerControl" | "acceptControl" | "releaseControl"
export type SwitchboardReason = "ticketClosed" | "transferToEmail"

export interface SimSwitchboardAction {
  readonly action: SwitchboardAction
  /** `api`: a request to the API (the gateway); `agent`: the scripted agent workspace. */
  readonly by: "api" | "agent"
  readonly at: string
  /** Names of the integration in control before and after. */
  readonly from: string
  readonly to: string
  /** The integration offered control (offerControl). */
  readonly pending?: string
  readonly metadata?: SunshineMetadata
  readonly reason?: SwitchboardReason
}

export type ActivityType = "typing:start" | "typing:stop" | "conversation:read"

export interface SimActivity {
  readonly type: ActivityType
  readonly by: "api" | "agent"
  readonly author: { readonly type: "user" | "business"; readonly userId?: string; readonly displayName?: string }
  readonly at: string
}

export interface AgentIdentity {
  readonly displayName: string
  readonly avatarUrl?: string
}

export interface SimZendeskConversation {
  readonly id: string
  /** The participant's Sunshine user id and externalId. */
  readonly userId: string
  readonly userExternalId: string
  readonly metadata: SunshineMetadata
  readonly createdAt: string
  /** Name of the switchboard integration in control ("hbf-lcg" or "zd-agentWorkspace" by default). */
  readonly activeSwitchboardIntegration: string
  readonly pendingSwitchboardIntegration?: string
  /** The agent who accepted or spoke last while the agent workspace holds control. */
  readonly agent?: AgentIdentity
  readonly switchboardActions: ReadonlyArray<SimSwitchboardAction>
  readonly messages: ReadonlyArray<ZendeskMessage>
  readonly activities: ReadonlyArray<SimActivity>
}

export interface SimZendeskUser {
  readonly id: string
  readonly externalId: string
  readonly profile: Readonly<Record<string, string>>
  readonly signedUpAt: string
}

export type WebhookEventType =
  | "conversation:message"
  | "conversation:typing"
  | "switchboard:passControl"
  | "switchboard:offerControl"
  | "switchboard:acceptControl"
  | "switchboard:releaseControl"

export interface WebhookEvent {
  /** 24 hex chars, unique: the receiver's de-duplication key. */
  readonly id: string
  readonly createdAt: string
  readonly type: WebhookEventType
  readonly payload: Readonly<Record<string, unknown>>
}

/** One webhook call (with its retries), or events that never left (dropped, no target). */
export interface SimWebhookDelivery {
  readonly url: string | undefined
  readonly eventIds: ReadonlyArray<string>
  readonly types: ReadonlyArray<WebhookEventType>
  /** The answer status of each attempt, 0 when none came (refused, timed out). */
  readonly statuses: ReadonlyArray<number>
  readonly attempts: number
  readonly finalStatus: number | undefined
  readonly outcome: "pending" | "delivered" | "failed" | "dropped" | "noTarget"
  /** The second sending of a call (duplicateNextWebhooks). */
  readonly duplicate: boolean
}

export interface SimApiRequest {
  readonly method: string
  readonly path: string
  /** The query string without `?` ("" when none). */
  readonly query: string
  readonly status: number
}

/**
 * Scripting methods die (a `ZendeskSimError` defect) on misuse: an unknown conversation, an
 * agent action while the agent workspace does not hold control. The /sim routes answer those as 404/409.
 */
export interface ZendeskSim {
  /** e.g. http://127.0.0.1:PORT/sc — the gateway's `apiBaseUrl`; the API is under {baseUrl}/v2/apps/{appId}. */
  readonly baseUrl: string
  readonly botIntegration: SwitchboardIntegration
  readonly agentWorkspace: SwitchboardIntegration
  readonly conversations: () => ReadonlyArray<SimZendeskConversation>
  /** The newest conversation of the user with that externalId. */
  readonly conversationOf: (externalId: string) => SimZendeskConversation | undefined
  readonly users: () => ReadonlyArray<SimZendeskUser>
  /** Every API request (not /sim): method, path, query, status answered. */
  readonly requests: () => ReadonlyArray<SimApiRequest>
  readonly webhookDeliveries: () => ReadonlyArray<SimWebhookDelivery>
  /** Waits until every event emitted so far is delivered or given up. */
  readonly awaitWebhooks: () => Effect.Effect<void>
  readonly setWebhookUrl: (url: string | undefined) => Effect.Effect<void>
  /**
   * The agent takes the conversation: after an offerControl to the agent workspace it accepts it;
   * when the workspace already holds control it just records the agent. Both emit switchboard:acceptControl.
   */
  readonly agentAccept: (conversationId: string, agent?: AgentIdentity) => Effect.Effect<void>
  /** A message from the agent workspace (default agent "Sandbox Agent"); conversation:message webhook. */
  readonly agentSay: (
    conversationId: string,
    content: string | { type: "image" | "file"; mediaUrl: string; mediaType?: string; altText?: string },
    agent?: AgentIdentity
  ) => Effect.Effect<ZendeskMessage>
  /** conversation:typing typing:start / typing:stop from the agent; `withoutAuthor` leaves the activity's optional `author` out. */
  readonly agentTyping: (
    conversationId: string,
    start: boolean,
    options?: { withoutAuthor?: boolean }
  ) => Effect.Effect<void>
  /** The agent solves the ticket: releaseControl with reason ticketClosed, control back to the bot. */
  readonly closeTicket: (conversationId: string) => Effect.Effect<void>
  /** The agent workspace passes control back to the bot: switchboard:passControl. */
  readonly passBack: (conversationId: string) => Effect.Effect<void>
  /** releaseControl with reason transferToEmail, control back to the bot. */
  readonly transferToEmail: (conversationId: string) => Effect.Effect<void>
  /** The next n matching events are lost: never delivered. */
  readonly dropNextWebhooks: (n: number, filter?: (event: WebhookEvent) => boolean) => Effect.Effect<void>
  /** Each of the next n events is delivered twice (the same body, the same event ids). */
  readonly duplicateNextWebhooks: (n: number) => Effect.Effect<void>
  /**
   * The next n API requests are answered with `status` and `{ errors }` (Retry-After only when
   * given). With `afterApplying`, each request is carried out first and only its answer is the
   * failure (a 5xx or a lost answer after Sunshine stored a message: the client cannot tell
   * whether it was applied).
   */
  readonly failNext: (
    n: number,
    status: 429 | 500 | 503,
    options?: { retryAfterSeconds?: number; afterApplying?: boolean }
  ) => Effect.Effect<void>
}

/** A misuse of the scripting interface (unknown conversation, the agent workspace not in control). */
export class ZendeskSimError
  extends Data.TaggedError("ZendeskSimError")<{ readonly status: number; readonly message: string }>
{}

/** The Genesys Cloud simulator's options, what it shows, and its scripting interface. */
import { Data, type Effect } from "effect"
import type { UnreachableControls } from "../http/unreachable.js"
import type { InboundContent, InboundFrom } from "./wire.js"

export interface GenesysSimOptions {
  readonly clients: ReadonlyArray<{ readonly clientId: string; readonly clientSecret: string }>
  /**
   * Open Messaging integrations: where agent messages are posted (outbound webhook), the secret
   * that signs them, and the integration's name (`channel.from.nickname` of every outbound
   * webhook; default DEFAULT_INTEGRATION_NAME).
   */
  readonly integrations: ReadonlyArray<
    {
      readonly integrationId: string
      readonly webhookUrl: string
      readonly webhookSecret: string
      readonly name?: string
    }
  >
  /** Default: one queue `sim-queue` (a conversation always sits in a queue); estimatedWaitSeconds default 0, agentsOnQueue default 1. */
  readonly queues?: ReadonlyArray<
    { readonly queueId: string; readonly estimatedWaitSeconds?: number; readonly agentsOnQueue?: number }
  >
  /**
   * The organization's users (`GET /api/v2/users/{id}` answers them whether or not they ever
   * joined a conversation); DEFAULT_AGENT is always one, and an agent joining with a new id
   * or name becomes one.
   */
  readonly users?: ReadonlyArray<{ readonly userId: string; readonly name: string }>
  /** Token lifetime, default 86400. */
  readonly tokenLifetimeSeconds?: number
  /** API requests per minute per token, default 300 (429 with Retry-After beyond it). */
  readonly requestsPerMinute?: number
  /** Server heartbeat on every socket, default 30000 ms. */
  readonly heartbeatIntervalMs?: number
  /** Delay between outbound webhook retries, default 5000 ms (Genesys retries 5 times on timeout, 429 and 5xx, byte-identical). */
  readonly webhookRetryDelayMs?: number
  /** Channel lifetime, default 24 h. */
  readonly channelLifetimeMs?: number
}

export type ParticipantPurpose = "customer" | "agent" | "acd"
export type ParticipantState = "alerting" | "connected" | "disconnected" | "terminated"
export type DisconnectType = "client" | "peer" | "transfer" | "system"

/** A participant as `GET /api/v2/conversations/messages/{id}` and the queue topic show it. */
export interface Participant {
  readonly id: string
  readonly purpose: ParticipantPurpose
  readonly state: ParticipantState
  readonly disconnectType?: DisconnectType
  readonly connectedTime?: string
  readonly endTime?: string
  readonly startAcwTime?: string
  readonly user?: { readonly id: string }
  readonly name?: string
  readonly attributes: Readonly<Record<string, string>>
  readonly queue?: { readonly id: string }
}

export interface SimInboundMessage {
  /** The Genesys message id (the response's `id`; `GET .../messages/{id}/details`). */
  readonly id: string
  /** `channel.messageId`: the sender's own id, when it gave one. */
  readonly messageId?: string
  readonly from: InboundFrom
  readonly time: string
  readonly text?: string
  readonly content: ReadonlyArray<InboundContent>
  readonly metadata?: Readonly<Record<string, string>>
  /** The route it came by: the current one or the deprecated `/inbound/open`. */
  readonly route: "current" | "deprecated"
  /** The request body exactly as it arrived (parsed JSON), unknown fields included. */
  readonly sent: unknown
}

export interface SimReceipt {
  /** The Genesys id of the outbound message (= the webhook id) it reports on. */
  readonly id: string
  readonly status: "Delivered" | "Failed"
  readonly isFinalReceipt?: boolean
  readonly time: string
}

export interface SimConversation {
  readonly conversationId: string
  readonly integrationId: string
  readonly fromId: string
  readonly queueId: string
  readonly participants: ReadonlyArray<Participant>
  /** Inbound (user -> agent) messages as received. */
  readonly inbound: ReadonlyArray<SimInboundMessage>
  readonly typingEvents: number
  readonly receipts: ReadonlyArray<SimReceipt>
}

export interface SimApiRequest {
  readonly method: string
  readonly path: string
  readonly status: number
  readonly clientId?: string
}

/**
 * Scripting methods die (a `GenesysSimError` defect) on misuse: an unknown conversation or
 * webhook, no connected agent to speak or leave, joining a conversation that is over. The
 * /sim routes answer those as 404/409 instead.
 */
export interface GenesysSim extends UnreachableControls {
  readonly baseUrl: string
  /** Conversations, newest last, with what the agent side received. */
  readonly conversations: () => ReadonlyArray<SimConversation>
  /** The newest conversation for that from.id. */
  readonly conversationOf: (fromId: string) => SimConversation | undefined
  /** Default agent `{ userId: "genesys-agent-1", name: "Sandbox Agent" }`; the same connected user joining again is a no-op. */
  readonly agentJoin: (
    conversationId: string,
    agent?: { userId?: string; name?: string }
  ) => Effect.Effect<{ participantId: string; userId: string }>
  /**
   * Posts the agent's message to the gateway; the gateway's final answer status after the retries (0: it never answered).
   * An attachment without `url` goes without one (the SDK's `ContentAttachment.url` is optional).
   */
  readonly agentSay: (
    conversationId: string,
    message: {
      text?: string
      attachments?: ReadonlyArray<
        { url?: string; mime: string; filename?: string; mediaType?: "Image" | "Video" | "Audio" | "File" | "Link" }
      >
    }
  ) => Effect.Effect<{ webhookId: string; status: number }>
  /** The agent's typing event; `withoutId` leaves out the webhook's `id` (optional in the SDK's model). */
  readonly agentTyping: (
    conversationId: string,
    options?: { withoutId?: boolean }
  ) => Effect.Effect<{ webhookId: string; status: number }>
  /** Resends an earlier webhook byte-identically (the same signature), once: the gateway's answer status. */
  readonly resendWebhook: (webhookId: string) => Effect.Effect<number>
  /**
   * The agent leaves: disconnectType "transfer" when transfer is true (the conversation goes back
   * to the queue, an agent may join again), else "client" and after-call work starts.
   */
  readonly agentLeave: (conversationId: string, options?: { transfer?: boolean }) => Effect.Effect<void>
  /** The agent ends the conversation: agents disconnect ("client", after-call work), the customer gets disconnectType "peer". */
  readonly endConversation: (conversationId: string) => Effect.Effect<void>
  /** Cuts every streaming socket abruptly (no close frame), as a network loss would. */
  readonly dropSockets: () => Effect.Effect<void>
  /** Announces v2.system.socket_closing on every socket, then closes them. */
  readonly closeSockets: () => Effect.Effect<void>
  /** Invalidates every token issued so far (401 bad.credentials from now on; their channels stop delivering). */
  readonly expireTokens: () => Effect.Effect<void>
  /** The next n API requests (not /oauth/token) are answered with `status` (429 gets Retry-After: retryAfterSeconds, default 1). */
  readonly failNext: (n: number, status: 429 | 500 | 503, retryAfterSeconds?: number) => Effect.Effect<void>
  /** Every API request received: method, path (no query), status answered, client id of its token. */
  readonly requests: () => ReadonlyArray<SimApiRequest>
  /** How many token grants were issued per client id. */
  readonly tokensIssued: (clientId: string) => number
  /** Live channels: whether a socket is connected, and their subscribed topics. */
  readonly channels: () => ReadonlyArray<
    {
      channelId: string
      clientId: string
      connected: boolean
      topics: ReadonlyArray<string>
      rejectedTopics: ReadonlyArray<string>
    }
  >
  /**
   * From now on, subscriptions reject every topic ending in `.${suffix}` (`customer.end`,
   * `user.start`...) for want of `missingPermissions` (default the conversation detail
   * permission): it is answered `state: "Rejected"` and never notified. Topics already
   * subscribed keep their state until subscribed again.
   */
  readonly refuseTopics: (suffix: string, missingPermissions?: ReadonlyArray<string>) => Effect.Effect<void>
  /** The queue's estimated wait from now on (`POST /sim/queues/{queueId}/estimated-wait`); null: none. */
  readonly setEstimatedWait: (queueId: string, seconds: number | null) => Effect.Effect<void>
}

/** A scripted or internal failure of the agent side (unknown conversation, no agent connected...). */
export class GenesysSimError
  extends Data.TaggedError("GenesysSimError")<{ readonly status: number; readonly message: string }>
{}

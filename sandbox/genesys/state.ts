/**
 * What the Genesys simulator holds: tokens and their rate windows, notification channels,
 * conversations with their participants, the messages and webhooks sent; and how a
 * conversation shows in answers, notifications and snapshots.
 */
import type { Types } from "effect"
import type WebSocket from "ws"
import { type Countdown, makeCountdown } from "../http/scripts.js"
import type {
  GenesysSimOptions,
  Participant,
  ParticipantPurpose,
  SimApiRequest,
  SimConversation,
  SimInboundMessage,
  SimReceipt
} from "./types.js"
import type { IdType } from "./wire.js"

export interface TokenRecord {
  readonly clientId: string
  readonly expiresAt: number
  invalidated: boolean
}

export interface ChannelState {
  readonly id: string
  readonly clientId: string
  readonly token: TokenRecord
  /** Topics subscribed and permitted: notified. */
  topics: Array<string>
  /** Topics subscribed and rejected (never notified), with the permissions missing. */
  rejected: Map<string, ReadonlyArray<string>>
  expiresAt: number
  /** Larger = used more recently (a counter, so two uses in one millisecond still order). */
  lastUsed: number
  socket: WebSocket | undefined
  heartbeat: NodeJS.Timeout | undefined
}

export type MutableParticipant = Types.Mutable<Participant>

export interface ConversationState {
  readonly id: string
  readonly integrationId: string
  readonly fromId: string
  readonly fromIdType: IdType
  readonly queueId: string
  readonly startTime: string
  readonly participants: Array<MutableParticipant>
  readonly inbound: Array<SimInboundMessage>
  typingEvents: number
  readonly receipts: Array<SimReceipt>
}

/** What `GET /api/v2/conversations/messages/{messageId}/details` tells about a message. */
export interface MessageRecord {
  readonly id: string
  readonly conversationId: string
  readonly direction: "inbound" | "outbound"
  readonly timestamp: string
  readonly text?: string
}

export interface SentWebhook {
  readonly id: string
  readonly url: string
  readonly raw: Uint8Array
  readonly signature: string
}

export interface Instant {
  readonly ms: number
  readonly iso: string
}

export const now = (): Instant => {
  const ms = Date.now()
  return { ms, iso: new Date(ms).toISOString() }
}

const DEFAULT_QUEUE: NonNullable<GenesysSimOptions["queues"]>[number] = { queueId: "sim-queue" }
export const DEFAULT_AGENT = { userId: "genesys-agent-1", name: "Sandbox Agent" }

/** The name of an integration configured without one: what its outbound webhooks name as their sender. */
export const DEFAULT_INTEGRATION_NAME = "Sandbox Open Messaging"

/** The integration as the sender of what it carries to the customer (outbound webhooks, receipt answers). */
export const integrationSender = (state: GenesysState, integrationId: string) => ({
  nickname: state.integrations.get(integrationId)?.name ?? DEFAULT_INTEGRATION_NAME,
  id: integrationId,
  idType: "Opaque"
})

export interface GenesysState {
  readonly options: GenesysSimOptions
  readonly tokenLifetimeSeconds: number
  readonly requestsPerMinute: number
  readonly heartbeatIntervalMs: number
  readonly webhookRetryDelayMs: number
  readonly channelLifetimeMs: number
  /** Never empty: a conversation always sits in a queue. */
  readonly queues: NonNullable<GenesysSimOptions["queues"]>
  /** Each queue's estimated wait (seconds) as the estimated wait time call answers it; absent = no estimate. */
  readonly estimatedWaits: Map<string, number>
  readonly integrations: ReadonlyMap<string, GenesysSimOptions["integrations"][number]>
  readonly tokens: Map<string, TokenRecord>
  /** Token grants per client id. */
  readonly grants: Map<string, number>
  /** Per token: when its requests of the last minute came. */
  readonly rateWindows: Map<string, Array<number>>
  readonly channels: Map<string, ChannelState>
  readonly conversations: Map<string, ConversationState>
  readonly messages: Map<string, MessageRecord>
  readonly webhooks: Map<string, SentWebhook>
  /** The organization's users' names by id (options.users, DEFAULT_AGENT, and agents as they join). */
  readonly users: Map<string, string>
  readonly apiRequests: Array<SimApiRequest>
  /** Orders the channels' uses (`lastUsed`). */
  useCounter: number
  /** Topics ending in one of these (`customer.end`...) are rejected by the subscriptions, for want of the permissions named. */
  readonly refusedTopics: Map<string, ReadonlyArray<string>>
  /** failNext: the next API requests' scripted answer. */
  readonly failures: Countdown<{ readonly status: number; readonly retryAfterSeconds: number | undefined }>
}

export const makeState = (options: GenesysSimOptions): GenesysState => ({
  options,
  tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 86_400,
  requestsPerMinute: options.requestsPerMinute ?? 300,
  heartbeatIntervalMs: options.heartbeatIntervalMs ?? 30_000,
  webhookRetryDelayMs: options.webhookRetryDelayMs ?? 5_000,
  channelLifetimeMs: options.channelLifetimeMs ?? 24 * 3_600_000,
  queues: options.queues !== undefined && options.queues.length > 0 ? options.queues : [DEFAULT_QUEUE],
  estimatedWaits: new Map(
    (options.queues !== undefined && options.queues.length > 0 ? options.queues : [DEFAULT_QUEUE]).map(
      (q) => [q.queueId, q.estimatedWaitSeconds ?? 0]
    )
  ),
  integrations: new Map(options.integrations.map((i) => [i.integrationId, i])),
  tokens: new Map(),
  grants: new Map(),
  rateWindows: new Map(),
  channels: new Map(),
  conversations: new Map(),
  messages: new Map(),
  webhooks: new Map(),
  users: new Map([DEFAULT_AGENT, ...(options.users ?? [])].map((u) => [u.userId, u.name])),
  apiRequests: [],
  useCounter: 0,
  refusedTopics: new Map(),
  failures: makeCountdown()
})

/** The permission Genesys' conversation detail topics need (`v2.detail.events.conversation.{id}.*`). */
export const DETAIL_TOPIC_PERMISSION = "analytics:conversationDetail:view"

export const refuseTopics = (state: GenesysState, suffix: string, missingPermissions?: ReadonlyArray<string>) =>
  void state.refusedTopics.set(suffix, missingPermissions ?? [DETAIL_TOPIC_PERMISSION])

/** The queue's estimated wait from now on; null: none. */
export const setEstimatedWait = (state: GenesysState, queueId: string, seconds: number | null) =>
  void (seconds === null ? state.estimatedWaits.delete(queueId) : state.estimatedWaits.set(queueId, seconds))

export const tokenValid = (t: TokenRecord) => !t.invalidated && Date.now() < t.expiresAt

export const textOf = (m: { readonly text?: string }) => (m.text !== undefined ? { text: m.text } : {})

// ---- conversations as answers, notifications and snapshots show them ----

const snapshotParticipant = (p: MutableParticipant): Participant => ({ ...p, attributes: { ...p.attributes } })

/** The messaging conversation (the SDK's MessageConversation): what GET and the queue topic show. */
export const conversationBody = (c: ConversationState) => ({
  id: c.id,
  participants: c.participants.map(snapshotParticipant)
})

/**
 * The conversation as the SDK's Conversation (the PATCH's answer): `startTime` and `participants`
 * required, each participant's state on its `messages[]` communication, the user and queue as ids.
 */
export const conversationAnswer = (c: ConversationState) => ({
  id: c.id,
  startTime: c.startTime,
  participants: c.participants.map((p) => ({
    id: p.id,
    purpose: p.purpose,
    ...(p.name !== undefined ? { name: p.name } : {}),
    ...(p.connectedTime !== undefined ? { connectedTime: p.connectedTime } : {}),
    ...(p.endTime !== undefined ? { endTime: p.endTime } : {}),
    ...(p.startAcwTime !== undefined ? { startAcwTime: p.startAcwTime } : {}),
    ...(p.user !== undefined ? { userId: p.user.id } : {}),
    ...(p.queue !== undefined ? { queueId: p.queue.id } : {}),
    attributes: { ...p.attributes },
    messages: [{
      state: p.state,
      ...(p.disconnectType !== undefined ? { disconnectType: p.disconnectType } : {}),
      ...(p.connectedTime !== undefined ? { connectedTime: p.connectedTime } : {}),
      ...(p.endTime !== undefined ? { disconnectedTime: p.endTime } : {})
    }]
  }))
})

export const snapshotConversation = (c: ConversationState): SimConversation => ({
  conversationId: c.id,
  integrationId: c.integrationId,
  fromId: c.fromId,
  queueId: c.queueId,
  participants: c.participants.map(snapshotParticipant),
  inbound: [...c.inbound],
  typingEvents: c.typingEvents,
  receipts: [...c.receipts]
})

export const connectedOf = (c: ConversationState, purpose: ParticipantPurpose) =>
  c.participants.filter((p) => p.purpose === purpose && p.state === "connected")

/**
 * docs/PROVIDERS.md#conversation-resource: the conversation is over once the customer is
 * disconnected, or every agent left with after-call work started. A transfer puts the
 * conversation back in the queue (a connected acd participant), so "nobody left to handle it"
 * is exactly the second case.
 */
export const isOver = (c: ConversationState): boolean =>
  c.participants.some((p) => p.purpose === "customer" && p.state === "disconnected") ||
  c.participants.every((p) => p.purpose === "customer" || p.state === "disconnected")

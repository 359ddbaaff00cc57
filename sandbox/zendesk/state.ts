/**
 * What the Sunshine simulator holds: its app's switchboard (the bot's integration and the
 * agent workspace), users, conversations, the webhook deliveries and the scripted faults;
 * and how they show in answers, webhooks and snapshots.
 */
import { randomBytes } from "node:crypto"
import { fileNameOf } from "../http/agentActions.js"
import { type Countdown, makeCountdown } from "../http/scripts.js"
import type {
  AgentIdentity,
  SimActivity,
  SimApiRequest,
  SimSwitchboardAction,
  SimWebhookDelivery,
  SimZendeskConversation,
  SimZendeskUser,
  SunshineMetadata,
  SwitchboardIntegration,
  WebhookEvent,
  WebhookEventType,
  ZendeskMessage,
  ZendeskSimOptions
} from "./types.js"
import { MAX_ALT_TEXT_LENGTH } from "./wire.js"

export const hexId = () => randomBytes(12).toString("hex")
export const nowIso = () => new Date().toISOString()

/** `{ key: value }`, or `{}` when the value is undefined (exactOptionalPropertyTypes). */
export const opt = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }

export const DEFAULT_AGENT: AgentIdentity = { displayName: "Sandbox Agent" }

/** Media types by file extension: Sunshine reads the media to set `mediaType`, the simulator goes by the name. */
const MEDIA_TYPES: Readonly<Record<string, string>> = {
  gif: "image/gif",
  jpeg: "image/jpeg",
  jpg: "image/jpeg",
  pdf: "application/pdf",
  png: "image/png",
  txt: "text/plain",
  webp: "image/webp"
}

/**
 * What Sunshine sets on a stored image or file, whoever sent it (the API or the agent workspace):
 * the read-only `mediaType` (`uploaded`, the type of an agent's upload, else what the file name
 * tells) and, without an `altText`, the file name as one.
 */
export const storedMediaFields = (mediaUrl: string, altText: string | undefined, uploaded?: string) => {
  const name = fileNameOf(mediaUrl)
  const extension = /\.([A-Za-z0-9]+)$/.exec(name)?.[1]?.toLowerCase()
  return {
    ...opt("altText", altText ?? (name === "" ? undefined : name.slice(0, MAX_ALT_TEXT_LENGTH))),
    ...opt("mediaType", uploaded ?? (extension === undefined ? undefined : MEDIA_TYPES[extension]))
  }
}

export interface UserState {
  readonly id: string
  readonly externalId: string
  readonly profile: Readonly<Record<string, string>>
  readonly metadata: SunshineMetadata
  readonly signedUpAt: string
}

export interface ConversationState {
  readonly id: string
  readonly user: UserState
  readonly metadata: SunshineMetadata
  readonly createdAt: string
  /** Undefined after a releaseControl: no integration holds the conversation. */
  active: SwitchboardIntegration | undefined
  pending: SwitchboardIntegration | undefined
  agent: AgentIdentity | undefined
  readonly switchboardActions: Array<SimSwitchboardAction>
  readonly messages: Array<ZendeskMessage>
  readonly activities: Array<SimActivity>
}

export interface DeliveryState {
  readonly url: string | undefined
  readonly eventIds: ReadonlyArray<string>
  readonly types: ReadonlyArray<WebhookEventType>
  readonly statuses: Array<number>
  outcome: SimWebhookDelivery["outcome"]
  readonly duplicate: boolean
}

export interface ZendeskState {
  readonly options: ZendeskSimOptions
  /** Messages per page of `GET .../messages`. */
  readonly pageSize: number
  /** A conversation holding this many messages takes no more (423). */
  readonly maxMessages: number
  /** The bot's switchboard integration: the app's default one. */
  readonly bot: SwitchboardIntegration
  readonly agentWorkspace: SwitchboardIntegration
  readonly usersById: Map<string, UserState>
  readonly usersByExternalId: Map<string, UserState>
  readonly conversations: Map<string, ConversationState>
  readonly apiRequests: Array<SimApiRequest>
  readonly deliveries: Array<DeliveryState>
  /** Where webhooks go; undefined: nowhere (recorded as "noTarget"). */
  webhookUrl: string | undefined
  /** failNext: the next API requests' scripted answer. */
  readonly failures: Countdown<
    { readonly status: number; readonly retryAfterSeconds: number | undefined; readonly afterApplying: boolean }
  >
  /** dropNextWebhooks: the events lost (those the filter matches, when there is one). */
  readonly drops: Countdown<((event: WebhookEvent) => boolean) | undefined>
  /** duplicateNextWebhooks: the events sent twice. */
  readonly duplicates: Countdown
}

export const makeState = (options: ZendeskSimOptions): ZendeskState => ({
  options,
  pageSize: options.pageSize ?? 100, // the real, fixed size
  maxMessages: options.maxMessagesPerConversation ?? 30_000,
  bot: {
    id: options.botIntegration?.id ?? hexId(),
    name: options.botIntegration?.name ?? "hbf-lcg",
    integrationId: hexId(),
    integrationType: "custom"
  },
  agentWorkspace: {
    id: hexId(),
    name: "zd-agentWorkspace",
    integrationId: hexId(),
    integrationType: "zd:agentWorkspace"
  },
  usersById: new Map(),
  usersByExternalId: new Map(),
  conversations: new Map(),
  apiRequests: [],
  deliveries: [],
  webhookUrl: options.webhookUrl,
  failures: makeCountdown(),
  drops: makeCountdown(),
  duplicates: makeCountdown()
})

// ---- as answers, webhooks and snapshots show them ----

export const userBody = (u: UserState) => ({
  id: u.id,
  externalId: u.externalId,
  signedUpAt: u.signedUpAt,
  profile: u.profile,
  metadata: u.metadata,
  identities: []
})

export const userDisplayName = (u: UserState) =>
  [u.profile["givenName"], u.profile["surname"]].filter((s) => s !== undefined && s !== "").join(" ") ||
  `User ${u.externalId}`

export const conversationBody = (c: ConversationState) => ({
  id: c.id,
  type: "personal",
  isDefault: true,
  metadata: c.metadata,
  activeSwitchboardIntegration: c.active ?? null,
  pendingSwitchboardIntegration: c.pending ?? null,
  createdAt: c.createdAt,
  lastUpdatedAt: c.messages.at(-1)?.received ?? c.createdAt
})

/** The truncated conversation of webhook payloads (active and pending omitted when there is none). */
export const conversationRef = (c: ConversationState) => ({
  id: c.id,
  type: "personal",
  ...opt("activeSwitchboardIntegration", c.active),
  ...opt("pendingSwitchboardIntegration", c.pending)
})

export const snapshotConversation = (c: ConversationState): SimZendeskConversation => ({
  id: c.id,
  userId: c.user.id,
  userExternalId: c.user.externalId,
  metadata: c.metadata,
  createdAt: c.createdAt,
  ...opt("activeSwitchboardIntegration", c.active?.name),
  ...opt("pendingSwitchboardIntegration", c.pending?.name),
  ...opt("agent", c.agent),
  switchboardActions: [...c.switchboardActions],
  messages: [...c.messages],
  activities: [...c.activities]
})

const snapshotDelivery = (d: DeliveryState): SimWebhookDelivery => ({
  url: d.url,
  eventIds: d.eventIds,
  types: d.types,
  statuses: [...d.statuses],
  attempts: d.statuses.length,
  finalStatus: d.statuses.at(-1),
  outcome: d.outcome,
  duplicate: d.duplicate
})

export const allConversations = (state: ZendeskState) => [...state.conversations.values()].map(snapshotConversation)

export const allUsers = (state: ZendeskState) =>
  [...state.usersById.values()].map((u): SimZendeskUser => ({
    id: u.id,
    externalId: u.externalId,
    profile: u.profile,
    signedUpAt: u.signedUpAt
  }))

export const allDeliveries = (state: ZendeskState) => state.deliveries.map(snapshotDelivery)

/**
 * Zendesk Sunshine Conversations v2 simulator (PROVIDERS.md "Zendesk Sunshine Conversations v2"):
 * app-key auth (Basic or an HS256 JWT), users, personal conversations, messages with their
 * cursor paging, activities, the switchboard (the bot's integration and the Zendesk agent
 * workspace), webhooks for every change with the real retry rules, a scriptable agent
 * workspace and fault injection. Errors use the Sunshine body `{ errors: [{ code, title }] }`.
 *
 * API routes (base `/sc/v2/apps/{appId}`, `baseUrl` = `http://127.0.0.1:PORT/sc`; the legacy
 * `api.smooch.io` layout `/v2/apps/{appId}` answers too):
 *   POST {base}/users                                        { externalId, profile?, metadata? } -> 201 { user }; 409 conflict
 *   GET  {base}/users/{userIdOrExternalId}                   -> 200 { user }
 *   POST {base}/conversations                                { type: "personal", participants: [{ userId | userExternalId }], metadata? } -> 201
 *   GET  {base}/conversations?filter[userId]=… | filter[userExternalId]=…   -> 200 { conversations, meta, links }
 *   GET  {base}/conversations/{conversationId}               -> 200 { conversation }
 *   POST {base}/conversations/{id}/messages                  -> 201 { messages: [Message] }; 423 at the message limit
 *   GET  {base}/conversations/{id}/messages?page[before]=… | page[after]=…
 *   POST {base}/conversations/{id}/activity                  -> 200 {}
 *   POST {base}/conversations/{id}/passControl | offerControl   { switchboardIntegration: id | name | integrationType | "next", metadata? }
 *   POST {base}/conversations/{id}/acceptControl | releaseControl   { metadata? }
 * Sandbox routes (no auth, JSON whatever the Content-Type, for curl; errors `{ error, message }`):
 *   POST /sim/conversations/{conversationId}/accept|say|typing|close|passBack|transferToEmail
 *        bodies: accept {displayName?, avatarUrl?}; say {text?} or {type?: image|file, mediaUrl, mediaType?, altText?},
 *        plus displayName?, avatarUrl?; typing {start?: boolean (default true)}
 *   POST /sim/fail                  { n, status: 429|500|503, retryAfterSeconds? }
 *   POST /sim/webhooks/drop         { n, type? }   (only events of that type count when given)
 *   POST /sim/webhooks/duplicate    { n }
 *   POST /sim/webhooks/target       { url? }       (no url: stop delivering)
 *   GET  /sim/conversations | /sim/users | /sim/requests | /sim/webhooks
 *
 * Choices where PROVIDERS.md is silent:
 *   - A valid key used with another appId in the path answers 401 unauthorized (an app key is only
 *     good for its own app; the simulator hosts one app).
 *   - Error codes: 400 bad_request, 401 unauthorized, 404 not_found, 409 conflict, 413 payload_too_large,
 *     423 locked, 429 too_many_requests, 500 internal_error, 503 service_unavailable.
 *   - Body limit: 100 kB = 102,400 bytes (body-parser's "100kb"), checked before anything else in the body.
 *     A non-empty body whose Content-Type is not JSON is 400 bad_request; an empty body reads as `{}`.
 *   - Metadata (conversation, message, switchboard) is flat (string, number, boolean values) and at most
 *     4 KB serialized, else 400; `null` means none.
 *   - Unknown users named in `participants` or in a list filter answer 404 not_found; a user message
 *     author who is not the conversation's participant (or does not exist) answers 400.
 *   - Only personal conversations with exactly one participant, and only text/image/file content, are
 *     simulated: other types answer 400.
 *   - Paging: an empty page (a cursor at either end) has no cursors or links and hasMore false.
 *   - offerControl to the integration already in control, and acceptControl with nothing offered, answer 400;
 *     an unknown switchboardIntegration in a body answers 400. passControl to the active one is allowed.
 *   - releaseControl gives control to the default integration (the bot's), and clears any pending offer.
 *   - Webhook triggers are the ones the gateway subscribes to: conversation:message, conversation:typing
 *     (business typing only) and switchboard:passControl|offerControl|acceptControl|releaseControl.
 *     Nothing is sent while no webhookUrl is set (the events are recorded as "noTarget").
 *   - Webhook retries: every non-2xx answer is retried except 400/401/403/404/406; redirects are not followed.
 *     Attempts = 1 + retryDelaysMs.length.
 *   - duplicateNextWebhooks counts events as they are emitted; a call holding a flagged event is sent twice.
 *   - Switchboard integrations: the bot's has integrationType "custom"; both get random 24-hex ids and integrationIds.
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import type { HttpApp, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Cause, Chunk, Data, Duration, Effect, Either, Queue, Schema } from "effect"
import type { Scope } from "effect"
import { decodeProtectedHeader, jwtVerify } from "jose"
import { randomBytes } from "node:crypto"
import { createServer } from "node:http"
import {
  decodeValue,
  errorBody,
  fieldIssues,
  handle,
  HttpUrl,
  json,
  Metadata,
  NonEmptyString,
  param,
  parseJson,
  rawBody,
  Reject,
  request,
  safeEqual,
  searchParams
} from "./simHttp.js"

// ---------------------------------------------------------------------------------------
// Options and the scripting interface

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
  /** conversation:typing typing:start / typing:stop from the agent. */
  readonly agentTyping: (conversationId: string, start: boolean) => Effect.Effect<void>
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
  /** The next n API requests answer `status` with `{ errors }` (Retry-After only when given). */
  /**
   * The next n API requests are answered with `status`. With `afterApplying`, each request is
   * carried out first and only its answer is the failure (a 5xx or a lost answer after Sunshine
   * stored a message: the client cannot tell whether it was applied).
   */
  readonly failNext: (n: number, status: 429 | 500 | 503, options?: { retryAfterSeconds?: number; afterApplying?: boolean }) => Effect.Effect<void>
}

/** A misuse of the scripting interface (unknown conversation, the agent workspace not in control). */
export class ZendeskSimError extends Data.TaggedError("ZendeskSimError")<{ readonly status: number; readonly message: string }> {}

// ---------------------------------------------------------------------------------------
// Constants and small helpers

const DEFAULT_PAGE_SIZE = 100
const DEFAULT_MAX_MESSAGES = 30_000
const DEFAULT_RETRY_DELAYS_MS = [200, 400, 800, 1600]
const DEFAULT_WEBHOOK_TIMEOUT_MS = 20_000
const MAX_BODY_BYTES = 100 * 1024
const MAX_METADATA_BYTES = 4 * 1024
const MAX_TEXT_LENGTH = 4096
const MAX_EVENTS_PER_CALL = 10
const NO_RETRY_STATUSES = new Set([400, 401, 403, 404, 406])
const DEFAULT_AGENT: AgentIdentity = { displayName: "Sandbox Agent" }
/** The business name on API-posted business messages without a displayName. */
const DEFAULT_BUSINESS_NAME = "Sandbox App"
const API_PREFIXES = ["/sc/v2/", "/v2/"]

const hexId = () => randomBytes(12).toString("hex")
const nowIso = () => new Date().toISOString()

/** `{ key: value }`, or `{}` when the value is undefined (exactOptionalPropertyTypes). */
const opt = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }

const errorCodes: Record<number, string> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  413: "payload_too_large",
  423: "locked",
  429: "too_many_requests",
  500: "internal_error",
  503: "service_unavailable"
}

const sunshineError = (status: number, title: string, headers?: Record<string, string>) =>
  json(status, { errors: [{ code: errorCodes[status] ?? "error", title }] }, headers)

const fail = (status: number, title: string, headers?: Record<string, string>): Effect.Effect<never, Reject> =>
  Effect.fail(new Reject({ response: sunshineError(status, title, headers) }))

const misuse = (status: number, message: string) => Effect.fail(new ZendeskSimError({ status, message }))

// ---------------------------------------------------------------------------------------
// Wire shapes (PROVIDERS.md)

/** An optional field that, when present, must be valid. */
const exact = <A, I>(schema: Schema.Schema<A, I, never>) => Schema.optionalWith(schema, { exact: true })

/** Flat, at most 4 KB serialized; null = none. */
const MetadataField = Schema.NullOr(
  Metadata.pipe(
    Schema.filter((m) => Buffer.byteLength(JSON.stringify(m)) <= MAX_METADATA_BYTES, {
      message: () => `must be at most ${MAX_METADATA_BYTES} bytes serialized`
    })
  )
)

const Text = Schema.String.pipe(
  Schema.minLength(1, { message: () => "must not be empty" }),
  Schema.maxLength(MAX_TEXT_LENGTH, { message: () => `must be at most ${MAX_TEXT_LENGTH} characters` })
)

const Content = Schema.Union(
  Schema.Struct({ type: Schema.Literal("text"), text: Text }),
  Schema.Struct({
    type: Schema.Literal("image", "file"),
    mediaUrl: HttpUrl,
    mediaType: exact(Schema.String),
    altText: exact(Schema.String),
    text: exact(Text)
  })
)

const UserRef = Schema.Struct({ userId: exact(NonEmptyString), userExternalId: exact(NonEmptyString) })

const Author = Schema.Union(
  Schema.Struct({ type: Schema.Literal("user"), ...UserRef.fields }),
  Schema.Struct({ type: Schema.Literal("business"), displayName: exact(Schema.String), avatarUrl: exact(HttpUrl) })
)

const UserCreate = Schema.Struct({
  externalId: NonEmptyString,
  profile: exact(
    Schema.Struct({
      givenName: exact(Schema.String),
      surname: exact(Schema.String),
      email: exact(Schema.String),
      avatarUrl: exact(Schema.String),
      locale: exact(Schema.String)
    })
  ),
  metadata: exact(MetadataField)
})

const ConversationCreate = Schema.Struct({
  type: Schema.Literal("personal", "sdkGroup"),
  participants: Schema.Array(UserRef),
  metadata: exact(MetadataField)
})

const MessagePost = Schema.Struct({ author: Author, content: Content, metadata: exact(MetadataField) })

const ActivityPost = Schema.Struct({
  author: Author,
  type: Schema.Literal("typing:start", "typing:stop", "conversation:read")
})

const ControlTarget = Schema.Struct({ switchboardIntegration: NonEmptyString, metadata: exact(MetadataField) })
const ControlMetadata = Schema.Struct({ metadata: exact(MetadataField) })

// sandbox bodies
const AgentBody = Schema.Struct({ displayName: exact(NonEmptyString), avatarUrl: exact(HttpUrl) })
const SayBody = Schema.Struct({
  text: exact(Schema.String),
  type: exact(Schema.Literal("image", "file")),
  mediaUrl: exact(HttpUrl),
  mediaType: exact(Schema.String),
  altText: exact(Schema.String),
  displayName: exact(NonEmptyString),
  avatarUrl: exact(HttpUrl)
})
const TypingBody = Schema.Struct({ start: exact(Schema.Boolean) })
const FailBody = Schema.Struct({
  n: Schema.NonNegativeInt,
  status: Schema.Literal(429, 500, 503),
  retryAfterSeconds: exact(Schema.NonNegativeInt)
})
const DropBody = Schema.Struct({ n: Schema.NonNegativeInt, type: exact(NonEmptyString) })
const CountBody = Schema.Struct({ n: Schema.NonNegativeInt })
const TargetBody = Schema.Struct({ url: exact(HttpUrl) })

// ---------------------------------------------------------------------------------------
// Request decoding (API routes)

/** Decodes a parsed value: 400 bad_request whose title names every bad field (`content.text: ...`). */
const decodeApiValue = <A, I>(schema: Schema.Schema<A, I, never>, value: unknown): Effect.Effect<A, Reject> =>
  Either.match(Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "ignore" })(value), {
    onRight: Effect.succeed,
    onLeft: (error) => fail(400, fieldIssues(error).map((f) => `${f.path}: ${f.message}`).join("; "))
  })

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** The body: 413 over 100 kB, `{}` when empty, else JSON (Content-Type included) and the schema: 400 otherwise. */
const jsonBody = <A, I>(schema: Schema.Schema<A, I, never>) =>
  Effect.gen(function* () {
    const raw = yield* rawBody.pipe(Effect.catchTag("Reject", () => fail(400, "the request body could not be read")))
    if (raw.length > MAX_BODY_BYTES) return yield* fail(413, `request entity too large: ${raw.length} bytes (the limit is 100kb)`)
    if (raw.length === 0) return yield* decodeApiValue(schema, {})
    const type = (yield* request).headers["content-type"] ?? ""
    if (!/^application\/json\b/i.test(type.trim()))
      return yield* fail(400, `Content-Type must be application/json (got ${type === "" ? "none" : type})`)
    let value: unknown
    try {
      value = JSON.parse(utf8.decode(raw))
    } catch (e) {
      return yield* fail(400, `the body is not valid JSON: ${e instanceof Error ? e.message : String(e)}`)
    }
    return yield* decodeApiValue(schema, value)
  })

/** A sandbox body: JSON whatever the Content-Type (curl -d sends a form type); empty = `{}`. */
const sandboxBody = <A, I>(schema: Schema.Schema<A, I, never>) =>
  Effect.flatMap(rawBody, (raw) => Effect.flatMap(parseJson(raw, {}), (value) => decodeValue(schema, value)))

// ---------------------------------------------------------------------------------------
// State

interface UserState {
  readonly id: string
  readonly externalId: string
  readonly profile: Readonly<Record<string, string>>
  readonly metadata: SunshineMetadata
  readonly signedUpAt: string
}

interface ConversationState {
  readonly id: string
  readonly user: UserState
  readonly metadata: SunshineMetadata
  readonly createdAt: string
  active: SwitchboardIntegration
  pending: SwitchboardIntegration | undefined
  agent: AgentIdentity | undefined
  readonly switchboardActions: Array<SimSwitchboardAction>
  readonly messages: Array<ZendeskMessage>
  readonly activities: Array<SimActivity>
}

/** An event waiting in the outbox, with the target it was emitted for. */
interface OutgoingEvent {
  readonly event: WebhookEvent
  readonly url: string
  readonly duplicate: boolean
}

interface DeliveryState {
  readonly url: string | undefined
  readonly eventIds: ReadonlyArray<string>
  readonly types: ReadonlyArray<WebhookEventType>
  readonly statuses: Array<number>
  outcome: SimWebhookDelivery["outcome"]
  readonly duplicate: boolean
}

const userBody = (u: UserState) => ({
  id: u.id,
  externalId: u.externalId,
  signedUpAt: u.signedUpAt,
  profile: u.profile,
  metadata: u.metadata,
  identities: []
})

const userDisplayName = (u: UserState) =>
  [u.profile["givenName"], u.profile["surname"]].filter((s) => s !== undefined && s !== "").join(" ") || `User ${u.externalId}`

const conversationBody = (c: ConversationState) => ({
  id: c.id,
  type: "personal",
  isDefault: true,
  metadata: c.metadata,
  activeSwitchboardIntegration: c.active,
  pendingSwitchboardIntegration: c.pending ?? null,
  createdAt: c.createdAt,
  lastUpdatedAt: c.messages.at(-1)?.received ?? c.createdAt
})

/** The truncated conversation of webhook payloads (pending omitted when there is none). */
const conversationRef = (c: ConversationState) => ({
  id: c.id,
  type: "personal",
  activeSwitchboardIntegration: c.active,
  ...opt("pendingSwitchboardIntegration", c.pending)
})

const snapshotConversation = (c: ConversationState): SimZendeskConversation => ({
  id: c.id,
  userId: c.user.id,
  userExternalId: c.user.externalId,
  metadata: c.metadata,
  createdAt: c.createdAt,
  activeSwitchboardIntegration: c.active.name,
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

// ---------------------------------------------------------------------------------------
// The simulator

export const makeZendeskSim = (options: ZendeskSimOptions): Effect.Effect<ZendeskSim, never, Scope.Scope> =>
  Effect.gen(function* () {
    const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE
    const maxMessages = options.maxMessagesPerConversation ?? DEFAULT_MAX_MESSAGES
    const retryDelaysMs = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS
    const webhookTimeoutMs = options.webhookTimeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS
    const keySecretBytes = new TextEncoder().encode(options.keySecret)
    const webhookId = hexId()

    const bot: SwitchboardIntegration = {
      id: options.botIntegration?.id ?? hexId(),
      name: options.botIntegration?.name ?? "hbf-lcg",
      integrationId: hexId(),
      integrationType: "custom"
    }
    const agentWorkspace: SwitchboardIntegration = {
      id: hexId(),
      name: "zd-agentWorkspace",
      integrationId: hexId(),
      integrationType: "zd:agentWorkspace"
    }
    const switchboard = [bot, agentWorkspace]
    /** The switchboard hierarchy: "next" from each integration. */
    const nextOf = (i: SwitchboardIntegration) => (i.id === bot.id ? agentWorkspace : bot)

    const usersById = new Map<string, UserState>()
    const usersByExternalId = new Map<string, UserState>()
    const conversations = new Map<string, ConversationState>()
    const apiRequests: Array<SimApiRequest> = []
    const deliveries: Array<DeliveryState> = []
    let webhookUrl = options.webhookUrl
    let scripted: { remaining: number; status: number; retryAfterSeconds: number | undefined; afterApplying: boolean } = {
      remaining: 0,
      status: 500,
      retryAfterSeconds: undefined,
      afterApplying: false
    }
    let dropScript: { remaining: number; filter: ((event: WebhookEvent) => boolean) | undefined } = { remaining: 0, filter: undefined }
    let duplicateRemaining = 0
    /** Events emitted and not yet delivered or given up (awaitWebhooks). */
    let undeliveredEvents = 0

    const server = yield* NodeHttpServer.make(() => createServer(), { port: 0, host: "127.0.0.1" }).pipe(Effect.orDie)
    const origin = `http://127.0.0.1:${(server.address as HttpServer.TcpAddress).port}`
    const baseUrl = `${origin}/sc`

    // ----- webhooks: an outbox drained by one worker, so deliveries to the target stay in event order

    const outbox = yield* Queue.unbounded<OutgoingEvent>()

    const emit = (type: WebhookEventType, payload: Record<string, unknown>) => {
      const event: WebhookEvent = { id: hexId(), createdAt: nowIso(), type, payload }
      const record = (outcome: DeliveryState["outcome"]) =>
        deliveries.push({ url: webhookUrl, eventIds: [event.id], types: [type], statuses: [], outcome, duplicate: false })
      if (dropScript.remaining > 0 && (dropScript.filter === undefined || dropScript.filter(event))) {
        dropScript.remaining -= 1
        return record("dropped")
      }
      if (webhookUrl === undefined) return record("noTarget")
      const duplicate = duplicateRemaining > 0
      if (duplicate) duplicateRemaining -= 1
      undeliveredEvents += 1
      Queue.unsafeOffer(outbox, { event, url: webhookUrl, duplicate })
    }

    /** One POST; the answer status, 0 when none came (refused, reset, timed out). */
    const postOnce = (url: string, body: string): Effect.Effect<number> =>
      Effect.tryPromise({
        try: async (signal) => {
          const response = await fetch(url, {
            method: "POST",
            headers: { "content-type": "application/json", "x-api-key": options.webhookSecret, "user-agent": "sunshine-conversations-sim" },
            body,
            redirect: "manual",
            signal: AbortSignal.any([signal, AbortSignal.timeout(webhookTimeoutMs)])
          })
          await response.arrayBuffer()
          return response.status
        },
        catch: (cause) => cause
      }).pipe(Effect.orElseSucceed(() => 0))

    /** Attempts until a 2xx, a status never retried, or the attempts run out. */
    const sendWithRetries = (url: string, body: string, events: ReadonlyArray<WebhookEvent>, duplicate: boolean) =>
      Effect.gen(function* () {
        const record: DeliveryState = {
          url,
          eventIds: events.map((e) => e.id),
          types: events.map((e) => e.type),
          statuses: [],
          outcome: "pending",
          duplicate
        }
        deliveries.push(record)
        for (let attempt = 0; ; attempt++) {
          const status = yield* postOnce(url, body)
          record.statuses.push(status)
          if (status >= 200 && status < 300) {
            record.outcome = "delivered"
            return
          }
          if (NO_RETRY_STATUSES.has(status) || attempt >= retryDelaysMs.length) {
            record.outcome = "failed"
            yield* Effect.logDebug(`zendesk sim -> webhook ${record.eventIds.join(",")} gave up after ${record.statuses.join(", ")}`)
            return
          }
          yield* Effect.sleep(Duration.millis(retryDelaysMs[attempt]!))
        }
      })

    const deliverCall = (call: ReadonlyArray<OutgoingEvent>) =>
      Effect.gen(function* () {
        const url = call[0]!.url
        const events = call.map((o) => o.event)
        const body = JSON.stringify({ app: { id: options.appId }, webhook: { id: webhookId, version: "v2" }, events })
        yield* sendWithRetries(url, body, events, false)
        if (call.some((o) => o.duplicate)) yield* sendWithRetries(url, body, events, true)
        undeliveredEvents -= call.length
      })

    /** Events taken from the outbox but not sent yet (a batch stops at a change of target). */
    let carried: Array<OutgoingEvent> = []
    const deliverNext = Effect.gen(function* () {
      if (carried.length === 0) carried.push(yield* Queue.take(outbox))
      let size = 1
      if (options.batchWebhookEvents === true) {
        yield* Effect.yieldNow() // let the events of the same tick arrive
        carried.push(...Chunk.toReadonlyArray(yield* Queue.takeAll(outbox)))
        while (size < carried.length && size < MAX_EVENTS_PER_CALL && carried[size]!.url === carried[0]!.url) size++
      }
      const call = carried.slice(0, size)
      carried = carried.slice(size)
      yield* deliverCall(call)
    })
    yield* Effect.forkScoped(Effect.forever(deliverNext))

    // ----- state changes shared by the API and the scripted agent

    const addMessage = (c: ConversationState, message: ZendeskMessage) => {
      c.messages.push(message)
      emit("conversation:message", { conversation: conversationRef(c), message })
    }

    const changeControl = (
      c: ConversationState,
      action: SwitchboardAction,
      by: "api" | "agent",
      next: { active: SwitchboardIntegration; pending: SwitchboardIntegration | undefined },
      extra: { metadata?: SunshineMetadata | null | undefined; reason?: SwitchboardReason } = {}
    ) => {
      const from = c.active.name
      c.active = next.active
      c.pending = next.pending
      if (c.active.id !== agentWorkspace.id) c.agent = undefined
      const metadata = extra.metadata ?? undefined
      c.switchboardActions.push({
        action,
        by,
        at: nowIso(),
        from,
        to: c.active.name,
        ...opt("pending", c.pending?.name),
        ...opt("metadata", metadata),
        ...opt("reason", extra.reason)
      })
      emit(`switchboard:${action}`, { conversation: conversationRef(c), ...opt("metadata", metadata), ...opt("reason", extra.reason) })
    }

    const typingEvent = (c: ConversationState, type: "typing:start" | "typing:stop", author: AgentIdentity) =>
      emit("conversation:typing", {
        conversation: conversationRef(c),
        activity: { type, author: { type: "business", displayName: author.displayName, ...opt("avatarUrl", author.avatarUrl) } }
      })

    // ----- the scripted agent workspace

    const conversationFor = (id: string) =>
      Effect.suspend(() => {
        const c = conversations.get(id)
        return c === undefined ? misuse(404, `no conversation ${id}`) : Effect.succeed(c)
      })

    const agentControlled = (id: string) =>
      Effect.flatMap(conversationFor(id), (c) =>
        c.active.id === agentWorkspace.id
          ? Effect.succeed(c)
          : misuse(409, `the agent workspace does not hold control of conversation ${id} (${c.active.name} does)`)
      )

    const accept = (id: string, agent: AgentIdentity | undefined) =>
      Effect.flatMap(conversationFor(id), (c) => {
        const offered = c.pending?.id === agentWorkspace.id
        if (!offered && c.active.id !== agentWorkspace.id)
          return misuse(409, `conversation ${id} was neither offered nor passed to the agent workspace (${c.active.name} holds control)`)
        changeControl(c, "acceptControl", "agent", { active: agentWorkspace, pending: undefined })
        c.agent = agent ?? c.agent ?? DEFAULT_AGENT
        return Effect.void
      })

    const say = (id: string, content: Parameters<ZendeskSim["agentSay"]>[1], agent: AgentIdentity | undefined) =>
      Effect.gen(function* () {
        const c = yield* agentControlled(id)
        if (typeof content === "string" && (content === "" || content.length > MAX_TEXT_LENGTH))
          return yield* misuse(400, `an agent message needs 1 to ${MAX_TEXT_LENGTH} characters`)
        if (c.messages.length >= maxMessages) return yield* misuse(423, `conversation ${id} holds ${maxMessages} messages`)
        const speaker = agent ?? c.agent ?? DEFAULT_AGENT
        c.agent = speaker
        const message: ZendeskMessage = {
          id: hexId(),
          received: nowIso(),
          author: { type: "business", displayName: speaker.displayName, ...opt("avatarUrl", speaker.avatarUrl) },
          content:
            typeof content === "string"
              ? { type: "text", text: content }
              : {
                  type: content.type,
                  mediaUrl: content.mediaUrl,
                  ...opt("mediaType", content.mediaType),
                  ...opt("altText", content.altText)
                },
          source: { type: "zd:agentWorkspace", integrationId: agentWorkspace.integrationId }
        }
        addMessage(c, message)
        return message
      })

    const agentTyping = (id: string, start: boolean) =>
      Effect.map(agentControlled(id), (c) => {
        const agent = c.agent ?? DEFAULT_AGENT
        const type = start ? "typing:start" : "typing:stop"
        c.activities.push({ type, by: "agent", author: { type: "business", displayName: agent.displayName }, at: nowIso() })
        typingEvent(c, type, agent)
      })

    const release = (id: string, reason: SwitchboardReason) =>
      Effect.map(agentControlled(id), (c) => changeControl(c, "releaseControl", "agent", { active: bot, pending: undefined }, { reason }))

    const passBack = (id: string) =>
      Effect.map(agentControlled(id), (c) => changeControl(c, "passControl", "agent", { active: bot, pending: undefined }))

    // ----- API guard: scripted failures, then the app key, then the app

    /** The scripted failure this request gets, if any (counted now, answered before or after the request is carried out). */
    const takeScripted = () => {
      if (scripted.remaining <= 0) return undefined
      scripted.remaining -= 1
      return { afterApplying: scripted.afterApplying, answer: fail(
        scripted.status,
        `sunshine sim: scripted ${scripted.status} (failNext)`,
        scripted.retryAfterSeconds !== undefined ? { "retry-after": String(scripted.retryAfterSeconds) } : undefined
      ) }
    }

    const verifyJwt = (token: string) =>
      Effect.tryPromise({
        try: async () => {
          const header = decodeProtectedHeader(token)
          if (header.kid !== options.keyId) throw new Error(`unknown key id ${String(header.kid)}`)
          const { payload } = await jwtVerify(token, keySecretBytes, { algorithms: ["HS256"] })
          if (payload["scope"] !== "app") throw new Error(`scope must be app (got ${String(payload["scope"])})`)
        },
        catch: (e) => (e instanceof Error ? e.message : String(e))
      }).pipe(Effect.catchAll((why) => fail(401, `Invalid JWT: ${why}`)))

    const authenticate = Effect.flatMap(request, (req) => {
      const header = (req.headers["authorization"] ?? "").trim()
      if (header === "") return fail(401, "Authorization header is missing")
      const basic = /^Basic\s+(\S+)$/i.exec(header)?.[1]
      if (basic !== undefined) {
        const decoded = Buffer.from(basic, "base64").toString("utf8")
        const colon = decoded.indexOf(":")
        const valid = colon >= 0 && decoded.slice(0, colon) === options.keyId && safeEqual(decoded.slice(colon + 1), options.keySecret)
        return valid ? Effect.void : fail(401, "Invalid credentials")
      }
      const bearer = /^Bearer\s+(\S+)$/i.exec(header)?.[1]
      return bearer === undefined ? fail(401, "Authorization must be Basic or Bearer") : verifyJwt(bearer)
    })

    const requireApp = Effect.flatMap(param("appId"), (appId) =>
      appId === options.appId ? Effect.void : fail(401, `The key is not authorized for app ${appId}`)
    )

    const api = <R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, Reject, R>) =>
      handle(
        Effect.gen(function* () {
          const failure = takeScripted()
          if (failure !== undefined && !failure.afterApplying) return yield* failure.answer
          yield* authenticate
          yield* requireApp
          const response = yield* handler
          return failure !== undefined ? yield* failure.answer : response
        })
      )

    // ----- routes: users

    const userRef = (ref: { readonly userId?: string; readonly userExternalId?: string }) =>
      ref.userId !== undefined ? usersById.get(ref.userId) : ref.userExternalId !== undefined ? usersByExternalId.get(ref.userExternalId) : undefined

    const createUser = api(
      Effect.gen(function* () {
        const body = yield* jsonBody(UserCreate)
        if (usersByExternalId.has(body.externalId)) return yield* fail(409, `A user with externalId ${body.externalId} already exists`)
        const user: UserState = {
          id: hexId(),
          externalId: body.externalId,
          profile: Object.fromEntries(Object.entries(body.profile ?? {}).filter(([, v]) => v !== undefined)) as Record<string, string>,
          metadata: body.metadata ?? {},
          signedUpAt: nowIso()
        }
        usersById.set(user.id, user)
        usersByExternalId.set(user.externalId, user)
        return json(201, { user: userBody(user) })
      })
    )

    const getUser = api(
      Effect.gen(function* () {
        const key = yield* param("userIdOrExternalId")
        const user = usersById.get(key) ?? usersByExternalId.get(key)
        return user === undefined ? yield* fail(404, `User ${key} not found`) : json(200, { user: userBody(user) })
      })
    )

    // ----- routes: conversations

    const existingConversation = Effect.flatMap(param("conversationId"), (id) => {
      const c = conversations.get(id)
      return c === undefined ? fail(404, `Conversation ${id} not found`) : Effect.succeed(c)
    })

    const createConversation = api(
      Effect.gen(function* () {
        const body = yield* jsonBody(ConversationCreate)
        if (body.type !== "personal") return yield* fail(400, "type: the simulator supports personal conversations only")
        if (body.participants.length !== 1) return yield* fail(400, "participants: a personal conversation has exactly one participant")
        const ref = body.participants[0]!
        if (ref.userId === undefined && ref.userExternalId === undefined)
          return yield* fail(400, "participants.0: userId or userExternalId is required")
        const user = userRef(ref)
        if (user === undefined) return yield* fail(404, `User ${ref.userId ?? ref.userExternalId} not found`)
        if ([...conversations.values()].some((c) => c.user.id === user.id))
          return yield* fail(
            400,
            `User ${user.id} already has a personal conversation and multi-conversations are not enabled for this app`
          )
        const c: ConversationState = {
          id: hexId(),
          user,
          metadata: body.metadata ?? {},
          createdAt: nowIso(),
          active: bot,
          pending: undefined,
          agent: undefined,
          switchboardActions: [],
          messages: [],
          activities: []
        }
        conversations.set(c.id, c)
        yield* Effect.log(
          `zendesk sim <- new conversation ${c.id} for ${user.externalId}; ` +
            `drive the agent with POST ${origin}/sim/conversations/${c.id}/accept|say|typing|close|passBack|transferToEmail`
        )
        return json(201, { conversation: conversationBody(c) })
      })
    )

    const listConversations = api(
      Effect.gen(function* () {
        const query = yield* searchParams
        const userId = query.get("filter[userId]")
        const userExternalId = query.get("filter[userExternalId]")
        if (userId === null && userExternalId === null) return yield* fail(400, "filter[userId] or filter[userExternalId] is required")
        const user = userId !== null ? usersById.get(userId) : usersByExternalId.get(userExternalId!)
        if (user === undefined) return yield* fail(404, `User ${userId ?? userExternalId} not found`)
        const own = [...conversations.values()].filter((c) => c.user.id === user.id)
        return json(200, { conversations: own.map(conversationBody), meta: { hasMore: false }, links: {} })
      })
    )

    const getConversation = api(Effect.map(existingConversation, (c) => json(200, { conversation: conversationBody(c) })))

    // ----- routes: messages

    const postMessage = api(
      Effect.gen(function* () {
        const c = yield* existingConversation
        const body = yield* jsonBody(MessagePost)
        let author: MessageAuthor
        if (body.author.type === "user") {
          const user = userRef(body.author)
          if (body.author.userId === undefined && body.author.userExternalId === undefined)
            return yield* fail(400, "author: userId or userExternalId is required for a user author")
          if (user === undefined || user.id !== c.user.id)
            return yield* fail(400, `author: ${body.author.userId ?? body.author.userExternalId} is not a participant of conversation ${c.id}`)
          author = { type: "user", userId: user.id, displayName: userDisplayName(user), ...opt("avatarUrl", user.profile["avatarUrl"]) }
        } else {
          author = { type: "business", displayName: body.author.displayName ?? DEFAULT_BUSINESS_NAME, ...opt("avatarUrl", body.author.avatarUrl) }
        }
        if (c.messages.length >= maxMessages) return yield* fail(423, `Message limit of ${maxMessages} per conversation reached.`)
        const message: ZendeskMessage = {
          id: hexId(),
          received: nowIso(),
          author,
          content: body.content,
          source: { type: "api:conversations" },
          ...opt("metadata", body.metadata ?? undefined)
        }
        addMessage(c, message)
        return json(201, { messages: [message] })
      })
    )

    /** Fixed-size pages; no cursor = the newest page; cursors and links only where a page exists. */
    const listMessages = api(
      Effect.gen(function* () {
        const c = yield* existingConversation
        const query = yield* searchParams
        const before = query.get("page[before]")
        const after = query.get("page[after]")
        if (before !== null && after !== null) return yield* fail(400, "page[before] and page[after] cannot be used together")
        const cursor = before ?? after
        const cursorIndex = cursor === null ? -1 : c.messages.findIndex((m) => m.id === cursor)
        if (cursor !== null && cursorIndex < 0) return yield* fail(400, `${before !== null ? "page[before]" : "page[after]"}: ${cursor} is not a message of this conversation`)
        const total = c.messages.length
        const [start, end] =
          after !== null
            ? [cursorIndex + 1, Math.min(total, cursorIndex + 1 + pageSize)]
            : before !== null
              ? [Math.max(0, cursorIndex - pageSize), cursorIndex]
              : [Math.max(0, total - pageSize), total]
        const page = c.messages.slice(start, end)
        const olderExist = page.length > 0 && start > 0
        const newerExist = page.length > 0 && end < total
        const beforeCursor = olderExist ? page[0]!.id : undefined
        const afterCursor = newerExist ? page.at(-1)!.id : undefined
        const self = `${origin}${new URL((yield* request).url, origin).pathname}`
        return json(200, {
          messages: page,
          meta: { hasMore: after !== null ? newerExist : olderExist, ...opt("beforeCursor", beforeCursor), ...opt("afterCursor", afterCursor) },
          links: {
            ...opt("prev", beforeCursor === undefined ? undefined : `${self}?page[before]=${beforeCursor}`),
            ...opt("next", afterCursor === undefined ? undefined : `${self}?page[after]=${afterCursor}`)
          }
        })
      })
    )

    // ----- routes: activity

    const postActivity = api(
      Effect.gen(function* () {
        const c = yield* existingConversation
        const body = yield* jsonBody(ActivityPost)
        if (body.author.type === "user") {
          if (body.type !== "conversation:read") return yield* fail(400, `type: a user author may only send conversation:read (got ${body.type})`)
          const user = userRef(body.author)
          if (user === undefined || user.id !== c.user.id)
            return yield* fail(400, `author: ${body.author.userId ?? body.author.userExternalId ?? "(no user)"} is not a participant of conversation ${c.id}`)
          c.activities.push({ type: body.type, by: "api", author: { type: "user", userId: user.id }, at: nowIso() })
          return json(200, {})
        }
        const author: AgentIdentity = { displayName: body.author.displayName ?? DEFAULT_BUSINESS_NAME, ...opt("avatarUrl", body.author.avatarUrl) }
        c.activities.push({ type: body.type, by: "api", author: { type: "business", displayName: author.displayName }, at: nowIso() })
        if (body.type !== "conversation:read") typingEvent(c, body.type, author)
        return json(200, {})
      })
    )

    // ----- routes: switchboard

    /** id, name, integrationType or "next" (after the integration in control): 400 when nothing matches. */
    const integrationFor = (c: ConversationState, ref: string) => {
      const found = ref === "next" ? nextOf(c.active) : switchboard.find((i) => i.id === ref || i.name === ref || i.integrationType === ref)
      return found === undefined ? fail(400, `switchboardIntegration: no switchboard integration ${ref}`) : Effect.succeed(found)
    }

    const passControl = api(
      Effect.gen(function* () {
        const c = yield* existingConversation
        const body = yield* jsonBody(ControlTarget)
        const target = yield* integrationFor(c, body.switchboardIntegration)
        changeControl(c, "passControl", "api", { active: target, pending: undefined }, { metadata: body.metadata })
        return json(200, {})
      })
    )

    const offerControl = api(
      Effect.gen(function* () {
        const c = yield* existingConversation
        const body = yield* jsonBody(ControlTarget)
        const target = yield* integrationFor(c, body.switchboardIntegration)
        if (target.id === c.active.id) return yield* fail(400, `switchboardIntegration: ${target.name} already holds control`)
        changeControl(c, "offerControl", "api", { active: c.active, pending: target }, { metadata: body.metadata })
        return json(200, {})
      })
    )

    const acceptControl = api(
      Effect.gen(function* () {
        const c = yield* existingConversation
        const body = yield* jsonBody(ControlMetadata)
        if (c.pending === undefined) return yield* fail(400, `no switchboard integration was offered control of conversation ${c.id}`)
        changeControl(c, "acceptControl", "api", { active: c.pending, pending: undefined }, { metadata: body.metadata })
        return json(200, {})
      })
    )

    const releaseControl = api(
      Effect.gen(function* () {
        const c = yield* existingConversation
        const body = yield* jsonBody(ControlMetadata)
        changeControl(c, "releaseControl", "api", { active: bot, pending: undefined }, { metadata: body.metadata })
        return json(200, {})
      })
    )

    // ----- routes: sandbox

    const simAnswer = <A>(effect: Effect.Effect<A, ZendeskSimError>, ok: (a: A) => HttpServerResponse.HttpServerResponse) =>
      Effect.match(effect, {
        onSuccess: ok,
        onFailure: (e) => json(e.status, errorBody(e.status === 404 ? "NotFound" : e.status === 409 ? "Conflict" : "BadRequest", e.message))
      })

    const noContent = () => HttpServerResponse.empty({ status: 204 })

    const agentOf = (body: { readonly displayName?: string; readonly avatarUrl?: string }): AgentIdentity | undefined =>
      body.displayName === undefined ? undefined : { displayName: body.displayName, ...opt("avatarUrl", body.avatarUrl) }

    const simAgentAction = handle(
      Effect.gen(function* () {
        const id = yield* param("conversationId")
        const action = yield* param("action")
        switch (action) {
          case "accept":
            return yield* simAnswer(accept(id, agentOf(yield* sandboxBody(AgentBody))), noContent)
          case "say": {
            const body = yield* sandboxBody(SayBody)
            if (body.mediaUrl === undefined && (body.text === undefined || body.text === ""))
              return json(400, errorBody("BadRequest", "say needs text or mediaUrl"))
            const content =
              body.mediaUrl !== undefined
                ? { type: body.type ?? "image", mediaUrl: body.mediaUrl, ...opt("mediaType", body.mediaType), ...opt("altText", body.altText) }
                : body.text!
            return yield* simAnswer(say(id, content, agentOf(body)), (message) => json(200, message))
          }
          case "typing":
            return yield* simAnswer(agentTyping(id, (yield* sandboxBody(TypingBody)).start ?? true), noContent)
          case "close":
            return yield* simAnswer(release(id, "ticketClosed"), noContent)
          case "transferToEmail":
            return yield* simAnswer(release(id, "transferToEmail"), noContent)
          case "passBack":
            return yield* simAnswer(passBack(id), noContent)
          default:
            return json(404, errorBody("NotFound", `unknown agent action ${action} (accept|say|typing|close|passBack|transferToEmail)`))
        }
      })
    )

    const scriptFailures = (n: number, status: number, retryAfterSeconds: number | undefined, afterApplying = false) => {
      scripted = { remaining: Math.max(0, Math.floor(n)), status, retryAfterSeconds, afterApplying }
    }
    const scriptDrops = (n: number, filter: ((event: WebhookEvent) => boolean) | undefined) => {
      dropScript = { remaining: Math.max(0, Math.floor(n)), filter }
    }

    const allConversations = () => [...conversations.values()].map(snapshotConversation)
    const allUsers = () =>
      [...usersById.values()].map((u): SimZendeskUser => ({ id: u.id, externalId: u.externalId, profile: u.profile, signedUpAt: u.signedUpAt }))
    const allDeliveries = () => deliveries.map(snapshotDelivery)

    const apiRoutes = (base: string) => {
      const at = (path: string) => `${base}${path}` as HttpRouter.PathInput
      return [
        HttpRouter.post(at("/users"), createUser),
        HttpRouter.get(at("/users/:userIdOrExternalId"), getUser),
        HttpRouter.post(at("/conversations"), createConversation),
        HttpRouter.get(at("/conversations"), listConversations),
        HttpRouter.get(at("/conversations/:conversationId"), getConversation),
        HttpRouter.post(at("/conversations/:conversationId/messages"), postMessage),
        HttpRouter.get(at("/conversations/:conversationId/messages"), listMessages),
        HttpRouter.post(at("/conversations/:conversationId/activity"), postActivity),
        HttpRouter.post(at("/conversations/:conversationId/passControl"), passControl),
        HttpRouter.post(at("/conversations/:conversationId/offerControl"), offerControl),
        HttpRouter.post(at("/conversations/:conversationId/acceptControl"), acceptControl),
        HttpRouter.post(at("/conversations/:conversationId/releaseControl"), releaseControl)
      ]
    }

    const sandboxRouter = HttpRouter.empty.pipe(
      HttpRouter.post("/sim/conversations/:conversationId/:action", simAgentAction),
      HttpRouter.post(
        "/sim/fail",
        handle(Effect.map(sandboxBody(FailBody), (b) => (scriptFailures(b.n, b.status, b.retryAfterSeconds), noContent())))
      ),
      HttpRouter.post(
        "/sim/webhooks/drop",
        handle(
          Effect.map(sandboxBody(DropBody), (b) => {
            const type = b.type
            scriptDrops(b.n, type === undefined ? undefined : (event) => event.type === type)
            return noContent()
          })
        )
      ),
      HttpRouter.post(
        "/sim/webhooks/duplicate",
        handle(Effect.map(sandboxBody(CountBody), (b) => ((duplicateRemaining = b.n), noContent())))
      ),
      HttpRouter.post("/sim/webhooks/target", handle(Effect.map(sandboxBody(TargetBody), (b) => ((webhookUrl = b.url), noContent())))),
      HttpRouter.get("/sim/conversations", Effect.sync(() => json(200, allConversations()))),
      HttpRouter.get("/sim/users", Effect.sync(() => json(200, allUsers()))),
      HttpRouter.get("/sim/requests", Effect.sync(() => json(200, apiRequests))),
      HttpRouter.get("/sim/webhooks", Effect.sync(() => json(200, allDeliveries())))
    )

    const router = [...apiRoutes("/sc/v2/apps/:appId"), ...apiRoutes("/v2/apps/:appId")].reduce((r, add) => add(r), sandboxRouter)
    yield* server.serve(recordApiRequests((entry) => apiRequests.push(entry))(withSunshineFallbacks(router)))

    return {
      baseUrl,
      botIntegration: bot,
      agentWorkspace,
      conversations: allConversations,
      conversationOf: (externalId) => {
        const newest = [...conversations.values()].reverse().find((c) => c.user.externalId === externalId)
        return newest === undefined ? undefined : snapshotConversation(newest)
      },
      users: allUsers,
      requests: () => [...apiRequests],
      webhookDeliveries: allDeliveries,
      awaitWebhooks: () =>
        Effect.gen(function* () {
          while (undeliveredEvents > 0) yield* Effect.sleep(Duration.millis(10))
        }),
      setWebhookUrl: (url) =>
        Effect.sync(() => {
          webhookUrl = url
        }),
      agentAccept: (conversationId, agent) => Effect.orDie(accept(conversationId, agent)),
      agentSay: (conversationId, content, agent) => Effect.orDie(say(conversationId, content, agent)),
      agentTyping: (conversationId, start) => Effect.orDie(agentTyping(conversationId, start)),
      closeTicket: (conversationId) => Effect.orDie(release(conversationId, "ticketClosed")),
      passBack: (conversationId) => Effect.orDie(passBack(conversationId)),
      transferToEmail: (conversationId) => Effect.orDie(release(conversationId, "transferToEmail")),
      dropNextWebhooks: (n, filter) => Effect.sync(() => scriptDrops(n, filter)),
      duplicateNextWebhooks: (n) =>
        Effect.sync(() => {
          duplicateRemaining = Math.max(0, Math.floor(n))
        }),
      failNext: (n, status, failOptions) =>
        Effect.sync(() => scriptFailures(n, status, failOptions?.retryAfterSeconds, failOptions?.afterApplying ?? false))
    } satisfies ZendeskSim
  })

// ---------------------------------------------------------------------------------------
// Serving

/** Records every API request with the status it got (after the fallbacks, so 404s count too). */
const recordApiRequests =
  (record: (entry: SimApiRequest) => void) =>
  <E, R>(app: HttpApp.Default<E, R>) =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (req) =>
      Effect.tap(app, (response) =>
        Effect.sync(() => {
          const q = req.url.indexOf("?")
          const path = q < 0 ? req.url : req.url.slice(0, q)
          if (API_PREFIXES.some((prefix) => path.startsWith(prefix)))
            record({ method: req.method, path, query: q < 0 ? "" : req.url.slice(q + 1), status: response.status })
        })
      )
    )

/** Unknown routes (and methods) answer 404 not_found in the Sunshine shape; a defect 500 internal_error. */
const withSunshineFallbacks = <E, R>(app: HttpApp.Default<E, R>) =>
  Effect.catchAllCause(app, (cause) => {
    const error = Cause.squash(cause)
    if (typeof error === "object" && error !== null && "_tag" in error && error._tag === "RouteNotFound")
      return Effect.succeed(sunshineError(404, "no such route"))
    return Effect.as(
      Effect.logWarning("zendesk sim handler failed", cause),
      sunshineError(500, Cause.pretty(cause).split("\n")[0] ?? "internal error")
    )
  })

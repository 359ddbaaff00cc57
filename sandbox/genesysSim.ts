/**
 * Genesys Cloud CX simulator (PROVIDERS.md "Genesys Cloud CX"): OAuth client credentials,
 * Open Messaging inbound, the messaging conversation resource, the notifications service
 * with its streaming WebSocket, queue availability, and a scriptable agent whose messages
 * reach the gateway as signed outbound webhooks. Errors use the Genesys body
 * `{ message, code, status, contextId, details, errors }`.
 *
 * One loopback server plays login, API and streaming host (`baseUrl` is both the login and
 * the API base):
 *   POST  /oauth/token                                     Basic clientId:clientSecret, form grant_type=client_credentials
 *   POST  /api/v2/conversations/messages/{integrationId}/inbound/open/message   202 (?prefetchConversationId=true adds conversationId)
 *   POST  /api/v2/conversations/messages/{integrationId}/inbound/open/event     202 (Typing)
 *   POST  /api/v2/conversations/messages/{integrationId}/inbound/open/receipt   202
 *   POST  /api/v2/conversations/messages/inbound/open      deprecated older message shape (channel.to.id = integrationId)
 *   GET   /api/v2/conversations/messages/{messageId}/details
 *   GET   /api/v2/conversations/messages/{conversationId}
 *   PATCH /api/v2/conversations/messages/{conversationId}  { state: "disconnected" }: everybody leaves
 *   PATCH /api/v2/conversations/messages/{conversationId}/participants/{participantId}   { state: "disconnected" }
 *   POST  /api/v2/notifications/channels                   { id, connectUri, expires }
 *   HEAD  /api/v2/notifications/channels/{channelId}       200 alive, 404 gone
 *   GET|POST|PUT|DELETE /api/v2/notifications/channels/{channelId}/subscriptions   body [{ id: topic }]
 *   GET   /api/v2/routing/queues/{queueId}/mediatypes/message/estimatedwaittime
 *   POST  /api/v2/analytics/queues/observations/query
 *   GET   /api/v2/users/{userId}
 *   WS    /channels/{channelId}                            the connectUri
 * Sandbox routes (no auth, for curl):
 *   POST /sim/conversations/{conversationId}/join|say|typing|leave|end
 *        bodies: join {userId?, name?}; say {text?, attachments?: [{url, mime, filename?, mediaType?}]}; leave {transfer?}
 *   POST /sim/webhooks/{webhookId}/resend      -> { webhookId, status }
 *   POST /sim/sockets/drop | /sim/sockets/close | /sim/tokens/expire
 *   POST /sim/fail                             { n, status: 429|500|503, retryAfterSeconds? }
 *   GET  /sim/conversations | /sim/requests | /sim/channels
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import type { HttpApp } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Cause, Data, Duration, Effect, Either, Schedule, Schema } from "effect"
import type { Scope, Types } from "effect"
import { createHmac, randomUUID } from "node:crypto"
import { createServer, type IncomingMessage, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import type { Duplex } from "node:stream"
import WebSocket, { WebSocketServer } from "ws"
import { fieldIssues, handle, HttpUrl, IsoDateTime, json, NonEmptyString, param, Reject, request, safeEqual, searchParams } from "./simHttp.js"

// ---------------------------------------------------------------------------------------
// Options and the scripting interface

export interface GenesysSimOptions {
  readonly clients: ReadonlyArray<{ readonly clientId: string; readonly clientSecret: string }>
  /** Open Messaging integrations: where agent messages are posted (outbound webhook) and the secret that signs them. */
  readonly integrations: ReadonlyArray<{ readonly integrationId: string; readonly webhookUrl: string; readonly webhookSecret: string }>
  /** Default: one queue `sim-queue` (a conversation always sits in a queue); estimatedWaitSeconds default 0, agentsOnQueue default 1. */
  readonly queues?: ReadonlyArray<{ readonly queueId: string; readonly estimatedWaitSeconds?: number; readonly agentsOnQueue?: number }>
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
}

export interface SimReceipt {
  /** The Genesys id of the outbound message (= the webhook id) it reports on. */
  readonly id: string
  readonly status: "Delivered" | "Failed"
  readonly isFinalReceipt: boolean
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
export interface GenesysSim {
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
  /** Posts the agent's message to the gateway; the gateway's final answer status after the retries (0: it never answered). */
  readonly agentSay: (
    conversationId: string,
    message: {
      text?: string
      attachments?: ReadonlyArray<{ url: string; mime: string; filename?: string; mediaType?: "Image" | "Video" | "Audio" | "File" | "Link" }>
    }
  ) => Effect.Effect<{ webhookId: string; status: number }>
  readonly agentTyping: (conversationId: string) => Effect.Effect<{ webhookId: string; status: number }>
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
  readonly channels: () => ReadonlyArray<{ channelId: string; clientId: string; connected: boolean; topics: ReadonlyArray<string> }>
}

// ---------------------------------------------------------------------------------------
// Wire shapes (PROVIDERS.md)

/** An optional field that, when present, must be valid (no `undefined` branch to muddy the error). */
const exact = <A, I>(schema: Schema.Schema<A, I, never>) => Schema.optionalWith(schema, { exact: true })

/** A closed set of strings, rejected with one readable message rather than one per member. */
const oneOf = <const L extends ReadonlyArray<string>>(...values: L) =>
  Schema.Literal(...values).annotations({ message: () => ({ message: `must be one of ${values.join(", ")}`, override: true }) })

const IdType = oneOf("Email", "Phone", "Opaque")
type IdType = typeof IdType.Type

const MediaType = oneOf("Image", "Video", "Audio", "File", "Link")
type MediaType = typeof MediaType.Type

const StringMap = Schema.Record({ key: Schema.String, value: Schema.String })

const InboundFrom = Schema.Struct({
  id: NonEmptyString,
  idType: IdType,
  nickname: exact(Schema.String),
  firstName: exact(Schema.String),
  lastName: exact(Schema.String),
  email: exact(Schema.String),
  image: exact(Schema.String)
})
export type InboundFrom = typeof InboundFrom.Type

const InboundContent = Schema.Struct({
  attachment: Schema.Struct({
    mediaType: MediaType,
    url: HttpUrl,
    mime: NonEmptyString,
    filename: exact(Schema.String),
    sha256: exact(Schema.String)
  })
})
export type InboundContent = typeof InboundContent.Type

/** Fields both inbound message shapes share (the channel's own fields differ). */
const channelFields = {
  from: InboundFrom,
  time: IsoDateTime,
  messageId: exact(Schema.String),
  metadata: exact(Schema.Struct({ customAttributes: exact(StringMap) }))
}
const messageFields = {
  text: exact(Schema.String),
  content: exact(Schema.Array(InboundContent)),
  metadata: exact(StringMap)
}

const requireTextOrContent = (m: { readonly text?: string | undefined; readonly content?: ReadonlyArray<unknown> | undefined }) =>
  (m.text !== undefined && m.text !== "") || (m.content !== undefined && m.content.length > 0)
    ? undefined
    : { path: ["text"], message: "a message needs text or content" }

const InboundMessage = Schema.Struct({ channel: Schema.Struct(channelFields), ...messageFields }).pipe(
  Schema.filter(requireTextOrContent)
)
type InboundMessage = typeof InboundMessage.Type

const DeprecatedInboundMessage = Schema.Struct({
  channel: Schema.Struct({
    ...channelFields,
    platform: Schema.Literal("Open"),
    type: Schema.Literal("Private"),
    to: Schema.Struct({ id: NonEmptyString })
  }),
  type: Schema.Literal("Text"),
  direction: Schema.Literal("Inbound"),
  ...messageFields
}).pipe(Schema.filter(requireTextOrContent))

const InboundEvent = Schema.Struct({
  channel: Schema.Struct({ from: InboundFrom, time: IsoDateTime }),
  events: Schema.NonEmptyArray(
    Schema.Struct({
      eventType: Schema.Literal("Typing"),
      typing: Schema.Struct({ type: Schema.Literal("On"), duration: exact(Schema.NonNegativeInt) })
    })
  )
})

const InboundReceipt = Schema.Struct({
  id: NonEmptyString,
  channel: Schema.Struct({ to: Schema.Struct({ id: NonEmptyString, idType: exact(IdType) }), time: IsoDateTime }),
  status: oneOf("Delivered", "Failed"),
  direction: Schema.Literal("Outbound"),
  isFinalReceipt: Schema.Boolean
})

const DisconnectBody = Schema.Struct({ state: Schema.Literal("disconnected") })

const Subscriptions = Schema.Array(Schema.Struct({ id: NonEmptyString }))

const ObservationQuery = Schema.Struct({
  filter: Schema.Struct({
    type: oneOf("or", "and"),
    predicates: Schema.NonEmptyArray(
      Schema.Struct({
        type: Schema.Literal("dimension"),
        dimension: Schema.Literal("queueId"),
        operator: Schema.Literal("matches"),
        value: NonEmptyString
      })
    )
  }),
  metrics: Schema.NonEmptyArray(NonEmptyString)
})

// sandbox bodies
const JoinBody = Schema.Struct({ userId: exact(NonEmptyString), name: exact(Schema.String) })
const SayBody = Schema.Struct({
  text: exact(Schema.String),
  attachments: exact(Schema.Array(Schema.Struct({ url: HttpUrl, mime: NonEmptyString, filename: exact(Schema.String), mediaType: exact(MediaType) })))
})
const LeaveBody = Schema.Struct({ transfer: exact(Schema.Boolean) })
const FailBody = Schema.Struct({
  n: Schema.NonNegativeInt,
  status: Schema.Literal(429, 500, 503),
  retryAfterSeconds: exact(Schema.NonNegativeInt)
})

// ---------------------------------------------------------------------------------------
// Genesys error answers

const statusCodes: Record<number, string> = {
  400: "bad.request",
  404: "not.found",
  409: "conflict",
  415: "unsupported.media.type",
  429: "too.many.requests.retry.after",
  500: "internal.server.error",
  503: "service.unavailable"
}

const errorBody = (status: number, code: string, message: string, details: ReadonlyArray<Record<string, string>> = []) => ({
  message,
  code,
  status,
  contextId: randomUUID(),
  details,
  errors: []
})

const fail = (
  status: number,
  message: string,
  options: { code?: string; details?: ReadonlyArray<Record<string, string>>; headers?: Record<string, string> } = {}
): Effect.Effect<never, Reject> =>
  Effect.fail(
    new Reject({
      response: json(status, errorBody(status, options.code ?? statusCodes[status] ?? "error", message, options.details), options.headers)
    })
  )

/** A scripted or internal failure of the agent side (unknown conversation, no agent connected...). */
export class GenesysSimError extends Data.TaggedError("GenesysSimError")<{ readonly status: number; readonly message: string }> {}

// ---------------------------------------------------------------------------------------
// Request decoding

const readBody: Effect.Effect<Uint8Array, Reject, HttpServerRequest.HttpServerRequest> = Effect.flatMap(request, (req) =>
  req.arrayBuffer.pipe(
    Effect.map((buffer) => new Uint8Array(buffer)),
    Effect.catchAll(() => fail(400, "the request body could not be read"))
  )
)

const utf8 = new TextDecoder("utf-8", { fatal: true })

const parseJson = (raw: Uint8Array): Effect.Effect<unknown, Reject> =>
  Effect.try({ try: () => JSON.parse(utf8.decode(raw)) as unknown, catch: (e) => e }).pipe(
    Effect.catchAll((e) => fail(400, `the body is not valid JSON: ${e instanceof Error ? e.message : String(e)}`))
  )

/** Decodes a parsed value: 400 bad.request whose message names every bad field (`channel.from.idType: ...`). */
const decodeValue = <A, I>(schema: Schema.Schema<A, I, never>, value: unknown): Effect.Effect<A, Reject> =>
  Either.match(Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "ignore" })(value), {
    onRight: Effect.succeed,
    onLeft: (error) => {
      const fields = fieldIssues(error)
      return fail(400, fields.map((f) => `${f.path}: ${f.message}`).join("; "), {
        details: fields.map((f) => ({ errorCode: "bad.request", fieldName: f.path }))
      })
    }
  })

/** A JSON API body: application/json required (415 otherwise), then decoded. */
const jsonBody = <A, I>(schema: Schema.Schema<A, I, never>) =>
  Effect.gen(function* () {
    const type = (yield* request).headers["content-type"] ?? ""
    if (!/^application\/json\b/i.test(type.trim()))
      return yield* fail(415, `Content-Type must be application/json (got ${type === "" ? "none" : type})`)
    return yield* decodeValue(schema, yield* parseJson(yield* readBody))
  })

/** A sandbox body: JSON whatever the content type (curl -d sends a form type); empty = `{}`. */
const sandboxBody = <A, I>(schema: Schema.Schema<A, I, never>) =>
  Effect.flatMap(readBody, (raw) =>
    raw.length === 0 ? decodeValue(schema, {}) : Effect.flatMap(parseJson(raw), (v) => decodeValue(schema, v))
  )

const textOf = (m: { readonly text?: string }) => (m.text !== undefined ? { text: m.text } : {})

const bearerOf = (header: string | undefined): string | undefined => /^Bearer\s+(\S+)\s*$/i.exec(header ?? "")?.[1]

// ---------------------------------------------------------------------------------------
// State

interface TokenRecord {
  readonly clientId: string
  readonly expiresAt: number
  invalidated: boolean
}

interface ChannelState {
  readonly id: string
  readonly clientId: string
  readonly token: TokenRecord
  topics: Array<string>
  expiresAt: number
  /** Larger = used more recently (a counter, so two uses in one millisecond still order). */
  lastUsed: number
  socket: WebSocket | undefined
  heartbeat: NodeJS.Timeout | undefined
}

type MutableParticipant = Types.Mutable<Participant>

interface ConversationState {
  readonly id: string
  readonly integrationId: string
  readonly fromId: string
  readonly fromIdType: IdType
  readonly queueId: string
  readonly participants: Array<MutableParticipant>
  readonly inbound: Array<SimInboundMessage>
  typingEvents: number
  readonly receipts: Array<SimReceipt>
}

/** What `GET /api/v2/conversations/messages/{messageId}/details` tells about a message. */
interface MessageRecord {
  readonly id: string
  readonly conversationId: string
  readonly direction: "inbound" | "outbound"
  readonly timestamp: string
  readonly text?: string
}

interface SentWebhook {
  readonly id: string
  readonly url: string
  readonly raw: Uint8Array
  readonly signature: string
}

interface Instant {
  readonly ms: number
  readonly iso: string
}

const now = (): Instant => {
  const ms = Date.now()
  return { ms, iso: new Date(ms).toISOString() }
}

const MAX_CHANNELS_PER_CLIENT = 20
const MAX_TOPICS_PER_CHANNEL = 1000
const WEBHOOK_TIMEOUT_MS = 10_000
const WEBHOOK_RETRIES = 5
const RATE_WINDOW_MS = 60_000
const DEFAULT_AGENT = { userId: "genesys-agent-1", name: "Sandbox Agent" }
const DEFAULT_QUEUE = { queueId: "sim-queue" }

const isOpen = (ws: WebSocket | undefined): ws is WebSocket => ws !== undefined && ws.readyState === WebSocket.OPEN

const frame = (topicName: string, eventBody: unknown) =>
  JSON.stringify({ topicName, version: "2", eventBody, metadata: { CorrelationId: randomUUID() } })

const snapshotParticipant = (p: MutableParticipant): Participant => ({ ...p, attributes: { ...p.attributes } })

const conversationBody = (c: ConversationState) => ({ id: c.id, participants: c.participants.map(snapshotParticipant) })

const snapshotConversation = (c: ConversationState): SimConversation => ({
  conversationId: c.id,
  integrationId: c.integrationId,
  fromId: c.fromId,
  queueId: c.queueId,
  participants: c.participants.map(snapshotParticipant),
  inbound: [...c.inbound],
  typingEvents: c.typingEvents,
  receipts: [...c.receipts]
})

const connectedOf = (c: ConversationState, purpose: ParticipantPurpose) =>
  c.participants.filter((p) => p.purpose === purpose && p.state === "connected")

/**
 * PROVIDERS.md: the conversation is over once the customer is disconnected, or every agent
 * left with after-call work started. A transfer puts the conversation back in the queue (a
 * connected acd participant), so "nobody left to handle it" is exactly the second case.
 */
const isOver = (c: ConversationState): boolean =>
  c.participants.some((p) => p.purpose === "customer" && p.state === "disconnected") ||
  c.participants.every((p) => p.purpose === "customer" || p.state === "disconnected")

const mediaTypeOf = (mime: string): MediaType =>
  mime.startsWith("image/") ? "Image" : mime.startsWith("video/") ? "Video" : mime.startsWith("audio/") ? "Audio" : "File"

/** The URL's last path segment, percent-decoded when it decodes. */
const filenameOf = (url: string): string => {
  const segment = new URL(url).pathname.split("/").pop() ?? ""
  try {
    return decodeURIComponent(segment) || "attachment"
  } catch {
    return segment
  }
}

/** POSTs the exact bytes once: the answer status, 0 when none came (timeout, refused). */
const postWebhook = (hook: SentWebhook): Effect.Effect<number> =>
  Effect.tryPromise({
    try: async (signal) => {
      const response = await fetch(hook.url, {
        method: "POST",
        headers: { "content-type": "application/json", "x-hub-signature-256": hook.signature, "user-agent": "genesys-sim" },
        body: hook.raw,
        signal: AbortSignal.any([signal, AbortSignal.timeout(WEBHOOK_TIMEOUT_MS)])
      })
      await response.arrayBuffer()
      return response.status
    },
    catch: (cause) => cause
  }).pipe(Effect.orElseSucceed(() => 0))

const isRetryable = (status: number) => status === 0 || status === 429 || status >= 500

// ---------------------------------------------------------------------------------------
// The simulator

export const makeGenesysSim = (options: GenesysSimOptions): Effect.Effect<GenesysSim, never, Scope.Scope> =>
  Effect.gen(function* () {
    const tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 86_400
    const requestsPerMinute = options.requestsPerMinute ?? 300
    const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 30_000
    const webhookRetryDelayMs = options.webhookRetryDelayMs ?? 5_000
    const channelLifetimeMs = options.channelLifetimeMs ?? 24 * 3_600_000
    const queues: NonNullable<GenesysSimOptions["queues"]> =
      options.queues !== undefined && options.queues.length > 0 ? options.queues : [DEFAULT_QUEUE]
    const integrations = new Map(options.integrations.map((i) => [i.integrationId, i]))

    const tokens = new Map<string, TokenRecord>()
    const grants = new Map<string, number>()
    const rateWindows = new Map<string, Array<number>>()
    const channels = new Map<string, ChannelState>()
    const conversations = new Map<string, ConversationState>()
    const messages = new Map<string, MessageRecord>()
    const webhooks = new Map<string, SentWebhook>()
    const users = new Map<string, string>()
    const apiRequests: Array<SimApiRequest> = []
    let useCounter = 0
    /** failNext: how many API requests still get the scripted answer. */
    let scripted: { remaining: number; status: number; retryAfterSeconds: number | undefined } = {
      remaining: 0,
      status: 500,
      retryAfterSeconds: undefined
    }

    const server = yield* listen
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const wss = yield* webSocketServer(channels)

    // ----- notifications

    const tokenValid = (t: TokenRecord) => !t.invalidated && Date.now() < t.expiresAt

    const closeChannelSocket = (channel: ChannelState, reason: string) => {
      clearInterval(channel.heartbeat)
      channel.heartbeat = undefined
      if (channel.socket !== undefined && channel.socket.readyState <= WebSocket.OPEN) channel.socket.close(1000, reason)
      channel.socket = undefined
    }

    /** Forgets channels past their life (their sockets close). */
    const sweepChannels = () => {
      const t = Date.now()
      for (const channel of channels.values())
        if (channel.expiresAt <= t) {
          closeChannelSocket(channel, "channel expired")
          channels.delete(channel.id)
        }
    }

    const liveChannel = (id: string, clientId?: string): ChannelState | undefined => {
      sweepChannels()
      const channel = channels.get(id)
      return channel !== undefined && (clientId === undefined || channel.clientId === clientId) ? channel : undefined
    }

    /** Delivers to connected sockets of subscribed channels whose token still holds; otherwise the notification is lost. */
    const publish = (topicName: string, eventBody: unknown) => {
      sweepChannels()
      for (const channel of channels.values())
        if (isOpen(channel.socket) && tokenValid(channel.token) && channel.topics.includes(topicName))
          channel.socket.send(frame(topicName, eventBody))
    }

    const publishQueue = (c: ConversationState) =>
      publish(`v2.routing.queues.${c.queueId}.conversations.messages`, conversationBody(c))

    const publishDetail = (c: ConversationState, event: string, at: Instant, body: Record<string, unknown>) =>
      publish(`v2.detail.events.conversation.${c.id}.${event}`, { eventTime: at.ms, conversationId: c.id, ...body })

    const attachSocket = (channel: ChannelState, ws: WebSocket) => {
      if (channel.socket !== undefined) closeChannelSocket(channel, "replaced by a new connection") // one socket per channel
      channel.socket = ws
      channel.lastUsed = ++useCounter
      channel.heartbeat = setInterval(() => {
        if (isOpen(ws)) ws.send(frame("channel.metadata", { message: "WebSocket Heartbeat" }))
      }, heartbeatIntervalMs)
      ws.on("message", (data, isBinary) => {
        if (isBinary) return
        try {
          const parsed = JSON.parse(String(data)) as { message?: unknown }
          if (parsed.message === "ping") ws.send(frame("channel.metadata", { message: "pong" }))
        } catch {
          // not JSON: the service ignores it
        }
      })
      ws.on("close", () => {
        if (channel.socket === ws) {
          clearInterval(channel.heartbeat)
          channel.heartbeat = undefined
          channel.socket = undefined
        }
      })
    }

    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const id = /^\/channels\/([^/?#]+)/.exec(req.url ?? "")?.[1]
      const channel = id === undefined ? undefined : liveChannel(id)
      if (channel === undefined) {
        socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        return
      }
      wss.handleUpgrade(req, socket, head, (ws) => attachSocket(channel, ws))
    })

    // ----- conversation changes (each publishes its detail event and the queue snapshot)

    const addParticipant = (c: ConversationState, p: Omit<MutableParticipant, "id" | "attributes"> & { attributes?: Record<string, string> }) => {
      const participant: MutableParticipant = { id: randomUUID(), attributes: {}, ...p }
      c.participants.push(participant)
      return participant
    }

    const enqueue = (c: ConversationState, at: Instant) => {
      const acd = addParticipant(c, { purpose: "acd", state: "connected", connectedTime: at.iso, name: c.queueId, queue: { id: c.queueId } })
      publishDetail(c, "acd.start", at, { participantId: acd.id, queueId: c.queueId, mediaType: "MESSAGE" })
    }

    const disconnect = (c: ConversationState, p: MutableParticipant, disconnectType: DisconnectType, at: Instant) => {
      p.state = "disconnected"
      p.disconnectType = disconnectType
      p.endTime = at.iso
      const upper = disconnectType.toUpperCase()
      switch (p.purpose) {
        case "customer":
          return publishDetail(c, "customer.end", at, { participantId: p.id, disconnectType: upper, mediaType: "MESSAGE" })
        case "acd":
          return publishDetail(c, "acd.end", at, { participantId: p.id, queueId: c.queueId, disconnectType: upper, mediaType: "MESSAGE" })
        case "agent": {
          const userId = p.user?.id
          publishDetail(c, "user.end", at, { participantId: p.id, userId, queueId: c.queueId, disconnectType: upper, mediaType: "MESSAGE" })
          // a transfer hands the chat on; any other leave starts after-call work
          if (disconnectType !== "transfer") {
            p.startAcwTime = at.iso
            publishDetail(c, "acw", at, { participantId: p.id, userId })
          }
        }
      }
    }

    /** Everybody still connected leaves: the customer with `customerType`, the others with `othersType`. */
    const disconnectAll = (c: ConversationState, customerType: DisconnectType, othersType: DisconnectType) => {
      const remaining = c.participants.filter((p) => p.state !== "disconnected")
      if (remaining.length === 0) return
      const at = now()
      for (const p of remaining) if (p.purpose !== "customer") disconnect(c, p, othersType, at)
      for (const p of remaining) if (p.purpose === "customer") disconnect(c, p, customerType, at)
      publishQueue(c)
    }

    const openConversation = (integrationId: string, fromId: string) =>
      [...conversations.values()].reverse().find((c) => c.integrationId === integrationId && c.fromId === fromId && !isOver(c))

    const routeQueue = (requested: string | undefined): Effect.Effect<string> => {
      const first = queues[0]!.queueId
      if (requested === undefined) return Effect.succeed(first)
      if (queues.some((q) => q.queueId === requested)) return Effect.succeed(requested)
      return Effect.as(Effect.logWarning(`genesys sim: unknown queue ${requested}, routed to ${first}`), first)
    }

    const startConversation = (integrationId: string, body: InboundMessage) =>
      Effect.gen(function* () {
        const queueId = yield* routeQueue(body.metadata?.["queueId"] ?? body.channel.metadata?.customAttributes?.["queueId"])
        const from = body.channel.from
        const c: ConversationState = {
          id: randomUUID(),
          integrationId,
          fromId: from.id,
          fromIdType: from.idType,
          queueId,
          participants: [],
          inbound: [],
          typingEvents: 0,
          receipts: []
        }
        conversations.set(c.id, c)
        const at = now()
        const name = from.nickname ?? ([from.firstName, from.lastName].filter((s) => s !== undefined).join(" ") || from.id)
        const customer = addParticipant(c, {
          purpose: "customer",
          state: "connected",
          connectedTime: at.iso,
          name,
          attributes: { ...body.channel.metadata?.customAttributes }
        })
        publishDetail(c, "customer.start", at, { participantId: customer.id, mediaType: "MESSAGE" })
        enqueue(c, at)
        publishQueue(c)
        yield* Effect.log(
          `genesys sim <- new conversation ${c.id} from ${from.id} in queue ${queueId}; ` +
            `drive the agent with POST ${baseUrl}/sim/conversations/${c.id}/join|say|typing|leave|end`
        )
        return c
      })

    // ----- the agent side

    const conversationFor = (id: string) =>
      Effect.suspend(() => {
        const c = conversations.get(id)
        return c === undefined ? Effect.fail(new GenesysSimError({ status: 404, message: `no conversation ${id}` })) : Effect.succeed(c)
      })

    const joinAgent = (conversationId: string, agent: { userId?: string; name?: string } = {}) =>
      Effect.flatMap(conversationFor(conversationId), (c) => {
        if (isOver(c)) return Effect.fail(new GenesysSimError({ status: 409, message: `conversation ${c.id} is over` }))
        const userId = agent.userId ?? DEFAULT_AGENT.userId
        const name = agent.name ?? users.get(userId) ?? DEFAULT_AGENT.name
        users.set(userId, name)
        const already = connectedOf(c, "agent").find((p) => p.user?.id === userId)
        if (already !== undefined) return Effect.succeed({ participantId: already.id, userId })
        const at = now()
        for (const acd of connectedOf(c, "acd")) disconnect(c, acd, "transfer", at) // routed to the agent
        const p = addParticipant(c, { purpose: "agent", state: "alerting", user: { id: userId }, name, queue: { id: c.queueId } })
        publishQueue(c)
        p.state = "connected"
        p.connectedTime = at.iso
        publishDetail(c, "user.start", at, { participantId: p.id, userId, queueId: c.queueId, mediaType: "MESSAGE" })
        publishQueue(c)
        return Effect.succeed({ participantId: p.id, userId })
      })

    const currentAgent = (c: ConversationState) => {
      const agent = connectedOf(c, "agent").at(-1)
      return agent === undefined
        ? Effect.fail(new GenesysSimError({ status: 409, message: `no agent is connected to conversation ${c.id}` }))
        : Effect.succeed(agent)
    }

    const deliver = (hook: SentWebhook) =>
      postWebhook(hook).pipe(
        Effect.filterOrFail((status) => !isRetryable(status), (status) => status),
        Effect.retry({ schedule: Schedule.spaced(Duration.millis(webhookRetryDelayMs)), times: WEBHOOK_RETRIES }),
        Effect.merge,
        Effect.tap((status) => Effect.log(`genesys sim agent -> webhook ${hook.id}: gateway answered ${status === 0 ? "nothing" : status}`))
      )

    /** Builds, signs (base64 HMAC-SHA256 of the exact bytes), records and posts one outbound message. */
    const sendOutbound = (
      c: ConversationState,
      agent: MutableParticipant,
      body: { type: "Text" | "Event"; text?: string; content?: unknown; events?: unknown }
    ) =>
      Effect.suspend(() => {
        const integration = integrations.get(c.integrationId)!
        const id = randomUUID()
        const at = now()
        const message = {
          id,
          channel: {
            id: c.integrationId,
            platform: "Open",
            type: "Private",
            to: { id: c.fromId, idType: c.fromIdType },
            from: { nickname: agent.name ?? DEFAULT_AGENT.name, id: agent.user?.id ?? DEFAULT_AGENT.userId, idType: "Opaque" },
            time: at.iso,
            messageId: id
          },
          ...body,
          direction: "Outbound",
          originatingEntity: "Human",
          conversationId: c.id
        }
        const raw = new Uint8Array(Buffer.from(JSON.stringify(message), "utf8"))
        const hook: SentWebhook = {
          id,
          url: integration.webhookUrl,
          raw,
          signature: `sha256=${createHmac("sha256", integration.webhookSecret).update(raw).digest("base64")}`
        }
        webhooks.set(id, hook)
        if (body.type === "Text")
          messages.set(id, { id, conversationId: c.id, direction: "outbound", timestamp: at.iso, ...textOf(body) })
        return Effect.map(deliver(hook), (status) => ({ webhookId: id, status }))
      })

    const say = (
      conversationId: string,
      message: Parameters<GenesysSim["agentSay"]>[1]
    ): Effect.Effect<{ webhookId: string; status: number }, GenesysSimError> =>
      Effect.gen(function* () {
        const c = yield* conversationFor(conversationId)
        const agent = yield* currentAgent(c)
        const attachments = message.attachments ?? []
        if ((message.text === undefined || message.text === "") && attachments.length === 0)
          return yield* new GenesysSimError({ status: 400, message: "an agent message needs text or attachments" })
        const content = attachments.map((a) => ({
          contentType: "Attachment",
          attachment: {
            id: randomUUID(),
            mediaType: a.mediaType ?? mediaTypeOf(a.mime),
            url: a.url,
            mime: a.mime,
            filename: a.filename ?? filenameOf(a.url)
          }
        }))
        return yield* sendOutbound(c, agent, {
          type: "Text",
          ...textOf(message),
          ...(content.length > 0 ? { content } : {})
        })
      })

    const typing = (conversationId: string) =>
      Effect.gen(function* () {
        const c = yield* conversationFor(conversationId)
        const agent = yield* currentAgent(c)
        return yield* sendOutbound(c, agent, { type: "Event", events: [{ eventType: "Typing", typing: { type: "On", duration: 5000 } }] })
      })

    const resend = (webhookId: string) =>
      Effect.suspend(() => {
        const hook = webhooks.get(webhookId)
        return hook === undefined
          ? Effect.fail(new GenesysSimError({ status: 404, message: `no webhook ${webhookId} was sent` }))
          : postWebhook(hook)
      })

    const leave = (conversationId: string, transfer: boolean) =>
      Effect.gen(function* () {
        const c = yield* conversationFor(conversationId)
        const agent = yield* currentAgent(c)
        const at = now()
        disconnect(c, agent, transfer ? "transfer" : "client", at)
        if (transfer) enqueue(c, at) // back in the queue: another agent may join
        publishQueue(c)
      })

    const end = (conversationId: string) => Effect.map(conversationFor(conversationId), (c) => disconnectAll(c, "peer", "client"))

    const dropSockets = () =>
      Effect.sync(() => {
        for (const channel of channels.values()) channel.socket?.terminate()
      })

    const closeSockets = () =>
      Effect.sync(() => {
        for (const channel of channels.values())
          if (isOpen(channel.socket)) {
            channel.socket.send(frame("v2.system.socket_closing", { message: "the socket is closing: reconnect within a minute" }))
            closeChannelSocket(channel, "socket closing")
          }
      })

    // ----- API guard: scripted failures, bearer token, rate limit

    const takeScripted = Effect.suspend(() => {
      if (scripted.remaining <= 0) return Effect.void
      scripted.remaining -= 1
      const retryAfter = scripted.status === 429 ? (scripted.retryAfterSeconds ?? 1) : scripted.retryAfterSeconds
      return fail(scripted.status, `genesys sim: scripted ${scripted.status} (failNext)`, {
        ...(retryAfter !== undefined ? { headers: { "retry-after": String(retryAfter) } } : {})
      })
    })

    const authenticate = Effect.flatMap(request, (req) => {
      const header = req.headers["authorization"]
      const token = bearerOf(header)
      if (token === undefined)
        return fail(401, "No authentication bearer token specified in authorization header.", { code: "authentication.required" })
      const record = tokens.get(token)
      if (record === undefined || !tokenValid(record))
        return fail(401, "Invalid login credentials.", { code: "bad.credentials" })
      return Effect.succeed({ token, clientId: record.clientId, record })
    })

    const rateLimit = (token: string) =>
      Effect.suspend(() => {
        const t = Date.now()
        const hits = (rateWindows.get(token) ?? []).filter((at) => at > t - RATE_WINDOW_MS)
        rateWindows.set(token, hits)
        if (hits.length >= requestsPerMinute) {
          const retryAfter = Math.max(1, Math.ceil((hits[0]! + RATE_WINDOW_MS - t) / 1000))
          return fail(429, `Rate limit exceeded the maximum. [${requestsPerMinute}] requests for [60] seconds`, {
            headers: { "retry-after": String(retryAfter) }
          })
        }
        hits.push(t)
        return Effect.void
      })

    type Auth = Effect.Effect.Success<typeof authenticate>

    /** An /api route: scripted failure, then 401/429, then the handler; Genesys error bodies throughout. */
    const api = <R>(handler: (auth: Auth) => Effect.Effect<HttpServerResponse.HttpServerResponse, Reject, R>) =>
      handle(
        Effect.gen(function* () {
          yield* takeScripted
          const auth = yield* authenticate
          yield* rateLimit(auth.token)
          return yield* handler(auth)
        })
      )

    // ----- routes: login

    const issueToken = handle(
      Effect.gen(function* () {
        const header = (yield* request).headers["authorization"] ?? ""
        const basic = /^Basic\s+(\S+)\s*$/i.exec(header)?.[1]
        if (basic === undefined) return yield* fail(401, "Basic client credentials are required.", { code: "authentication.required" })
        const decoded = Buffer.from(basic, "base64").toString("utf8")
        const colon = decoded.indexOf(":")
        const [clientId, secret] = colon < 0 ? [decoded, ""] : [decoded.slice(0, colon), decoded.slice(colon + 1)]
        const client = options.clients.find((c) => c.clientId === clientId)
        if (client === undefined || !safeEqual(client.clientSecret, secret))
          return yield* fail(401, "Invalid client credentials.", { code: "bad.credentials" })
        const form = new URLSearchParams(Buffer.from(yield* readBody).toString("utf8"))
        if (form.get("grant_type") !== "client_credentials")
          return yield* fail(400, `grant_type: must be client_credentials (got ${form.get("grant_type") ?? "none"})`, {
            details: [{ errorCode: "bad.request", fieldName: "grant_type" }]
          })
        const token = randomUUID().replaceAll("-", "") + randomUUID().replaceAll("-", "")
        tokens.set(token, { clientId, expiresAt: Date.now() + tokenLifetimeSeconds * 1000, invalidated: false })
        grants.set(clientId, (grants.get(clientId) ?? 0) + 1)
        return json(200, { access_token: token, token_type: "bearer", expires_in: tokenLifetimeSeconds })
      })
    )

    // ----- routes: inbound Open Messaging

    const integrationFor = (id: string, field: string) =>
      integrations.has(id) ? Effect.succeed(id) : fail(404, `${field}: no Open Messaging integration ${id}`)

    const acceptMessage = (integrationId: string, body: InboundMessage, route: SimInboundMessage["route"]) =>
      Effect.gen(function* () {
        const c = openConversation(integrationId, body.channel.from.id) ?? (yield* startConversation(integrationId, body))
        const id = randomUUID()
        const received = now()
        c.inbound.push({
          id,
          ...(body.channel.messageId !== undefined ? { messageId: body.channel.messageId } : {}),
          from: body.channel.from,
          time: body.channel.time,
          ...textOf(body),
          content: body.content ?? [],
          ...(body.metadata !== undefined ? { metadata: body.metadata } : {}),
          route
        })
        messages.set(id, { id, conversationId: c.id, direction: "inbound", timestamp: received.iso, ...textOf(body) })
        // conversationId is a prefetch flag: only given back when asked for
        const prefetch = (yield* searchParams).get("prefetchConversationId") === "true"
        return json(202, {
          id,
          channel: {
            id: integrationId,
            platform: "Open",
            type: "Private",
            ...(body.channel.messageId !== undefined ? { messageId: body.channel.messageId } : {}),
            to: { id: integrationId },
            from: body.channel.from,
            time: body.channel.time
          },
          type: "Text",
          ...textOf(body),
          content: body.content ?? [],
          ...(prefetch ? { conversationId: c.id } : {})
        })
      })

    const inboundMessage = api(() =>
      Effect.gen(function* () {
        const integrationId = yield* integrationFor(yield* param("id"), "integrationId")
        return yield* acceptMessage(integrationId, yield* jsonBody(InboundMessage), "current")
      })
    )

    const deprecatedInboundMessage = api(() =>
      Effect.gen(function* () {
        const body = yield* jsonBody(DeprecatedInboundMessage)
        const integrationId = yield* integrationFor(body.channel.to.id, "channel.to.id")
        return yield* acceptMessage(integrationId, body, "deprecated")
      })
    )

    const inboundEvent = api(() =>
      Effect.gen(function* () {
        const integrationId = yield* integrationFor(yield* param("id"), "integrationId")
        const body = yield* jsonBody(InboundEvent)
        // typing without an open conversation has nobody to reach: accepted and dropped
        const c = openConversation(integrationId, body.channel.from.id)
        if (c !== undefined) c.typingEvents += body.events.length
        return json(202, {
          id: randomUUID(),
          channel: {
            id: integrationId,
            platform: "Open",
            type: "Private",
            to: { id: integrationId },
            from: body.channel.from,
            time: body.channel.time
          },
          events: body.events
        })
      })
    )

    const inboundReceipt = api(() =>
      Effect.gen(function* () {
        const integrationId = yield* integrationFor(yield* param("id"), "integrationId")
        const body = yield* jsonBody(InboundReceipt)
        const sent = messages.get(body.id)
        const c = sent?.direction === "outbound" ? conversations.get(sent.conversationId) : undefined
        if (c === undefined || c.integrationId !== integrationId) return yield* fail(404, `id: no outbound message ${body.id}`)
        c.receipts.push({ id: body.id, status: body.status, isFinalReceipt: body.isFinalReceipt, time: body.channel.time })
        return json(202, {
          id: body.id,
          channel: { id: integrationId, platform: "Open", type: "Private", ...body.channel },
          status: body.status,
          direction: "Outbound",
          isFinalReceipt: body.isFinalReceipt
        })
      })
    )

    // ----- routes: conversations

    const existingConversation = (id: string) =>
      Effect.suspend(() => {
        const c = conversations.get(id)
        return c === undefined ? fail(404, `conversation ${id} not found`) : Effect.succeed(c)
      })

    const messageDetails = api(() =>
      Effect.gen(function* () {
        const id = yield* param("id")
        const m = messages.get(id)
        if (m === undefined) return yield* fail(404, `message ${id} not found`)
        return json(200, {
          id: m.id,
          conversationId: m.conversationId,
          direction: m.direction,
          messengerType: "open",
          status: m.direction === "inbound" ? "received" : "sent",
          timestamp: m.timestamp,
          ...(m.text !== undefined ? { textBody: m.text } : {}),
          media: []
        })
      })
    )

    const getConversation = api(() => Effect.map(Effect.flatMap(param("id"), existingConversation), (c) => json(200, conversationBody(c))))

    const patchConversation = api(() =>
      Effect.gen(function* () {
        const c = yield* existingConversation(yield* param("id"))
        yield* jsonBody(DisconnectBody)
        disconnectAll(c, "client", "peer") // our side (the customer) hangs up
        return json(200, conversationBody(c))
      })
    )

    const patchParticipant = api(() =>
      Effect.gen(function* () {
        const c = yield* existingConversation(yield* param("id"))
        const participantId = yield* param("participantId")
        const p = c.participants.find((x) => x.id === participantId)
        if (p === undefined) return yield* fail(404, `participant ${participantId} not found in conversation ${c.id}`)
        yield* jsonBody(DisconnectBody)
        if (p.state !== "disconnected") {
          // the customer leaving ends the conversation for everybody
          if (p.purpose === "customer") disconnectAll(c, "client", "peer")
          else {
            disconnect(c, p, "client", now())
            publishQueue(c)
          }
        }
        return HttpServerResponse.empty({ status: 202 })
      })
    )

    // ----- routes: notifications

    const channelEntity = (channel: ChannelState) => ({
      id: channel.id,
      connectUri: `${baseUrl.replace(/^http/, "ws")}/channels/${channel.id}`,
      expires: new Date(channel.expiresAt).toISOString()
    })

    const createChannel = api((auth) =>
      Effect.sync(() => {
        sweepChannels()
        const own = [...channels.values()].filter((c) => c.clientId === auth.clientId)
        if (own.length >= MAX_CHANNELS_PER_CLIENT) {
          const lru = own.reduce((a, b) => (b.lastUsed < a.lastUsed ? b : a))
          closeChannelSocket(lru, "channel evicted")
          channels.delete(lru.id)
        }
        const channel: ChannelState = {
          id: `streaming-0-${randomUUID().replaceAll("-", "")}`,
          clientId: auth.clientId,
          token: auth.record,
          topics: [],
          expiresAt: Date.now() + channelLifetimeMs,
          lastUsed: ++useCounter,
          socket: undefined,
          heartbeat: undefined
        }
        channels.set(channel.id, channel)
        return json(200, channelEntity(channel))
      })
    )

    const ownChannel = (clientId: string) =>
      Effect.flatMap(param("channelId"), (id) => {
        const channel = liveChannel(id, clientId)
        return channel === undefined ? fail(404, `channel ${id} not found`) : Effect.succeed(channel)
      })

    const headChannel = api((auth) => Effect.as(ownChannel(auth.clientId), HttpServerResponse.empty({ status: 200 })))

    const topicList = (channel: ChannelState) => json(200, { entities: channel.topics.map((id) => ({ id })) })

    /** POST adds, PUT replaces; at most 1,000 topics; (re-)subscribing extends the channel's life. */
    const subscribe = (mode: "add" | "replace") =>
      api((auth) =>
        Effect.gen(function* () {
          const channel = yield* ownChannel(auth.clientId)
          const body = yield* jsonBody(Subscriptions)
          const topics = [...new Set([...(mode === "add" ? channel.topics : []), ...body.map((t) => t.id)])]
          if (topics.length > MAX_TOPICS_PER_CHANNEL)
            return yield* fail(400, `a channel may subscribe to at most ${MAX_TOPICS_PER_CHANNEL} topics (this would make ${topics.length})`)
          channel.topics = topics
          channel.expiresAt = Date.now() + channelLifetimeMs
          channel.lastUsed = ++useCounter
          return topicList(channel)
        })
      )

    const listSubscriptions = api((auth) => Effect.map(ownChannel(auth.clientId), topicList))

    const deleteSubscriptions = api((auth) =>
      Effect.map(ownChannel(auth.clientId), (channel) => {
        channel.topics = []
        channel.lastUsed = ++useCounter
        return HttpServerResponse.empty({ status: 204 })
      })
    )

    // ----- routes: availability, users

    const queueFor = (id: string) => {
      const queue = queues.find((q) => q.queueId === id)
      return queue === undefined ? fail(404, `queue ${id} not found`) : Effect.succeed(queue)
    }

    const estimatedWait = api(() =>
      Effect.map(Effect.flatMap(param("queueId"), queueFor), (queue) =>
        json(200, { results: [{ formula: "BEST", estimatedWaitTimeSeconds: queue.estimatedWaitSeconds ?? 0 }] })
      )
    )

    const observations = api(() =>
      Effect.map(jsonBody(ObservationQuery), (query) => {
        const asked = query.metrics.includes("oOnQueueUsers")
        return json(200, {
          results: query.filter.predicates.map(({ value: queueId }) => {
            const queue = queues.find((q) => q.queueId === queueId)
            const count = queue === undefined ? 0 : (queue.agentsOnQueue ?? 1)
            // like the real service, a group with nothing to report has no data array
            return asked && count > 0
              ? { group: { queueId }, data: [{ metric: "oOnQueueUsers", qualifier: "IDLE", stats: { count } }] }
              : { group: { queueId } }
          })
        })
      })
    )

    const getUser = api(() =>
      Effect.flatMap(param("userId"), (id) => {
        const name = users.get(id)
        return name === undefined ? fail(404, `user ${id} not found`) : Effect.succeed(json(200, { id, name }))
      })
    )

    // ----- routes: sandbox

    const simAnswer = <A>(effect: Effect.Effect<A, GenesysSimError>, ok: (a: A) => HttpServerResponse.HttpServerResponse) =>
      Effect.match(effect, {
        onSuccess: ok,
        onFailure: (e) => json(e.status, errorBody(e.status, statusCodes[e.status] ?? "error", e.message))
      })

    const noContent = () => HttpServerResponse.empty({ status: 204 })

    const simAgentAction = handle(
      Effect.gen(function* () {
        const id = yield* param("conversationId")
        const action = yield* param("action")
        switch (action) {
          case "join":
            return yield* simAnswer(joinAgent(id, yield* sandboxBody(JoinBody)), (r) => json(200, r))
          case "say":
            return yield* simAnswer(say(id, yield* sandboxBody(SayBody)), (r) => json(200, r))
          case "typing":
            return yield* simAnswer(typing(id), (r) => json(200, r))
          case "leave":
            return yield* simAnswer(leave(id, (yield* sandboxBody(LeaveBody)).transfer ?? false), noContent)
          case "end":
            return yield* simAnswer(end(id), noContent)
          default:
            return yield* fail(404, `unknown agent action ${action} (join|say|typing|leave|end)`)
        }
      })
    )

    const simFail = handle(
      Effect.map(sandboxBody(FailBody), (body) => {
        scripted = { remaining: body.n, status: body.status, retryAfterSeconds: body.retryAfterSeconds }
        return noContent()
      })
    )

    const expireTokens = () =>
      Effect.sync(() => {
        for (const t of tokens.values()) t.invalidated = true
      })

    const listChannels = () => {
      sweepChannels()
      return [...channels.values()].map((c) => ({
        channelId: c.id,
        clientId: c.clientId,
        connected: isOpen(c.socket),
        topics: [...c.topics]
      }))
    }

    const apiRouter = HttpRouter.empty.pipe(
      HttpRouter.post("/oauth/token", issueToken),
      HttpRouter.post("/api/v2/conversations/messages/inbound/open", deprecatedInboundMessage),
      HttpRouter.post("/api/v2/conversations/messages/:id/inbound/open/message", inboundMessage),
      HttpRouter.post("/api/v2/conversations/messages/:id/inbound/open/event", inboundEvent),
      HttpRouter.post("/api/v2/conversations/messages/:id/inbound/open/receipt", inboundReceipt),
      HttpRouter.get("/api/v2/conversations/messages/:id/details", messageDetails),
      HttpRouter.get("/api/v2/conversations/messages/:id", getConversation),
      HttpRouter.patch("/api/v2/conversations/messages/:id", patchConversation),
      HttpRouter.patch("/api/v2/conversations/messages/:id/participants/:participantId", patchParticipant),
      HttpRouter.post("/api/v2/notifications/channels", createChannel),
      HttpRouter.head("/api/v2/notifications/channels/:channelId", headChannel),
      HttpRouter.get("/api/v2/notifications/channels/:channelId/subscriptions", listSubscriptions),
      HttpRouter.post("/api/v2/notifications/channels/:channelId/subscriptions", subscribe("add")),
      HttpRouter.put("/api/v2/notifications/channels/:channelId/subscriptions", subscribe("replace")),
      HttpRouter.del("/api/v2/notifications/channels/:channelId/subscriptions", deleteSubscriptions),
      HttpRouter.get("/api/v2/routing/queues/:queueId/mediatypes/message/estimatedwaittime", estimatedWait),
      HttpRouter.post("/api/v2/analytics/queues/observations/query", observations),
      HttpRouter.get("/api/v2/users/:userId", getUser)
    )
    const sandboxRouter = HttpRouter.empty.pipe(
      HttpRouter.post("/sim/conversations/:conversationId/:action", simAgentAction),
      HttpRouter.post(
        "/sim/webhooks/:webhookId/resend",
        handle(Effect.flatMap(param("webhookId"), (id) => simAnswer(resend(id), (status) => json(200, { webhookId: id, status }))))
      ),
      HttpRouter.post("/sim/sockets/drop", Effect.as(dropSockets(), noContent())),
      HttpRouter.post("/sim/sockets/close", Effect.as(closeSockets(), noContent())),
      HttpRouter.post("/sim/tokens/expire", Effect.as(expireTokens(), noContent())),
      HttpRouter.post("/sim/fail", simFail),
      HttpRouter.get("/sim/conversations", Effect.sync(() => json(200, [...conversations.values()].map(snapshotConversation)))),
      HttpRouter.get("/sim/requests", Effect.sync(() => json(200, apiRequests))),
      HttpRouter.get("/sim/channels", Effect.sync(() => json(200, listChannels())))
    )
    const router = HttpRouter.concat(apiRouter, sandboxRouter)

    const recordApiRequests = recordRequests((entry, authorization) => apiRequests.push({ ...entry, ...clientOf(tokens, authorization) }))
    server.on("request", yield* NodeHttpServer.makeHandler(recordApiRequests(withGenesysFallbacks(router))))

    return {
      baseUrl,
      conversations: () => [...conversations.values()].map(snapshotConversation),
      conversationOf: (fromId) => {
        const c = [...conversations.values()].reverse().find((x) => x.fromId === fromId)
        return c === undefined ? undefined : snapshotConversation(c)
      },
      agentJoin: (conversationId, agent) => Effect.orDie(joinAgent(conversationId, agent)),
      agentSay: (conversationId, message) => Effect.orDie(say(conversationId, message)),
      agentTyping: (conversationId) => Effect.orDie(typing(conversationId)),
      resendWebhook: (webhookId) => Effect.orDie(resend(webhookId)),
      agentLeave: (conversationId, leaveOptions) => Effect.orDie(leave(conversationId, leaveOptions?.transfer ?? false)),
      endConversation: (conversationId) => Effect.orDie(end(conversationId)),
      dropSockets,
      closeSockets,
      expireTokens,
      failNext: (n, status, retryAfterSeconds) =>
        Effect.sync(() => {
          scripted = { remaining: Math.max(0, Math.floor(n)), status, retryAfterSeconds }
        }),
      requests: () => [...apiRequests],
      tokensIssued: (clientId) => grants.get(clientId) ?? 0,
      channels: listChannels
    } satisfies GenesysSim
  })

// ---------------------------------------------------------------------------------------
// Serving

/** A loopback node:http server (no handler yet: the router needs the port first); closed with the Scope. */
const listen: Effect.Effect<Server, never, Scope.Scope> = Effect.acquireRelease(
  Effect.async<Server>((resume) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

/** The streaming sockets' server (upgrades are routed by hand); every socket is cut when the Scope closes. */
const webSocketServer = (channels: Map<string, ChannelState>): Effect.Effect<WebSocketServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => new WebSocketServer({ noServer: true })),
    (wss) =>
      Effect.async<void>((resume) => {
        for (const channel of channels.values()) clearInterval(channel.heartbeat)
        for (const ws of wss.clients) ws.terminate()
        wss.close(() => resume(Effect.void))
      })
  )

const clientOf = (tokens: Map<string, TokenRecord>, authorization: string | undefined): { clientId?: string } => {
  const token = bearerOf(authorization)
  const clientId = token === undefined ? undefined : tokens.get(token)?.clientId
  return clientId === undefined ? {} : { clientId }
}

/** Records every /api request with the status it got (after the fallbacks, so 404s count too). */
const recordRequests =
  (record: (entry: { method: string; path: string; status: number }, authorization: string | undefined) => void) =>
  <E, R>(app: HttpApp.Default<E, R>) =>
    Effect.flatMap(request, (req) =>
      Effect.tap(app, (response) =>
        Effect.sync(() => {
          const path = new URL(req.url, "http://sim.invalid").pathname
          if (path.startsWith("/api/")) record({ method: req.method, path, status: response.status }, req.headers["authorization"])
        })
      )
    )

/** Unknown routes (and methods, e.g. PUT on a conversation) answer 404 in the Genesys shape; a defect 500. */
const withGenesysFallbacks = <E, R>(app: HttpApp.Default<E, R>) =>
  Effect.catchAllCause(app, (cause) => {
    const error = Cause.squash(cause)
    if (typeof error === "object" && error !== null && "_tag" in error && error._tag === "RouteNotFound")
      return Effect.succeed(json(404, errorBody(404, "not.found", "no such route")))
    return Effect.as(
      Effect.logWarning("genesys sim handler failed", cause),
      json(500, errorBody(500, "internal.server.error", Cause.pretty(cause).split("\n")[0] ?? "internal error"))
    )
  })

/**
 * genesys-livechat: Genesys Cloud Open Messaging (docs/PROVIDERS.md#genesys-cloud-cx).
 * - The user is the Open Messaging customer `channel.from.id` = our session id, so each
 *   livechat is a conversation of its own and every outbound webhook names its session.
 * - Create sends the first inbound message: who asks, the bot transcript, and custom
 *   attributes (our ids, the queue) that the integration's inbound flow routes by.
 * - Agent messages and typing arrive on the signed outbound webhook; joins, leaves and the
 *   end arrive on the notifications socket (./notifications.ts), which `follow` hands the
 *   new conversation to, on whichever instance owns its credential set.
 */
import { HttpClientRequest } from "@effect/platform"
import { Cache, Duration, Effect, Equal, Fiber, Hash, Option, Redacted, Schedule, Schema } from "effect"
import { type Attachment, type Capabilities, requestLimits, type SessionRecord } from "../../domain/model.js"
import type { GenesysConfig, LivechatConfig } from "../../domain/tenant.js"
import { isoNow } from "../../domain/time.js"
import { AppConfig } from "../../services/AppConfig.js"
import { Coordinator } from "../../services/Coordinator.js"
import { malformedWebhook, ProviderError } from "../../services/errors.js"
import type { LivechatProvider, SessionContext, UserMessage } from "../../services/LivechatProvider.js"
import { deliveryOf } from "../delivery.js"
import { openingText } from "../handover.js"
import { ownConfig, type ProviderApiError } from "../providerCalls.js"
import { sha256SignatureMatches, wellFormedSignature } from "../signatures.js"
import { makeThrottle } from "../throttle.js"
import { credentialsOf, GenesysApi, partitionOfCredentials } from "./client.js"
import { mapOutboundWebhook } from "./mapper.js"
import { EstimatedWaitTime, InboundAccepted, MessageDetails, OutboundWebhook, QueueObservations } from "./schemas.js"

const alias = "genesys-livechat" as const

export const signatureHeader = "x-hub-signature-256"

/** The request kind that asks a credential set's owner to follow a conversation's notifications. */
export const followKind = "genesys-follow"

/**
 * The request kind that asks a credential set's owner whether Genesys refused its
 * notification topics (subject: a tenant id): "handled" = refused, its conversations are
 * re-read on a schedule; "unhandled" = followed by notifications.
 */
export const followedByKind = "genesys-followed-by"

/** At most this many transcript entries reach the agent (the latest ones). */
const TRANSCRIPT_ENTRIES = 50

/** The agent's typing indicator lasts a few seconds; the user's typing is sent at most this often per session. */
const TYPING_INTERVAL_MS = 3_000

/**
 * An Open Messaging message carries the text and the attachments as `content` in one inbound
 * message; no text limit is documented (docs/PROVIDERS.md#inbound-user-to-agent), so the longest
 * text is the gateway's own request limit. Typing goes out as a Typing event. Open Messaging has
 * no read receipts either way (its inbound receipts take Delivered and Failed only; the outbound
 * webhook carries no agent's read: docs/PROVIDERS.md).
 * Genesys tells an estimated wait per queue, no position: positions are the gateway's. A
 * `.user.end` with a transfer hands the chat back to the queue (./mapper.ts).
 */
export const genesysCapabilities = {
  provider: alias,
  userTyping: true,
  agentTyping: true,
  readReceipts: { user: false, agent: false },
  userAttachments: "native",
  agentAttachments: "native",
  maxTextLength: requestLimits.messageTextBytes,
  splitsLongText: false,
  queuePosition: "gateway",
  transfer: true
} satisfies Capabilities

/** One message, whatever its length: the text and its attachments go together. */
const genesysDelivery = (message: UserMessage) => deliveryOf(genesysCapabilities, message, 1)

const providerError = (error: ProviderApiError) => new ProviderError({ provider: alias, message: error.message })

/** The tenant's Genesys block and the credentials its calls are made as. */
const genesysOf = (config: LivechatConfig) =>
  Effect.map(
    ownConfig(config, alias),
    (own) => ({ genesys: own.genesys, credentials: credentialsOf(config.tenantId, own.genesys) })
  )

type GenesysAccount = Effect.Effect.Success<ReturnType<typeof genesysOf>>

/** `sha256=<base64 HMAC-SHA256 of the raw body>` (base64 is what Genesys sends), compared in constant time. */
export const validGenesysSignature = (secret: string, body: Uint8Array, header: string | undefined): boolean =>
  sha256SignatureMatches(secret, body, header, "base64")

/** The Open Messaging customer: one per session. */
const customerOf = (session: SessionRecord) => ({
  id: session.sessionId,
  idType: "Opaque" as const,
  nickname: session.user?.name ?? session.subHandle,
  ...(session.user?.email !== undefined ? { email: session.user.email } : {})
})

const inboundPath = (config: GenesysConfig, kind: "message" | "event") =>
  `/api/v2/conversations/messages/${encodeURIComponent(config.integrationId)}/inbound/open/${kind}`

/** Custom attributes of the conversation: strings only, which the inbound flow can route and show by. */
const customAttributes = (session: SessionRecord, config: GenesysConfig): Record<string, string> => ({
  queueId: config.queueId,
  hbfSessionId: session.sessionId,
  hbfTenantId: session.tenantId,
  hbfSubscriber: session.subHandle,
  ...(session.channel !== undefined ? { hbfChannel: session.channel } : {}),
  ...(session.queue !== undefined ? { hbfQueue: session.queue } : {}),
  ...(session.user?.phone !== undefined ? { userPhone: session.user.phone } : {}),
  ...(session.user?.locale !== undefined ? { userLocale: session.user.locale } : {}),
  ...Object.fromEntries(
    Object.entries(session.metadata ?? {}).map(([key, value]) => [`metadata.${key}`, String(value)])
  )
})

const mediaTypeOf = (contentType: string) => {
  const kind = contentType.split("/")[0]
  return kind === "image" ? "Image" : kind === "video" ? "Video" : kind === "audio" ? "Audio" : "File"
}

const contentOf = (attachments: ReadonlyArray<Attachment>) =>
  attachments.map((a) => ({
    contentType: "Attachment",
    attachment: {
      mediaType: mediaTypeOf(a.contentType),
      url: a.url,
      mime: a.contentType,
      ...(a.name !== undefined ? { filename: a.name } : {})
    }
  }))

const decodeWebhook = Schema.decodeUnknown(Schema.parseJson(OutboundWebhook), { errors: "all" })

/** The one field that names the webhook's session (the customer is our session), read before the webhook is verified. */
const decodeSender = Schema.decodeUnknownOption(
  Schema.parseJson(Schema.Struct({ channel: Schema.Struct({ to: Schema.Struct({ id: Schema.NonEmptyString }) }) }))
)

/** A queue of one credential set: equal by both, so look-alike tenants never share an estimate. */
class QueueKey implements Equal.Equal {
  constructor(readonly credentials: GenesysAccount["credentials"], readonly queueId: string) {}
  [Equal.symbol](that: Equal.Equal): boolean {
    return that instanceof QueueKey && that.credentials.id === this.credentials.id && that.queueId === this.queueId
  }
  [Hash.symbol](): number {
    return Hash.combine(Hash.string(this.credentials.id))(Hash.string(this.queueId))
  }
}

/** Queues whose estimated wait is kept at once. */
const ESTIMATE_CACHE_CAPACITY = 10_000

const estimatedWaitPath = (queueId: string) =>
  `/api/v2/routing/queues/${encodeURIComponent(queueId)}/mediatypes/message/estimatedwaittime`

/** Genesys' estimate in whole seconds; none when it gives none (or a negative one: it cannot tell). */
const waitOf = (answer: typeof EstimatedWaitTime.Type) => {
  const seconds = answer.results[0]?.estimatedWaitTimeSeconds
  return seconds !== undefined && seconds >= 0 ? Math.round(seconds) : undefined
}

export const makeGenesysProvider = Effect.gen(function*() {
  const api = yield* GenesysApi
  const coordinator = yield* Coordinator
  const config = yield* AppConfig
  const clock = yield* Effect.clock
  const typingThrottle = makeThrottle(TYPING_INTERVAL_MS, clock)
  /**
   * The queue's estimated wait, asked at most once per LCG_QUEUE_UPDATE_SECONDS per credential
   * set and queue (a failure too is kept that long): every waiting request of the queue reads
   * the same figure, and Genesys allows 300 requests a minute per token.
   */
  const estimates = yield* Cache.make({
    capacity: ESTIMATE_CACHE_CAPACITY,
    timeToLive: config.queueUpdateInterval,
    lookup: (key: QueueKey) =>
      Effect.map(
        api.call(key.credentials, HttpClientRequest.get(estimatedWaitPath(key.queueId)), EstimatedWaitTime),
        waitOf
      )
  })

  /**
   * An inbound Open Messaging message from the session's customer. Custom attributes go in both
   * places Genesys is said to read them (docs/PROVIDERS.md#custom-attributes): Architect reads
   * `channel.metadata.customAttributes`, which the SDK's model lacks; its model has the message's
   * own `metadata` string map.
   */
  const inbound = (
    { credentials, genesys: config }: GenesysAccount,
    session: SessionRecord,
    messageId: string,
    body: Record<string, unknown>,
    attributes?: Record<string, string>
  ) =>
    api.call(
      credentials,
      HttpClientRequest.post(inboundPath(config, "message")).pipe(
        HttpClientRequest.setUrlParam("prefetchConversationId", "true"),
        HttpClientRequest.bodyUnsafeJson({
          channel: {
            from: customerOf(session),
            time: isoNow(clock),
            messageId,
            ...(attributes !== undefined ? { metadata: { customAttributes: attributes } } : {})
          },
          ...body,
          ...(attributes !== undefined ? { metadata: attributes } : {})
        })
      ),
      InboundAccepted
    )

  /** The conversation of an accepted message, when the prefetch did not give it: the details may lag a moment. */
  const conversationOfMessage = ({ credentials }: GenesysAccount, messageId: string) =>
    api
      .call(
        credentials,
        HttpClientRequest.get(`/api/v2/conversations/messages/${encodeURIComponent(messageId)}/details`),
        MessageDetails
      )
      .pipe(
        Effect.mapError(providerError),
        Effect.flatMap((details) =>
          Option.match(Option.fromNullable(details.conversationId), {
            onNone: () =>
              Effect.fail(
                new ProviderError({ provider: alias, message: "Genesys has not given the message's conversation yet" })
              ),
            onSome: Effect.succeed
          })
        ),
        Effect.retry({ times: 5, schedule: Schedule.spaced(Duration.millis(300)) })
      )

  const follow = ({ config, session }: SessionContext) =>
    Effect.gen(function*() {
      const { credentials } = yield* genesysOf(config)
      const conversationId = session.providerConversationId
      if (conversationId === undefined) return
      const partition = partitionOfCredentials(credentials, coordinator.partitions)
      // The session names the conversation and its tenant to the owner.
      const outcome = yield* coordinator
        .askOwner(partition, { kind: followKind, subject: session.sessionId })
        .pipe(Effect.retry({ times: 2, schedule: Schedule.spaced(Duration.millis(500)) }))
      if (outcome !== "handled") {
        yield* Effect.logWarning("the Genesys notifications owner did not take the conversation; its resync will", {
          conversationId,
          outcome
        })
      }
    }).pipe(
      Effect.catchAll((e) =>
        Effect.logWarning("could not hand the conversation to the Genesys notifications; its resync will", {
          reason: e.message
        })
      )
    )

  /** How the tenant's joins, leaves and ends arrive, as the credential set's notifications owner knows it; unknown when nobody answers. */
  const followedBy = (tenantId: string, credentials: GenesysAccount["credentials"]) =>
    coordinator
      .askOwner(partitionOfCredentials(credentials, coordinator.partitions), {
        kind: followedByKind,
        subject: tenantId
      })
      .pipe(
        Effect.map((outcome) =>
          outcome === "handled" ? "polling" as const : outcome === "unhandled" ? "notifications" as const : undefined
        ),
        Effect.orElseSucceed(() => undefined)
      )

  const provider: LivechatProvider<typeof alias> = {
    alias,
    capabilities: genesysCapabilities,
    create: ({ config, session, transcript }) =>
      Effect.gen(function*() {
        const account = yield* genesysOf(config)
        // Custom attributes go where the inbound flow (and the agent's script) reads them.
        const accepted = yield* inbound(
          account,
          session,
          `${session.sessionId}:request`,
          { text: openingText(session, transcript, { maxEntries: TRANSCRIPT_ENTRIES }) },
          customAttributes(session, account.genesys)
        ).pipe(Effect.mapError(providerError))
        const conversationId = accepted.conversationId ?? (yield* conversationOfMessage(account, accepted.id))
        return { conversationId }
      }),
    follow,
    sendMessage: ({ config, session }, message) =>
      Effect.gen(function*() {
        const account = yield* genesysOf(config)
        const accepted = yield* inbound(account, session, message.messageId, {
          ...(message.text !== undefined ? { text: message.text } : {}),
          ...(message.attachments !== undefined && message.attachments.length > 0
            ? { content: contentOf(message.attachments) }
            : {})
        }).pipe(Effect.mapError(providerError))
        return { providerMessageId: accepted.id, delivery: genesysDelivery(message) }
      }),
    deliveryOf: genesysDelivery,
    sendTyping: ({ config, session }) =>
      Effect.gen(function*() {
        const { credentials, genesys } = yield* genesysOf(config)
        // Keystrokes come often and the API budget is the tenant's: one typing event per session per interval.
        if (!typingThrottle.admit(session.sessionId)) return
        yield* api
          .call(
            credentials,
            HttpClientRequest.post(inboundPath(genesys, "event")).pipe(
              HttpClientRequest.bodyUnsafeJson({
                channel: { from: customerOf(session), time: isoNow(clock) },
                events: [{ eventType: "Typing", typing: { type: "On" } }]
              })
            ),
            Schema.Unknown
          )
          .pipe(Effect.mapError(providerError))
      }),
    end: ({ config, session }) =>
      Effect.gen(function*() {
        const { credentials } = yield* genesysOf(config)
        const conversationId = session.providerConversationId
        if (conversationId === undefined) return
        yield* api
          .call(
            credentials,
            HttpClientRequest.patch(`/api/v2/conversations/messages/${encodeURIComponent(conversationId)}`).pipe(
              HttpClientRequest.bodyUnsafeJson({ state: "disconnected" })
            ),
            Schema.Unknown
          )
          .pipe(
            // Already over at Genesys: nothing left to disconnect.
            Effect.catchIf((e) => e.status === 404, () => Effect.void),
            Effect.mapError(providerError)
          )
      }),
    // Genesys tells the queue's estimated wait, not a request's place in it: the position is the gateway's.
    queueFigures: ({ config }) =>
      Effect.gen(function*() {
        const { credentials, genesys } = yield* genesysOf(config)
        const estimatedWaitSeconds = yield* estimates.get(new QueueKey(credentials, genesys.queueId)).pipe(
          Effect.mapError(providerError)
        )
        return estimatedWaitSeconds !== undefined ? { estimatedWaitSeconds } : {}
      }),
    availability: (config) =>
      Effect.gen(function*() {
        const { credentials, genesys } = yield* genesysOf(config)
        // Asked of the owner while Genesys answers the queue's figures.
        const followed = yield* Effect.fork(followedBy(config.tenantId, credentials))
        const [wait, observations] = yield* Effect.all(
          [
            // Not the cached estimate: this call is also the breaker's probe (docs/ARCHITECTURE.md#provider-health).
            api.call(credentials, HttpClientRequest.get(estimatedWaitPath(genesys.queueId)), EstimatedWaitTime),
            api.call(
              credentials,
              HttpClientRequest.post("/api/v2/analytics/queues/observations/query").pipe(
                HttpClientRequest.bodyUnsafeJson({
                  filter: {
                    type: "or",
                    predicates: [{
                      type: "dimension",
                      dimension: "queueId",
                      operator: "matches",
                      value: genesys.queueId
                    }]
                  },
                  metrics: ["oOnQueueUsers"]
                })
              ),
              QueueObservations
            )
          ],
          { concurrency: 2 }
        ).pipe(Effect.mapError(providerError))
        const estimatedWaitSeconds = waitOf(wait)
        const agentsOnline = observations.results
          .flatMap((r) => r.data)
          .filter((d) => d.metric === "oOnQueueUsers")
          .reduce((sum, d) => sum + (d.stats?.count ?? 0), 0)
        return {
          agentsOnline,
          ...(estimatedWaitSeconds !== undefined ? { estimatedWaitSeconds } : {}),
          ...yield* Effect.map(Fiber.join(followed), (by) => (by !== undefined ? { followedBy: by } : {}))
        }
      }),
    webhook: {
      authHeader: signatureHeader,
      wellFormed: (header) => wellFormedSignature(header, "base64"),
      senderOf: ({ body }) =>
        Option.map(
          decodeSender(new TextDecoder().decode(body)),
          ({ channel }) => ({ _tag: "Session", sessionId: channel.to.id })
        ),
      verify: (config, webhook) =>
        config.provider === alias &&
        validGenesysSignature(
          Redacted.value(config.genesys.webhookSecret),
          webhook.body,
          webhook.headers[signatureHeader]
        ),
      parse: (body) =>
        decodeWebhook(new TextDecoder().decode(body)).pipe(
          Effect.map((webhook) => [
            { sessionId: webhook.channel.to.id, events: mapOutboundWebhook(webhook, isoNow(clock)) }
          ]),
          Effect.mapError(malformedWebhook)
        )
    }
  }
  return provider
})

/** helvia-livechat: the platform's own livechat, hbf-lcm. The conversation id is our session id. */
import { Effect, Option, Redacted, Schema } from "effect"
import { type Capabilities, requestLimits } from "../../domain/model.js"
import { configFor, type LivechatConfig } from "../../domain/tenant.js"
import { isoNow } from "../../domain/time.js"
import { malformedWebhook, ProviderError } from "../../services/errors.js"
import { HbfLcm, type HbfLcmFailure } from "../../services/HbfLcm.js"
import type { LivechatProvider, UserMessage } from "../../services/LivechatProvider.js"
import { deliveryOf } from "../delivery.js"
import { sha256SignatureMatches, wellFormedSignature } from "../signatures.js"
import { mapHelviaEvent } from "./mapper.js"
import { HelviaWebhook, signatureHeader } from "./webhook.js"

const alias = "helvia-livechat" as const

/**
 * hbf-lcm takes a message whole, text and attachments in one call (docs/CONTRACTS.md#hbf-lcm),
 * and names no text limit: the longest text is the gateway's own request limit. It has no typing
 * or read call; its agent's typing and attachments come by webhook, and TRANSFER_REQUEST hands
 * the chat back to the queue (`agent.left`, then `request.queued`: ./mapper.ts). It tells no
 * queue position.
 */
export const helviaCapabilities = {
  provider: alias,
  userTyping: false,
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
const helviaDelivery = (message: UserMessage) => deliveryOf(helviaCapabilities, message, 1)

const providerError = (error: HbfLcmFailure) => new ProviderError({ provider: alias, message: error.message })

const decodeWebhook = Schema.decodeUnknown(Schema.parseJson(HelviaWebhook), { errors: "all" })

/** The one field that names the webhook's session, read before the webhook is verified. */
const decodeSender = Schema.decodeUnknownOption(
  Schema.parseJson(Schema.Struct({ platformSessionId: HelviaWebhook.fields.platformSessionId }))
)

const secretOf = (config: LivechatConfig) =>
  Option.getOrUndefined(Option.map(configFor(config, alias), (own) => own.helvia.webhookSecret))

/** `sha256=<hex HMAC-SHA256 of the raw body>`, compared in constant time. */
export const validHelviaSignature = (secret: string, body: Uint8Array, header: string | undefined): boolean =>
  sha256SignatureMatches(secret, body, header, "hex")

export const makeHelviaProvider = Effect.map(
  Effect.all([HbfLcm, Effect.clock]),
  ([lcm, clock]): LivechatProvider<typeof alias> => ({
    alias,
    capabilities: helviaCapabilities,
    create: ({ callbackUrl, metadata, session, tenant, transcript }) =>
      lcm
        .createRequest({
          platformSessionId: session.sessionId,
          platformUserId: session.subHandle,
          platformUserName: session.user?.name ?? session.subHandle,
          ...(session.user?.email !== undefined ? { platformUserEmail: session.user.email } : {}),
          ...(session.user?.phone !== undefined ? { platformUserPhone: session.user.phone } : {}),
          ...(session.user?.locale !== undefined ? { platformUserLanguage: session.user.locale } : {}),
          platformOrigin: session.channel ?? "hbf-lcg",
          organizationId: session.organizationId,
          tenantId: tenant.id,
          tenantName: tenant.displayName,
          tenantImageUrl: tenant.image ?? "",
          requestedDate: session.createdAt,
          callbackUrl,
          ...(transcript.length > 0 ? { transcript } : {}),
          ...(metadata !== undefined ? { metadata } : {})
        })
        .pipe(
          Effect.as({ conversationId: session.sessionId }),
          Effect.mapError(providerError)
        ),
    // One match rather than as and mapError: the forward path's every fiber op shows in its throughput.
    // perf: docs/ARCHITECTURE.md#perf-fiber-ops
    sendMessage: ({ session }, message) =>
      Effect.matchEffect(
        lcm.sendMessage({
          organizationId: session.organizationId,
          platformSessionId: session.sessionId,
          platformUserId: session.subHandle,
          messageId: message.messageId,
          ...(message.text !== undefined ? { text: message.text } : {}),
          ...(message.attachments !== undefined ? { attachments: message.attachments } : {}),
          sentDate: isoNow(clock)
        }),
        {
          onFailure: (error) => Effect.fail(providerError(error)),
          onSuccess: () => Effect.succeed({ delivery: helviaDelivery(message) })
        }
      ),
    deliveryOf: helviaDelivery,
    probe: () => Effect.mapError(lcm.probe, providerError),
    end: ({ session }) =>
      lcm.endRequest(session.sessionId).pipe(
        // Already gone at hbf-lcm (the agent ended it first): nothing left to end.
        Effect.catchIf((e) => e.status === 404, () => Effect.void),
        Effect.mapError(providerError)
      ),
    webhook: {
      authHeader: signatureHeader,
      wellFormed: (header) => wellFormedSignature(header, "hex"),
      senderOf: ({ body }) =>
        Option.map(
          decodeSender(new TextDecoder().decode(body)),
          ({ platformSessionId }) => ({ _tag: "Session", sessionId: platformSessionId })
        ),
      verify: (config, webhook) => {
        const secret = secretOf(config)
        return secret !== undefined &&
          validHelviaSignature(Redacted.value(secret), webhook.body, webhook.headers[signatureHeader])
      },
      parse: (body) =>
        decodeWebhook(new TextDecoder().decode(body)).pipe(
          Effect.map((webhook) => [{ sessionId: webhook.platformSessionId, events: mapHelviaEvent(webhook) }]),
          Effect.mapError(malformedWebhook)
        )
    }
  })
)

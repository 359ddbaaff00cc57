/**
 * Genesys' outbound webhooks: an agent's message or event, signed (`X-Hub-Signature-256`,
 * base64 HMAC-SHA256 of the exact bytes), recorded and posted to the integration's webhook
 * URL; retried 5 times on no answer, 429 and 5xx, byte-identical.
 */
import { Duration, Effect, Schedule } from "effect"
import { randomUUID } from "node:crypto"
import { postOnce } from "../http/outbound.js"
import { hmacSha256 } from "../http/signatures.js"
import { type ConversationState, type GenesysState, integrationSender, now, type SentWebhook, textOf } from "./state.js"
import { GenesysSimError } from "./types.js"

const WEBHOOK_TIMEOUT_MS = 10_000
const WEBHOOK_RETRIES = 5

/** POSTs the exact bytes once: the answer status, 0 when none came (timeout, refused). */
const post = (hook: SentWebhook): Effect.Effect<number> =>
  postOnce(
    hook.url,
    hook.raw,
    { "content-type": "application/json", "x-hub-signature-256": hook.signature, "user-agent": "genesys-sim" },
    WEBHOOK_TIMEOUT_MS
  ).pipe(
    Effect.map((answer) => answer.status),
    Effect.orElseSucceed(() => 0)
  )

const isRetryable = (status: number) => status === 0 || status === 429 || status >= 500

export interface OutboundBody {
  readonly type: "Text" | "Event"
  readonly text?: string
  readonly content?: unknown
  readonly events?: unknown
}

export interface GenesysWebhooks {
  /**
   * Builds, signs, records and posts one outbound message of the conversation's agent: the
   * gateway's final answer status after the retries (0: none). As Genesys does, `channel.from`
   * names the integration (its name and id), not the agent. `withoutId` leaves the body's `id`
   * out (the SDK's model has it optional); the sim still records the webhook under an id of its
   * own, for resends.
   */
  readonly send: (
    c: ConversationState,
    body: OutboundBody,
    options?: { readonly withoutId?: boolean }
  ) => Effect.Effect<{ webhookId: string; status: number }>
  /** Posts a sent webhook again, once: the gateway's answer status. */
  readonly resend: (webhookId: string) => Effect.Effect<number, GenesysSimError>
}

export const makeWebhooks = (state: GenesysState): GenesysWebhooks => {
  const deliver = (hook: SentWebhook) =>
    post(hook).pipe(
      Effect.filterOrFail((status) => !isRetryable(status), (status) => status),
      Effect.retry({ schedule: Schedule.spaced(Duration.millis(state.webhookRetryDelayMs)), times: WEBHOOK_RETRIES }),
      Effect.merge,
      Effect.tap((status) =>
        Effect.log(`genesys sim agent -> webhook ${hook.id}: gateway answered ${status === 0 ? "nothing" : status}`)
      )
    )

  return {
    send: (c, body, options = {}) =>
      Effect.suspend(() => {
        const integration = state.integrations.get(c.integrationId)!
        const id = randomUUID()
        const at = now()
        const message = {
          ...(options.withoutId === true ? {} : { id }),
          channel: {
            id: c.integrationId,
            platform: "Open",
            type: "Private",
            to: { id: c.fromId, idType: c.fromIdType },
            // The integration, as in Genesys' outbound messages (docs/PROVIDERS.md#outbound-webhook-agent-to-us).
            from: integrationSender(state, c.integrationId),
            time: at.iso,
            ...(options.withoutId === true ? {} : { messageId: id })
          },
          ...body,
          direction: "Outbound",
          originatingEntity: "Human"
        }
        const raw = new Uint8Array(Buffer.from(JSON.stringify(message), "utf8"))
        const hook: SentWebhook = {
          id,
          url: integration.webhookUrl,
          raw,
          signature: `sha256=${hmacSha256(integration.webhookSecret, raw, "base64")}`
        }
        state.webhooks.set(id, hook)
        if (body.type === "Text") {
          state.messages.set(id, {
            id,
            conversationId: c.id,
            direction: "outbound",
            timestamp: at.iso,
            ...textOf(body)
          })
        }
        return Effect.map(deliver(hook), (status) => ({ webhookId: id, status }))
      }),
    resend: (webhookId) =>
      Effect.suspend(() => {
        const hook = state.webhooks.get(webhookId)
        return hook === undefined
          ? Effect.fail(new GenesysSimError({ status: 404, message: `no webhook ${webhookId} was sent` }))
          : post(hook)
      })
  }
}

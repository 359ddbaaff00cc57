/** hbf-lcm's webhooks: each agent event signed (`X-Helvia-Signature`), recorded and posted to the request's callbackUrl. */
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { postOnce } from "../http/outbound.js"
import { hmacSha256 } from "../http/signatures.js"
import type { LcmState, MutableRequest, MutableWebhook } from "./state.js"
import { type AgentActionResult, type HbfLcmSimOptions, LcmSimError } from "./types.js"
import type { LcmEventType, LcmWebhookEvent } from "./wire.js"

/** The gateway's answer: its status and body (JSON-decoded when it is JSON, else the text; null when empty). */
const answerOf = ({ status, text }: { readonly status: number; readonly text: string }) => {
  let body: unknown = text === "" ? null : text
  try {
    body = JSON.parse(text)
  } catch {
    // not JSON: keep the text
  }
  return { status, body }
}

const post = (hook: MutableWebhook) =>
  postOnce(
    hook.url,
    hook.raw,
    { "content-type": "application/json", "x-helvia-signature": hook.signature, "user-agent": "hbf-lcm-sim" },
    10_000
  ).pipe(
    Effect.map(answerOf),
    Effect.mapError(
      (cause) =>
        new LcmSimError({
          status: 502,
          message: `hbf-lcm simulator: could not deliver the webhook to ${hook.url}: ${
            cause instanceof Error ? cause.message : String(cause)
          }`
        })
    )
  )

export interface LcmWebhooks {
  /** Builds, signs, records and posts one agent event on a request; `after` changes the request once the event is recorded. */
  readonly act: (
    platformSessionId: string,
    type: LcmEventType,
    build: (request: MutableRequest) => Pick<LcmWebhookEvent, "agent" | "message" | "typing">,
    after?: (request: MutableRequest) => void
  ) => Effect.Effect<AgentActionResult, LcmSimError>
  /** Posts a sent event again, byte-identical, the same signature header. */
  readonly resend: (eventId: string) => Effect.Effect<AgentActionResult, LcmSimError>
}

export const makeWebhooks = (state: LcmState, options: HbfLcmSimOptions): LcmWebhooks => {
  const deliver = (hook: MutableWebhook) =>
    post(hook).pipe(
      Effect.tap((response) =>
        Effect.zipRight(
          Effect.sync(() => hook.responses.push(response)),
          Effect.log(
            `hbf-lcm agent -> ${hook.event.type} ${hook.event.platformSessionId} (${hook.eventId}): gateway answered ${response.status}`
          )
        )
      ),
      Effect.map((response): AgentActionResult => ({ eventId: hook.eventId, ...response }))
    )

  return {
    act: (platformSessionId, type, build, after) =>
      Effect.suspend(() => {
        const request = state.requests.get(platformSessionId)
        if (request === undefined) {
          return Effect.fail(
            new LcmSimError({ status: 404, message: `hbf-lcm simulator: no livechat request ${platformSessionId}` })
          )
        }
        const secret = options.webhookSecretFor(request.body.tenantId)
        if (secret === undefined) {
          return Effect.fail(
            new LcmSimError({
              status: 409,
              message: `hbf-lcm simulator: no webhook secret for tenant ${request.body.tenantId}`
            })
          )
        }
        const eventId = `lcm-evt-${randomUUID()}`
        const extra = build(request)
        const event: LcmWebhookEvent = {
          id: eventId,
          type,
          platformSessionId,
          platformUserId: request.body.platformUserId,
          occurredAt: new Date().toISOString(),
          ...(extra.agent !== undefined ? { agent: extra.agent } : {}),
          ...(extra.message !== undefined ? { message: extra.message } : {}),
          ...(extra.typing !== undefined ? { typing: extra.typing } : {})
        }
        const raw = new Uint8Array(Buffer.from(JSON.stringify(event), "utf8"))
        const hook: MutableWebhook = {
          eventId,
          url: request.body.extras.callbackUrl,
          event,
          raw,
          signature: `sha256=${hmacSha256(secret, raw)}`,
          responses: []
        }
        state.webhooks.set(eventId, hook)
        after?.(request)
        return deliver(hook)
      }),
    resend: (eventId) =>
      Effect.suspend(() => {
        const hook = state.webhooks.get(eventId)
        return hook === undefined
          ? Effect.fail(new LcmSimError({ status: 404, message: `hbf-lcm simulator: no webhook ${eventId} was sent` }))
          : deliver(hook)
      })
  }
}

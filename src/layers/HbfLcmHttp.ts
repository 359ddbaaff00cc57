/** hbf-lcm over HTTP (CONTRACTS.md section 5). Creates and messages are idempotent, so they are retried. */
import { HttpClientRequest } from "@effect/platform"
import { Effect, Layer } from "effect"
import { AppConfig } from "../services/AppConfig.js"
import { HbfLcm, type HbfLcmFailure } from "../services/HbfLcm.js"
import { defaultRetryPolicy, describeOutbound, type OutboundError, outboundClient, sent, statusOf } from "./outbound.js"

const failure = (what: string) => (error: OutboundError): HbfLcmFailure => {
  const status = statusOf(error)
  return {
    _tag: "HbfLcmFailure",
    message: `hbf-lcm ${what}: ${describeOutbound(error)}`,
    ...(status !== undefined ? { status } : {})
  }
}

export const HbfLcmHttp = Layer.effect(
  HbfLcm,
  Effect.gen(function* () {
    const config = yield* AppConfig
    const client = yield* outboundClient({
      baseUrl: config.hbfLcm.url,
      bearer: config.hbfLcm.token,
      retry: defaultRetryPolicy
    })
    const send = (request: HttpClientRequest.HttpClientRequest, what: string) => sent(client, request).pipe(Effect.mapError(failure(what)))

    return HbfLcm.of({
      createRequest: (r) =>
        send(
          HttpClientRequest.post("/livechat-requests").pipe(
            HttpClientRequest.bodyUnsafeJson({
              type: "external",
              status: "new",
              requestedDate: r.requestedDate,
              platformSessionId: r.platformSessionId,
              platformUserId: r.platformUserId,
              platformUserName: r.platformUserName,
              platformUserEmail: r.platformUserEmail,
              platformUserPhone: r.platformUserPhone,
              platformUserLanguage: r.platformUserLanguage,
              platformType: "LIVECHAT",
              platformOrigin: r.platformOrigin,
              organizationId: r.organizationId,
              tenantId: r.tenantId,
              tenantName: r.tenantName,
              tenantImageUrl: r.tenantImageUrl,
              extras: { callbackUrl: r.callbackUrl, transcript: r.transcript, metadata: r.metadata }
            })
          ),
          "refused the livechat request"
        ),
      sendMessage: (m) =>
        send(
          HttpClientRequest.post(`/organizations/${encodeURIComponent(m.organizationId)}/livechat-messages`).pipe(
            HttpClientRequest.bodyUnsafeJson({
              platformSessionId: m.platformSessionId,
              platformUserId: m.platformUserId,
              messageId: m.messageId,
              text: m.text,
              attachments: m.attachments,
              sentDate: m.sentDate
            })
          ),
          "refused the message"
        ),
      endRequest: (platformSessionId) =>
        send(
          HttpClientRequest.del(`/livechat-requests/${encodeURIComponent(platformSessionId)}`),
          "refused to end the request"
        )
    })
  })
)

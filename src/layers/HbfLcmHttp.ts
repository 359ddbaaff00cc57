/** hbf-lcm over HTTP (CONTRACTS.md section 5). Creates and messages are idempotent, so they are retried. */
import { Effect, Layer } from "effect"
import { AppConfig } from "../services/AppConfig.js"
import { HbfLcm, type HbfLcmFailure } from "../services/HbfLcm.js"
import { defaultRetryPolicy, type OutboundError, outboundClient, type OutboundRequest } from "./outbound.js"

const failure = (what: string) => (error: OutboundError): HbfLcmFailure => ({
  _tag: "HbfLcmFailure",
  message: `hbf-lcm ${what}: ${error.detail}`,
  ...(error.status !== undefined ? { status: error.status } : {})
})

export const HbfLcmHttp = Layer.effect(
  HbfLcm,
  Effect.gen(function* () {
    const config = yield* AppConfig
    const client = yield* outboundClient({
      baseUrl: config.hbfLcm.url,
      bearer: config.hbfLcm.token,
      retry: defaultRetryPolicy
    })
    const send = (request: OutboundRequest, what: string) => client.call(request, failure(what))

    return HbfLcm.of({
      createRequest: (r) =>
        send(
          {
            method: "POST",
            path: "/livechat-requests",
            json: {
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
            }
          },
          "refused the livechat request"
        ),
      sendMessage: (m) =>
        send(
          {
            method: "POST",
            path: `/organizations/${encodeURIComponent(m.organizationId)}/livechat-messages`,
            json: {
              platformSessionId: m.platformSessionId,
              platformUserId: m.platformUserId,
              messageId: m.messageId,
              text: m.text,
              attachments: m.attachments,
              sentDate: m.sentDate
            }
          },
          "refused the message"
        ),
      endRequest: (platformSessionId) =>
        send({ method: "DELETE", path: `/livechat-requests/${encodeURIComponent(platformSessionId)}` }, "refused to end the request")
    })
  })
)

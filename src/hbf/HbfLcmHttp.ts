/**
 * hbf-lcm over HTTP (docs/CONTRACTS.md#hbf-lcm). Creates and messages are idempotent, so they
 * are retried. Every attempt's outcome is recorded in hbf-lcm's health (one credential: the
 * platform's), the probe's too, and a session's call in that session's timeline
 * (`provider.call`): every call but the probe names its session (`platformSessionId` is the
 * gateway's session id), so it is recorded from the HTTP client's callback, without a timeline
 * scope or a fiber op (perf: docs/ARCHITECTURE.md#perf-timeline).
 */
import { Effect, Layer } from "effect"
import {
  defaultRetryPolicy,
  type OutboundAttempt,
  outboundClient,
  type OutboundError,
  type OutboundRequest
} from "../infra/outbound.js"
import { AppConfig } from "../services/AppConfig.js"
import { HbfLcm, type HbfLcmFailure } from "../services/HbfLcm.js"
import { hbfLcmCredentials, ProviderCallHealth } from "../services/ProviderCallHealth.js"
import { providerCallEntry, Timeline } from "../services/Timeline.js"

/**
 * The failure of `call` as the gateway answers it: a transport failure is only "unreachable"
 * there (its detail names hbf-lcm's address and port), the detail going to the log.
 */
const failure = (call: string) => (error: OutboundError): Effect.Effect<never, HbfLcmFailure> => {
  const failed = Effect.fail<HbfLcmFailure>({
    _tag: "HbfLcmFailure",
    message: `hbf-lcm ${call} ${error.reason === "transport" ? "is unreachable" : error.detail}`,
    ...(error.status !== undefined ? { status: error.status } : {})
  })
  return error.reason === "transport"
    ? Effect.zipRight(Effect.logWarning("hbf-lcm is unreachable", { call, reason: error.detail }), failed)
    : failed
}

export const HbfLcmHttp = Layer.effect(
  HbfLcm,
  Effect.gen(function*() {
    const config = yield* AppConfig
    const health = yield* ProviderCallHealth
    const timeline = yield* Timeline
    const calls = {
      baseUrl: config.hbfLcm.url,
      bearer: config.hbfLcm.token,
      onAnswer: (status: number | undefined) => health.record(hbfLcmCredentials, status),
      onAttempt: ({ method, name, sessionId }: OutboundRequest, { attempt, latencyMs, status }: OutboundAttempt) => {
        if (sessionId !== undefined) {
          timeline.unsafeRecord(sessionId, providerCallEntry(name ?? method, attempt, latencyMs, status))
        }
      }
    }
    const client = yield* outboundClient({ ...calls, retry: defaultRetryPolicy })
    // One attempt: a probe asks whether hbf-lcm answers now.
    const probing = yield* outboundClient(calls)
    // perf: docs/ARCHITECTURE.md#perf-fiber-ops
    const send = (request: OutboundRequest & { readonly name: string }) => client.call(request, failure(request.name))

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
            },
            name: "POST /livechat-requests",
            sessionId: r.platformSessionId
          }
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
            },
            name: "POST /organizations/{organizationId}/livechat-messages",
            sessionId: m.platformSessionId
          }
        ),
      endRequest: (platformSessionId) =>
        send({
          method: "DELETE",
          path: `/livechat-requests/${encodeURIComponent(platformSessionId)}`,
          name: "DELETE /livechat-requests/{platformSessionId}",
          sessionId: platformSessionId
        }),
      // Any answer but a 5xx is hbf-lcm answering: its 404 or 405 to a HEAD it has no route for too.
      probe: Effect.suspend(() => probing.call({ method: "HEAD", path: "/livechat-requests" }, Effect.fail)).pipe(
        Effect.catchAll((error) =>
          error.reason === "status" && (error.status ?? 500) < 500
            ? Effect.void
            : failure("HEAD /livechat-requests")(error)
        )
      )
    })
  })
)

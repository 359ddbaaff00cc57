/**
 * The whole HTTP surface of hbf-lcg as one HttpApi (docs/CONTRACTS.md#upstream-api,
 * #provider-webhooks, #ops-and-admin): routes, schemas and error statuses. /openapi.json and
 * /docs are generated from it.
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import {
  Availability,
  CreateRequest,
  ForwardMessage,
  Id,
  LivechatState,
  MessageAccepted,
  Session,
  SessionRecord,
  TypingAccepted,
  UpdateRequest,
  UserTyping
} from "../domain/model.js"
import { ClusterStatus } from "../services/Coordinator.js"
import { DeadLetter } from "../services/Outbox.js"
import { AdminAuthentication, Authentication } from "./auth.js"
import * as E from "./errors.js"
import { described, describedQuery } from "./inputs.js"

const MAX_WINDOW_SECONDS = 30 * 24 * 60 * 60

const SubscriberPath = Schema.Struct({ subHandle: Id })

/** `?tenantId=`: a subscriber's look-up in that tenant (a tenant the caller may not act in has nothing there for it). */
const TenantFilter = describedQuery(Schema.Struct({ tenantId: Schema.optional(Id) }))

export const StatusFilterParam = Schema.Literal("pending", "active", "ended", "open")

const WindowSeconds = Schema.NumberFromString.pipe(
  Schema.int({ message: () => "windowSeconds must be a whole number of seconds" }),
  Schema.between(1, MAX_WINDOW_SECONDS, {
    message: () => `windowSeconds must be between 1 and ${MAX_WINDOW_SECONDS} (30 days)`
  })
)

export class UpstreamApi extends HttpApiGroup.make("upstream")
  .add(
    HttpApiEndpoint.post("createRequest", "/requests")
      .setPayload(described(CreateRequest))
      .addSuccess(Session, { status: 201 })
      .addError(E.UnsupportedMediaType)
      .addError(E.Forbidden)
      .addError(E.TenantNotFound)
      .addError(E.LivechatNotConfigured)
      .addError(E.LivechatUnavailable)
      .addError(E.SessionOpenElsewhere)
      .addError(E.ProviderError)
      .addError(E.UpstreamUnavailable)
      .annotate(
        OpenApi.Description,
        "Opens a livechat for the subscriber. 201 with the new session; 200 with the open session when this tenant already has one for the subscriber. 403 Forbidden: the token's `tenants` do not include tenantId. 409 SessionOpenElsewhere: a platform token asks while another tenant has a livechat a platform token opened for the subscriber; a token with `tenants` opens its tenant's own livechat whatever other tenants do."
      )
  )
  .add(
    HttpApiEndpoint.patch("updateRequest", "/requests/subscribers/:subHandle")
      .setPath(SubscriberPath)
      .setUrlParams(TenantFilter)
      .setPayload(described(UpdateRequest))
      .addSuccess(Session)
      .addError(E.UnsupportedMediaType)
      .addError(E.BadRequest)
      .addError(E.SessionNotFound)
      .addError(E.InvalidTransition)
      .annotate(
        OpenApi.Description,
        "Cancels the subscriber's open request, or updates its user and metadata (merged into the session's: 400 BadRequest when the merged metadata is over its limits). `tenantId`: the subscriber's session in that tenant; without it, a platform token's latest session of the subscriber, or the latest in a confined token's tenants. A session of a tenant the token may not act in is answered 404."
      )
  )
  .add(
    HttpApiEndpoint.del("terminateSession", "/sessions/tenants/:tenantId/subscribers/:subHandle")
      .setPath(Schema.Struct({ tenantId: Id, subHandle: Id }))
      .addSuccess(HttpApiSchema.NoContent)
      .addError(E.SessionNotFound)
  )
  .add(
    HttpApiEndpoint.post("forwardMessage", "/messages")
      .setPayload(described(ForwardMessage))
      .addSuccess(MessageAccepted, { status: 202 })
      .addError(E.UnsupportedMediaType)
      .addError(E.SessionNotFound)
      .addError(E.SessionEnded)
      .addError(E.ProviderError)
      .addError(E.MessageInFlight)
      .addError(E.MessageIdReused)
      .annotate(
        OpenApi.Description,
        "Forwards a user message; a retry with the same messageId (and the same text and attachments) is answered like the first. 503 MessageInFlight: the first attempt is still running, retry. 409 MessageIdReused: the messageId was used for a message with other text or attachments."
      )
  )
  .add(
    HttpApiEndpoint.post("userTyping", "/typing")
      .setPayload(described(UserTyping))
      .addSuccess(TypingAccepted, { status: 202 })
      .addError(E.UnsupportedMediaType)
      .addError(E.SessionNotFound)
      .addError(E.SessionEnded)
      .addError(E.ProviderError)
      .annotate(OpenApi.Description, "Shows the agent that the user is typing, where the provider can.")
  )
  .add(
    HttpApiEndpoint.head("countRequests", "/organizations/:organizationId/requests")
      .setPath(Schema.Struct({ organizationId: Id }))
      .setUrlParams(describedQuery(Schema.Struct({ status: Schema.optional(StatusFilterParam) })))
      .addSuccess(Schema.Void)
      .annotate(
        OpenApi.Description,
        "Answers 200 with the count in the X-Total-Count header; a token with `tenants` counts only the sessions of its tenants."
      )
  )
  .add(
    HttpApiEndpoint.head("waitingMetrics", "/organizations/:organizationId/tenants/:tenantId/metrics")
      .setPath(Schema.Struct({ organizationId: Id, tenantId: Id }))
      .setUrlParams(describedQuery(Schema.Struct({ windowSeconds: Schema.optional(WindowSeconds) })))
      .addSuccess(Schema.Void)
      .addError(E.Forbidden)
      .annotate(
        OpenApi.Description,
        "Answers 200 with X-Average-Waiting-Time (whole seconds, over sessions assigned in the window) and X-Waiting-Count (pending now)."
      )
  )
  .add(
    HttpApiEndpoint.get("livechatState", "/subscribers/:subHandle/livechat-state")
      .setPath(SubscriberPath)
      .setUrlParams(TenantFilter)
      .addSuccess(LivechatState)
      .annotate(
        OpenApi.Description,
        "The subscriber's latest livechat, found as for PATCH /requests/subscribers/{subHandle}. A session of a tenant the token may not act in is state `none`."
      )
  )
  .add(
    HttpApiEndpoint.get("availability", "/tenants/:tenantId/availability")
      .setPath(Schema.Struct({ tenantId: Id }))
      .addSuccess(Availability)
      .addError(E.Forbidden)
      .addError(E.TenantNotFound)
      .addError(E.UpstreamUnavailable)
  )
  .addError(E.StoreUnavailable)
  .middleware(Authentication)
{}

const AliasPath = Schema.Struct({ alias: Schema.String })

export class DownstreamApi extends HttpApiGroup.make("downstream")
  .add(
    HttpApiEndpoint.post("providerEvents", "/events/:alias")
      .setPath(AliasPath)
      .addSuccess(Schema.Struct({ accepted: Schema.Int }))
      .addError(E.UnknownProvider)
      .addError(E.InvalidSignature)
      .addError(E.MalformedWebhook)
      .addError(E.PayloadTooLarge)
      .addError(E.UpstreamUnavailable)
      .addError(E.StoreUnavailable)
      .annotate(
        OpenApi.Description,
        "A provider's webhook. It is authenticated before its body is decoded: 401 InvalidSignature, the same for a missing or malformed signature, an unknown sender and a wrong signature (only JSON nested past 64 levels is refused first, 400). Then 400 when malformed, 413 beyond 100 events; events of conversations the gateway does not know are counted and answered 200."
      )
  )
  .add(
    HttpApiEndpoint.head("providerHealth", "/events/:alias")
      .setPath(AliasPath)
      .addSuccess(Schema.Void)
      .addError(E.UnknownProvider)
  )
{}

/**
 * A session as on-call sees it: the public session with the gateway's bookkeeping (version,
 * last seq, activity, user, metadata), never the adapter's `providerState` (it holds chat
 * cookies and cursors: credentials, and no help to a reader).
 */
export const AdminSession = SessionRecord.pipe(Schema.omit("providerState")).annotations({ identifier: "AdminSession" })

export class AdminApi extends HttpApiGroup.make("admin")
  .add(HttpApiEndpoint.get("cluster", "/admin/cluster").addSuccess(ClusterStatus))
  .add(
    HttpApiEndpoint.get("sessionById", "/admin/sessions/:sessionId")
      .setPath(Schema.Struct({ sessionId: Id }))
      .addSuccess(AdminSession)
      .addError(E.SessionNotFound)
  )
  .add(
    HttpApiEndpoint.get("subscriberSession", "/admin/subscribers/:subHandle/session")
      .setPath(SubscriberPath)
      .setUrlParams(TenantFilter)
      .addSuccess(AdminSession)
      .addError(E.SessionNotFound)
      .annotate(
        OpenApi.Description,
        "The subscriber's latest session, open or ended: in `tenantId` when given, else the latest one a platform token opened."
      )
  )
  .add(HttpApiEndpoint.get("deadLetters", "/admin/dead-letters").addSuccess(Schema.Array(DeadLetter)))
  .add(
    HttpApiEndpoint.post("replayDeadLetter", "/admin/dead-letters/:id/replay")
      .setPath(Schema.Struct({ id: Id }))
      .addSuccess(DeadLetter)
      .addError(E.DeadLetterNotFound)
  )
  .addError(E.StoreUnavailable)
  .middleware(AdminAuthentication)
{}

export const Health = Schema.Struct({
  status: Schema.Literal("ok", "unavailable"),
  checks: Schema.Record({ key: Schema.String, value: Schema.Boolean })
})

export class OpsApi extends HttpApiGroup.make("ops")
  .add(HttpApiEndpoint.get("live", "/health/live").addSuccess(Health))
  .add(
    HttpApiEndpoint.get("ready", "/health/ready")
      .addSuccess(Health)
      .addError(Health.annotations({ ...HttpApiSchema.annotations({ status: 503 }), identifier: "Unready" }))
  )
  .add(
    HttpApiEndpoint.get("metrics", "/metrics")
      .addSuccess(HttpApiSchema.Text())
      .annotate(OpenApi.Description, "Prometheus text exposition.")
  )
{}

export class LcgApi extends HttpApi.make("hbf-lcg")
  .add(UpstreamApi)
  .add(DownstreamApi)
  .add(OpsApi)
  .add(AdminApi)
  .annotate(OpenApi.Title, "hbf-lcg")
  .annotate(OpenApi.Description, "The livechat gateway between hbf-bot and contact-center providers.")
{}

/**
 * The whole HTTP surface of hbf-lcg as one HttpApi (docs/CONTRACTS.md#upstream-api,
 * #provider-webhooks, #ops-and-admin): routes, schemas and error statuses. /openapi.json and
 * /docs are generated from it.
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import {
  Availability,
  Capabilities,
  CreateRequest,
  ForwardMessage,
  Id,
  LivechatState,
  MessageAccepted,
  ReadAccepted,
  Session,
  SessionRecord,
  TypingAccepted,
  UpdateRequest,
  UserRead,
  UserTyping
} from "../domain/model.js"
import { SessionTimeline } from "../domain/timeline.js"
import { ClusterStatus } from "../services/Coordinator.js"
import { DeadLetter } from "../services/Outbox.js"
import { AdminAuthentication, Authentication } from "./auth.js"
import * as E from "./errors.js"
import { described, describedQuery } from "./inputs.js"
import { countHeader, headOperation, packageVersion, servedDocument } from "./openapi.js"

const MAX_WINDOW_SECONDS = 30 * 24 * 60 * 60

/**
 * An id in a path or query, titled and described for the document (the JSON Schema of a filter
 * with no `jsonSchema` of its own is its source's, titled after `maxLength(256)`).
 */
const idParam = (title: string, description: string) => Id.annotations({ title, description, jsonSchema: {} })

const TenantId = idParam("Tenant id", "The tenant's id.")
const SubHandle = idParam("Subscriber handle", "The subscriber's handle in hbf-bot.")
const OrganizationId = idParam("Organization id", "The organization's id.")

const SubscriberPath = Schema.Struct({ subHandle: SubHandle })

/** `?tenantId=`: a subscriber's look-up in that tenant (a tenant the caller may not act in has nothing there for it). */
const TenantFilter = describedQuery(Schema.Struct({
  tenantId: Schema.optional(
    idParam("Tenant id", "Look the subscriber up in this tenant (default: as the operation says).")
  )
}))

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
      .addSuccess(Session.annotations({ description: "The new session" }), { status: 201 })
      // Answered by the handler as a response of its own (handlers.ts): declared for the document.
      .addSuccess(Session.annotations({ description: "The session this tenant has open for the subscriber" }), {
        status: 200
      })
      .addError(E.PayloadTooLarge)
      .addError(E.UnsupportedMediaType)
      .addError(E.Forbidden)
      .addError(E.TenantNotFound)
      .addError(E.LivechatNotConfigured)
      .addError(E.LivechatUnavailable)
      .addError(E.ProviderUnreachable)
      .addError(E.SessionOpenElsewhere)
      .addError(E.ProviderError)
      .addError(E.UpstreamUnavailable)
      .annotate(OpenApi.Summary, "Open a livechat")
      .annotate(
        OpenApi.Description,
        "Opens a livechat for the subscriber. 201 with the new session; 200 with the open session when this tenant already has one for the subscriber. 403 Forbidden: the token's `tenants` do not include tenantId. 409 SessionOpenElsewhere: a platform token asks while another tenant has a livechat a platform token opened for the subscriber; a token with `tenants` opens its tenant's own livechat whatever other tenants do. 503 LivechatUnavailable (reason provider-unreachable): the tenant's provider stopped answering lately; refused at once, without calling it (GET /tenants/{tenantId}/availability says `health`)."
      )
  )
  .add(
    HttpApiEndpoint.patch("updateRequest", "/requests/subscribers/:subHandle")
      .setPath(SubscriberPath)
      .setUrlParams(TenantFilter)
      .setPayload(described(UpdateRequest))
      .addSuccess(Session)
      .addError(E.PayloadTooLarge)
      .addError(E.UnsupportedMediaType)
      .addError(E.SessionNotFound)
      .addError(E.InvalidTransition)
      .annotate(OpenApi.Summary, "Cancel or update an open request")
      .annotate(
        OpenApi.Description,
        "Cancels the subscriber's open request, or updates its user and metadata (merged into the session's: 400 BadRequest when the merged metadata is over its limits). `tenantId`: the subscriber's session in that tenant; without it, a platform token's latest session of the subscriber, or the latest in a confined token's tenants. A session of a tenant the token may not act in is answered 404."
      )
  )
  .add(
    HttpApiEndpoint.del("terminateSession", "/sessions/tenants/:tenantId/subscribers/:subHandle")
      .setPath(Schema.Struct({ tenantId: TenantId, subHandle: SubHandle }))
      .addSuccess(HttpApiSchema.NoContent)
      .addError(E.SessionNotFound)
      .annotate(OpenApi.Summary, "End the subscriber's session")
      .annotate(OpenApi.Description, "Ends the subscriber's session in the tenant with reason `user`: 204.")
  )
  .add(
    HttpApiEndpoint.post("forwardMessage", "/messages")
      .setPayload(described(ForwardMessage))
      .addSuccess(MessageAccepted, { status: 202 })
      .addError(E.PayloadTooLarge)
      .addError(E.UnsupportedMediaType)
      .addError(E.SessionNotFound)
      .addError(E.SessionEnded)
      .addError(E.ProviderError)
      .addError(E.MessageInFlight)
      .addError(E.MessageIdReused)
      .annotate(OpenApi.Summary, "Forward a user message")
      .annotate(
        OpenApi.Description,
        "Forwards a user message; a retry with the same messageId (and the same text and attachments) is answered like the first. `delivery` says what the provider made of it: `parts`, how many messages the agent got (a long text split, attachments sent apart); `attachments` (absent when it had none): `native` (as files), `as-links` (as names and links in the text) or `dropped`. 503 MessageInFlight: the first attempt is still running, retry. 409 MessageIdReused: the messageId was used for a message with other text or attachments."
      )
  )
  .add(
    HttpApiEndpoint.post("userTyping", "/typing")
      .setPayload(described(UserTyping))
      .addSuccess(TypingAccepted, { status: 202 })
      .addError(E.PayloadTooLarge)
      .addError(E.UnsupportedMediaType)
      .addError(E.SessionNotFound)
      .addError(E.SessionEnded)
      .addError(E.ProviderError)
      .annotate(OpenApi.Summary, "Show the agent that the user is typing")
      .annotate(OpenApi.Description, "Shows the agent that the user is typing, where the provider can.")
  )
  .add(
    HttpApiEndpoint.post("userRead", "/read")
      .setPayload(described(UserRead))
      .addSuccess(ReadAccepted, { status: 202 })
      .addError(E.PayloadTooLarge)
      .addError(E.UnsupportedMediaType)
      .addError(E.SessionNotFound)
      .addError(E.SessionEnded)
      .addError(E.ProviderError)
      .annotate(OpenApi.Summary, "Tell the agent that the user has read the conversation")
      .annotate(
        OpenApi.Description,
        "Tells the agent that the user has read the conversation (up to `messageId`, the id of an `agent.message` event, where given), where the provider takes read receipts: `forwarded: false` where it does not."
      )
  )
  .add(
    HttpApiEndpoint.head("countRequests", "/organizations/:organizationId/requests")
      .setPath(Schema.Struct({ organizationId: OrganizationId }))
      .setUrlParams(describedQuery(Schema.Struct({
        status: Schema.optional(
          // In jsonSchema: a description would replace the expected values in the 400's message (schemaIssues.ts).
          StatusFilterParam.annotations({
            jsonSchema: {
              title: "Status",
              description: "The sessions to count: `open` is pending and active (the default)."
            }
          })
        )
      })))
      .addSuccess(Schema.Void, { status: 200 })
      .annotate(OpenApi.Summary, "Count livechat requests")
      .annotate(
        OpenApi.Transform,
        headOperation({ "X-Total-Count": countHeader("How many sessions of the organization have the status.") })
      )
      .annotate(
        OpenApi.Description,
        "Answers 200 with the count in the X-Total-Count header; a token with `tenants` counts only the sessions of its tenants."
      )
  )
  .add(
    HttpApiEndpoint.head("waitingMetrics", "/organizations/:organizationId/tenants/:tenantId/metrics")
      .setPath(Schema.Struct({ organizationId: OrganizationId, tenantId: TenantId }))
      .setUrlParams(describedQuery(Schema.Struct({
        windowSeconds: Schema.optional(
          // The value the query's string holds (OpenAPI serializes it): else NumberFromString's "a string", untitled.
          WindowSeconds.annotations({
            jsonSchema: {
              type: "integer",
              minimum: 1,
              maximum: MAX_WINDOW_SECONDS,
              title: "Window (seconds)",
              description: `The window of the average, 1 to ${MAX_WINDOW_SECONDS} seconds (default: a day).`
            }
          })
        )
      })))
      .addSuccess(Schema.Void, { status: 200 })
      .addError(E.Forbidden)
      .annotate(OpenApi.Summary, "Waiting time and queue length of a tenant")
      .annotate(
        OpenApi.Transform,
        headOperation({
          "X-Average-Waiting-Time": countHeader(
            "The average wait in whole seconds, over the sessions first assigned in the window (0 when none)."
          ),
          "X-Waiting-Count": countHeader("How many sessions are pending now.")
        })
      )
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
      .annotate(OpenApi.Summary, "The subscriber's livechat state")
      .annotate(
        OpenApi.Description,
        "The subscriber's latest livechat, found as for PATCH /requests/subscribers/{subHandle}. A session of a tenant the token may not act in is state `none`."
      )
  )
  .add(
    HttpApiEndpoint.get("availability", "/tenants/:tenantId/availability")
      .setPath(Schema.Struct({ tenantId: TenantId }))
      .addSuccess(Availability)
      .addError(E.Forbidden)
      .addError(E.TenantNotFound)
      .addError(E.UpstreamUnavailable)
      .annotate(OpenApi.Summary, "Whether the tenant's livechat is open")
  )
  .add(
    HttpApiEndpoint.get("capabilities", "/tenants/:tenantId/capabilities")
      .setPath(Schema.Struct({ tenantId: TenantId }))
      .addSuccess(Capabilities)
      .addError(E.Forbidden)
      .addError(E.TenantNotFound)
      .addError(E.LivechatNotConfigured)
      .addError(E.UpstreamUnavailable)
      .annotate(OpenApi.Summary, "What the tenant's provider carries")
      .annotate(
        OpenApi.Description,
        "What the tenant's livechat provider carries: typing and read receipts each way, attachments, the longest text the agent gets as one message and whether a longer one is split, where a waiting request's position comes from (`provider` or `gateway`), and whether an agent can hand the chat back to a queue. Declared beside each provider's code. 403 Forbidden: the token's `tenants` do not include tenantId. 422 LivechatNotConfigured: the tenant has no usable livechat configuration (availability answers `not-configured` then)."
      )
  )
  .addError(E.StoreUnavailable)
  .middleware(Authentication)
{}

const AliasPath = Schema.Struct({
  alias: Schema.String.annotations({ title: "Provider alias", description: "The provider's alias, e.g. `zendesk`." })
})

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
      .annotate(OpenApi.Summary, "Receive a provider's webhook")
      .annotate(
        OpenApi.Description,
        "A provider's webhook. It is authenticated before its body is decoded: 401 InvalidSignature, the same for a missing or malformed signature, an unknown sender and a wrong signature (only JSON nested past 64 levels is refused first, 400). Then 400 when malformed, 413 beyond 100 events; events of conversations the gateway does not know are counted and answered 200."
      )
  )
  .add(
    HttpApiEndpoint.head("providerHealth", "/events/:alias")
      .setPath(AliasPath)
      .addSuccess(Schema.Void, { status: 200 })
      .addError(E.UnknownProvider)
      .annotate(OpenApi.Summary, "Check a provider's webhook URL")
      .annotate(OpenApi.Transform, headOperation({}))
  )
{}

/**
 * A session as on-call sees it: the public session with the gateway's bookkeeping (version,
 * last seq, activity, user, metadata), never the adapter's `providerState` (it holds chat
 * cookies and cursors: credentials, and no help to a reader).
 */
export const AdminSession = SessionRecord.pipe(Schema.omit("providerState")).annotations({ identifier: "AdminSession" })

/** How many sessions a page of `GET /admin/sessions` holds at most, and unless asked. */
const MAX_PAGE = 200
const DEFAULT_PAGE = 50

const CURSOR_TEXT = /^(\d{1,15}):(.{1,256})$/s

/**
 * A page's cursor: opaque to callers, base64url of `{created-at ms}:{sessionId}` (where the
 * next page starts, SessionStore's OpenSessionsCursor). Only a cursor this route gave decodes.
 */
const PageCursor = Schema.String.pipe(
  Schema.filter((text) => {
    const decoded = Buffer.from(text, "base64url").toString("utf8")
    return CURSOR_TEXT.test(decoded) && Buffer.from(decoded, "utf8").toString("base64url") === text
  }, { message: () => "cursor must be the `next` of a page before, as it was given" }),
  Schema.transform(Schema.Struct({ createdAtMs: Schema.Number, sessionId: Schema.String }), {
    strict: true,
    decode: (text) => {
      const [, ms, sessionId] = CURSOR_TEXT.exec(Buffer.from(text, "base64url").toString("utf8"))!
      return { createdAtMs: Number(ms), sessionId: sessionId! }
    },
    encode: ({ createdAtMs, sessionId }) => Buffer.from(`${createdAtMs}:${sessionId}`, "utf8").toString("base64url")
  })
)

const PageLimit = Schema.NumberFromString.pipe(
  Schema.int({ message: () => "limit must be a whole number" }),
  Schema.between(1, MAX_PAGE, { message: () => `limit must be between 1 and ${MAX_PAGE}` })
)

/** `GET /admin/sessions`: a page of a tenant's open sessions. */
export const OpenSessions = Schema.Struct({
  sessions: Schema.Array(AdminSession),
  next: Schema.optional(PageCursor.annotations({
    jsonSchema: {
      type: "string",
      description: "The cursor of the next page (pass it as `cursor`); absent on the last page."
    }
  }))
}).annotations({ identifier: "OpenSessions" })

export const openSessionsPageSize = (limit: number | undefined) => limit ?? DEFAULT_PAGE

export class AdminApi extends HttpApiGroup.make("admin")
  .add(
    HttpApiEndpoint.get("cluster", "/admin/cluster")
      .addSuccess(ClusterStatus)
      .annotate(OpenApi.Summary, "The cluster's members and partitions")
  )
  .add(
    HttpApiEndpoint.get("sessionById", "/admin/sessions/:sessionId")
      .setPath(Schema.Struct({ sessionId: idParam("Session id", "The session's id.") }))
      .addSuccess(AdminSession)
      .addError(E.SessionNotFound)
      .annotate(OpenApi.Summary, "A session by id")
  )
  .add(
    HttpApiEndpoint.get("subscriberSession", "/admin/subscribers/:subHandle/session")
      .setPath(SubscriberPath)
      .setUrlParams(TenantFilter)
      .addSuccess(AdminSession)
      .addError(E.SessionNotFound)
      .annotate(OpenApi.Summary, "The subscriber's latest session")
      .annotate(
        OpenApi.Description,
        "The subscriber's latest session, open or ended: in `tenantId` when given, else the latest one a platform token opened."
      )
  )
  .add(
    HttpApiEndpoint.get("sessionTimeline", "/admin/sessions/:sessionId/timeline")
      .setPath(Schema.Struct({ sessionId: idParam("Session id", "The session's id.") }))
      .addSuccess(SessionTimeline)
      .addError(E.SessionNotFound)
      .annotate(OpenApi.Summary, "What happened to a session")
      .annotate(
        OpenApi.Description,
        "The session's timeline, oldest first: its creation, state changes, provider calls, events received and dropped, deliveries, dead letters, replays and its end. Ids, statuses and timings only: no message text, no configuration. At most `LCG_TIMELINE_ENTRIES`: the first (how the session began) and the newest."
      )
  )
  .add(
    HttpApiEndpoint.get("subscriberTimeline", "/admin/subscribers/:subHandle/timeline")
      .setPath(SubscriberPath)
      .setUrlParams(TenantFilter)
      .addSuccess(SessionTimeline)
      .addError(E.SessionNotFound)
      .annotate(OpenApi.Summary, "What happened to the subscriber's latest session")
      .annotate(
        OpenApi.Description,
        "The timeline of the subscriber's latest session (as `GET /admin/subscribers/:subHandle/session` finds it)."
      )
  )
  .add(
    HttpApiEndpoint.get("openSessions", "/admin/sessions")
      .setUrlParams(describedQuery(Schema.Struct({
        tenantId: idParam("Tenant id", "The tenant whose open sessions are listed."),
        // In jsonSchema: a description would replace the expected values in the 400's message (schemaIssues.ts).
        status: Schema.optional(
          Schema.Literal("pending", "active", "open").annotations({
            jsonSchema: {
              title: "Status",
              description: "The sessions to list: `open` is pending and active (the default)."
            }
          })
        ),
        cursor: Schema.optional(PageCursor.annotations({
          jsonSchema: {
            type: "string",
            title: "Cursor",
            description: "Where the page starts: the `next` of the page before (none for the first page)."
          }
        })),
        limit: Schema.optional(PageLimit.annotations({
          jsonSchema: {
            type: "integer",
            minimum: 1,
            maximum: MAX_PAGE,
            title: "Limit",
            description: `How many sessions the page holds at most, 1 to ${MAX_PAGE} (default ${DEFAULT_PAGE}).`
          }
        }))
      })))
      .addSuccess(OpenSessions)
      .annotate(OpenApi.Summary, "A tenant's open sessions, paged")
      .annotate(
        OpenApi.Description,
        "The tenant's open sessions in `status`, oldest first (by creation), as `GET /admin/sessions/{sessionId}` shows each. `next` is the cursor of the next page, absent on the last: a session that ends between pages is neither skipped nor repeated. 400 BadRequest for a status, limit or cursor the route does not take."
      )
  )
  .add(
    HttpApiEndpoint.get("deadLetters", "/admin/dead-letters")
      .addSuccess(Schema.Array(DeadLetter))
      .annotate(OpenApi.Summary, "Events hbf-bot never took")
  )
  .add(
    HttpApiEndpoint.post("replayDeadLetter", "/admin/dead-letters/:id/replay")
      .setPath(Schema.Struct({ id: idParam("Dead letter id", "The dead letter's id.") }))
      .addSuccess(DeadLetter)
      .addError(E.DeadLetterNotFound)
      .annotate(OpenApi.Summary, "Deliver a dead letter again")
  )
  .addError(E.StoreUnavailable)
  .middleware(AdminAuthentication)
{}

export const Health = Schema.Struct({
  status: Schema.Literal("ok", "unavailable"),
  checks: Schema.Record({ key: Schema.String, value: Schema.Boolean })
})

export class OpsApi extends HttpApiGroup.make("ops")
  .add(HttpApiEndpoint.get("live", "/health/live").addSuccess(Health).annotate(OpenApi.Summary, "Liveness"))
  .add(
    HttpApiEndpoint.get("ready", "/health/ready")
      .addSuccess(Health)
      .addError(Health.annotations({ ...HttpApiSchema.annotations({ status: 503 }), identifier: "Unready" }))
      .annotate(OpenApi.Summary, "Readiness")
  )
  .add(
    HttpApiEndpoint.get("metrics", "/metrics")
      .addSuccess(HttpApiSchema.Text())
      .annotate(OpenApi.Summary, "Prometheus metrics")
      .annotate(OpenApi.Description, "Prometheus text exposition.")
  )
{}

export class LcgApi extends HttpApi.make("hbf-lcg")
  .add(UpstreamApi)
  .add(DownstreamApi)
  .add(OpsApi)
  .add(AdminApi)
  // Every path, query and body that does not decode (server.ts answers HttpApiDecodeError so).
  .addError(E.BadRequest)
  .annotate(HttpApi.AdditionalSchemas, [E.NotFound, E.MethodNotAllowed])
  .annotate(OpenApi.Transform, servedDocument)
  .annotate(OpenApi.Version, packageVersion)
  .annotate(OpenApi.Title, "hbf-lcg")
  .annotate(
    OpenApi.Description,
    "The livechat gateway between hbf-bot and contact-center providers. Every error body is `{error, message, ...details}`. A path no operation has is answered 404 (`components.responses.NotFound`); a path an operation has, with another method, 405 with `Allow` (`components.responses.MethodNotAllowed`). HEAD is answered wherever GET is, with GET's status and headers and no body. An error answer to HEAD has no body: `X-Error` and `X-Error-Message` carry its error and message."
  )
{}

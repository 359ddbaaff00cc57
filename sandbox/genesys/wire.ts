/**
 * Genesys Cloud's wire (docs/PROVIDERS.md#genesys-cloud-cx): the bodies it accepts, the bodies of
 * the sandbox routes, and its refusals `{ message, code, status, contextId, details, errors }`.
 */
import { Effect, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { AgentAttachment } from "../http/agentActions.js"
import { describeIssues, fieldIssues, json, type Refusals, Reject } from "../http/answers.js"
import { curlBody, decode, jsonBody, jsonValue, readBody } from "../http/body.js"
import { exact, HttpUrl, IsoDateTime, NonEmptyString, oneOf } from "../http/schemas.js"

// ---- refusals ----

const statusCodes: Record<number, string> = {
  400: "bad.request",
  404: "not.found",
  409: "conflict",
  415: "unsupported.media.type",
  429: "too.many.requests.retry.after",
  500: "internal.server.error",
  503: "service.unavailable"
}

const errorBody = (
  status: number,
  code: string,
  message: string,
  details: ReadonlyArray<Record<string, string>> = []
) => ({
  message,
  code,
  status,
  contextId: randomUUID(),
  details,
  errors: []
})

interface AnswerOptions {
  readonly code?: string
  readonly details?: ReadonlyArray<Record<string, string>>
  readonly headers?: Record<string, string>
}

const answer = (status: number, message: string, options: AnswerOptions = {}) =>
  json(
    status,
    errorBody(status, options.code ?? statusCodes[status] ?? "error", message, options.details),
    options.headers
  )

export const fail = (status: number, message: string, options?: AnswerOptions): Effect.Effect<never, Reject> =>
  Effect.fail(new Reject({ response: answer(status, message, options) }))

/** The message of a bad body names every bad field (`channel.from.idType: ...`), and `details` each one. */
export const genesysRefusals: Refusals = {
  refuse: (status, message, headers) => answer(status, message, headers !== undefined ? { headers } : {}),
  invalid: (error) => {
    const fields = fieldIssues(error)
    return answer(400, describeIssues(fields), {
      details: fields.map((f) => ({ errorCode: "bad.request", fieldName: f.path }))
    })
  }
}

/** An API body: application/json (415 otherwise), then decoded. */
export const apiBody = <A, I>(schema: Schema.Schema<A, I, never>) => jsonBody(genesysRefusals, schema)

/** An API body as it arrived (the parsed JSON, for the record) and decoded: what `apiBody` reads. */
export const apiBodyAsSent = <A, I>(schema: Schema.Schema<A, I, never>) =>
  Effect.gen(function*() {
    const sent = yield* jsonValue(genesysRefusals, yield* readBody(genesysRefusals))
    return { sent, body: yield* decode(genesysRefusals, schema, sent) }
  })

/** A sandbox route's body (curl's), refused in Genesys' words too. */
export const simBody = <A, I>(schema: Schema.Schema<A, I, never>) => curlBody(schema, genesysRefusals)

// ---- API bodies ----

const IdType = oneOf("Email", "Phone", "Opaque")
export type IdType = typeof IdType.Type

const MediaType = oneOf("Image", "Video", "Audio", "File", "Link")
export type MediaType = typeof MediaType.Type

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
  /** The SDK's ConversationChannelMetadata has `subType`; `customAttributes` is where Architect reads them (docs/PROVIDERS.md#custom-attributes). */
  metadata: exact(Schema.Struct({ subType: exact(Schema.String), customAttributes: exact(StringMap) }))
}
const messageFields = {
  text: exact(Schema.String),
  content: exact(Schema.Array(InboundContent)),
  metadata: exact(StringMap)
}

const requireTextOrContent = (
  m: { readonly text?: string | undefined; readonly content?: ReadonlyArray<unknown> | undefined }
) =>
  (m.text !== undefined && m.text !== "") || (m.content !== undefined && m.content.length > 0)
    ? undefined
    : { path: ["text"], message: "a message needs text or content" }

export const InboundMessage = Schema.Struct({ channel: Schema.Struct(channelFields), ...messageFields }).pipe(
  Schema.filter(requireTextOrContent)
)
export type InboundMessage = typeof InboundMessage.Type

export const DeprecatedInboundMessage = Schema.Struct({
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

export const InboundEvent = Schema.Struct({
  channel: Schema.Struct({ from: InboundFrom, time: IsoDateTime }),
  events: Schema.NonEmptyArray(
    Schema.Struct({
      eventType: Schema.Literal("Typing"),
      // the SDK's OpenEvent requires eventType alone
      typing: exact(Schema.Struct({ type: Schema.Literal("On"), duration: exact(Schema.NonNegativeInt) }))
    })
  )
})

export const InboundReceipt = Schema.Struct({
  id: NonEmptyString,
  channel: Schema.Struct({ to: Schema.Struct({ id: NonEmptyString, idType: exact(IdType) }), time: IsoDateTime }),
  status: oneOf("Delivered", "Failed"),
  // the SDK's OpenInboundNormalizedReceipt has no direction and an optional isFinalReceipt
  direction: exact(Schema.Literal("Outbound")),
  isFinalReceipt: exact(Schema.Boolean)
})

export const DisconnectBody = Schema.Struct({ state: Schema.Literal("disconnected") })

export const Subscriptions = Schema.Array(Schema.Struct({ id: NonEmptyString }))

/** A predicate of the SDK's QueueObservationQueryPredicate: `type` and `operator` default to dimension and matches. */
const ObservationPredicate = Schema.Struct({
  type: exact(Schema.Literal("dimension")),
  dimension: oneOf("queueId", "mediaType"),
  operator: exact(Schema.Literal("matches")),
  value: NonEmptyString
})
export type ObservationPredicate = typeof ObservationPredicate.Type

/**
 * The SDK's QueueObservationQuery: predicates at the top of the filter, or in its `clauses`
 * (each `{ type, predicates }`), or both; a queue must be named somewhere.
 */
export const ObservationQuery = Schema.Struct({
  filter: Schema.Struct({
    type: oneOf("or", "and"),
    clauses: exact(
      Schema.Array(Schema.Struct({ type: oneOf("or", "and"), predicates: Schema.NonEmptyArray(ObservationPredicate) }))
    ),
    predicates: exact(Schema.Array(ObservationPredicate))
  }).pipe(
    Schema.filter((f) =>
      [...(f.predicates ?? []), ...(f.clauses ?? []).flatMap((c) => c.predicates)].some((p) =>
          p.dimension === "queueId"
        )
        ? undefined
        : { path: ["predicates"], message: "the filter names no queueId" }
    )
  ),
  metrics: Schema.NonEmptyArray(NonEmptyString)
})

// ---- sandbox bodies ----

export const JoinBody = Schema.Struct({ userId: exact(NonEmptyString), name: exact(Schema.String) })
export const SayBody = Schema.Struct({ text: exact(Schema.String), attachments: exact(Schema.Array(AgentAttachment)) })
export const TypingBody = Schema.Struct({ withoutId: exact(Schema.Boolean) })
export const LeaveBody = Schema.Struct({ transfer: exact(Schema.Boolean) })
/** A queue's estimated wait from now on; null = Genesys cannot estimate it. */
export const EstimatedWaitBody = Schema.Struct({ seconds: Schema.NullOr(Schema.NonNegativeInt) })
export const RefuseTopicsBody = Schema.Struct({
  suffix: NonEmptyString,
  missingPermissions: exact(Schema.Array(Schema.String))
})

export const FailBody = Schema.Struct({
  n: Schema.NonNegativeInt,
  status: Schema.Literal(429, 500, 503),
  retryAfterSeconds: exact(Schema.NonNegativeInt)
})

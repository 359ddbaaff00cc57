/**
 * Sunshine Conversations' wire: its limits, its refusals (`{ errors: [{ code, title }] }`), the
 * request bodies it accepts (docs/PROVIDERS.md#zendesk-sunshine-conversations-v2), and the
 * bodies of the sandbox routes.
 */
import { Effect, Schema } from "effect"
import { AgentAttachment } from "../http/agentActions.js"
import { describeIssues, fieldIssues, json, type Refusals, refuse, Reject } from "../http/answers.js"
import { jsonBody } from "../http/body.js"
import { exact, HttpUrl, Metadata, NonEmptyString, oneOf } from "../http/schemas.js"

const MAX_BODY_BYTES = 100 * 1024
const MAX_METADATA_BYTES = 4 * 1024
export const MAX_TEXT_LENGTH = 4096
/** ImageMessage / FileMessage `altText` (maxLength in the OpenAPI spec). */
export const MAX_ALT_TEXT_LENGTH = 128

// ---- refusals ----

const errorCodes: Record<number, string> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  413: "payload_too_large",
  423: "locked",
  429: "too_many_requests",
  500: "internal_error",
  503: "service_unavailable"
}

const sunshineError = (status: number, title: string, headers?: Record<string, string>) =>
  json(status, { errors: [{ code: errorCodes[status] ?? "error", title }] }, headers)

/** The title of a bad body names every bad field (`content.text: ...`). */
export const sunshineRefusals: Refusals = {
  refuse: sunshineError,
  invalid: (error) => sunshineError(400, describeIssues(fieldIssues(error)))
}

export const fail = (status: number, title: string, headers?: Record<string, string>): Effect.Effect<never, Reject> =>
  refuse(sunshineRefusals, status, title, headers)

/** A missing user or conversation: 404 with the code Sunshine names it by (the spec's examples). */
export const notFound = (resource: "user" | "conversation", title: string): Effect.Effect<never, Reject> =>
  Effect.fail(new Reject({ response: json(404, { errors: [{ code: `${resource}_not_found`, title }] }) }))

/**
 * An API body: 413 over 100 kB (body-parser's "100kb"), `{}` when empty, else JSON (a body
 * labelled otherwise is 400) and the schema.
 */
export const apiBody = <A, I>(schema: Schema.Schema<A, I, never>) =>
  jsonBody(sunshineRefusals, schema, { maxBytes: MAX_BODY_BYTES, emptyIsObject: true, notJsonStatus: 400 })

// ---- API bodies ----

/** Flat, at most 4 KB serialized; null = none. */
const MetadataField = Schema.NullOr(
  Metadata.pipe(
    Schema.filter((m) => Buffer.byteLength(JSON.stringify(m)) <= MAX_METADATA_BYTES, {
      message: () => `must be at most ${MAX_METADATA_BYTES} bytes serialized`
    })
  )
)

/**
 * The spec's `maxLength`: JSON Schema counts characters (code points), not UTF-16 units, so an
 * emoji counts once.
 */
const maxCharacters = (max: number) => <A extends string, I, R>(self: Schema.Schema<A, I, R>) =>
  self.pipe(Schema.filter((s) => [...s].length <= max, { message: () => `must be at most ${max} characters` }))

const Text = Schema.String.pipe(
  Schema.minLength(1, { message: () => "must not be empty" }),
  maxCharacters(MAX_TEXT_LENGTH)
)

/** A field the spec marks readOnly (Sunshine sets it): a request that sends it is refused. */
const ReadOnly = exact(
  Schema.Unknown.pipe(Schema.filter(() => false, { message: () => "is read-only: Sunshine sets it" }))
)

const AltText = Schema.String.pipe(
  maxCharacters(MAX_ALT_TEXT_LENGTH)
)

/** A message action: its type and button text are checked, the rest is kept as posted. */
const Action = Schema.Struct(
  {
    type: oneOf("buy", "link", "locationRequest", "postback", "reply", "webview"),
    text: NonEmptyString
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)
const Actions = exact(Schema.Array(Action))

/** TextMessage, ImageMessage, FileMessage as a request may carry them (their writable fields). */
const Content = Schema.Union(
  Schema.Struct({ type: Schema.Literal("text"), text: Text, actions: Actions }),
  Schema.Struct({
    type: Schema.Literal("image"),
    mediaUrl: HttpUrl,
    altText: exact(AltText),
    text: exact(Text),
    actions: Actions,
    mediaType: ReadOnly,
    mediaSize: ReadOnly
  }),
  Schema.Struct({
    type: Schema.Literal("file"),
    mediaUrl: HttpUrl,
    altText: exact(AltText),
    text: exact(Text),
    mediaType: ReadOnly,
    mediaSize: ReadOnly
  })
)

const UserRef = Schema.Struct({ userId: exact(NonEmptyString), userExternalId: exact(NonEmptyString) })

/** One subtype (minItems and maxItems 1); "agent" and "bot" are Sunshine's own, in answers only. */
const Subtypes = exact(
  Schema.Array(oneOf("AI", "activity")).pipe(
    Schema.itemsCount(1, { message: () => "must hold exactly one subtype" })
  )
)

const Author = Schema.Union(
  Schema.Struct({ type: Schema.Literal("user"), subtypes: Subtypes, ...UserRef.fields }),
  Schema.Struct({
    type: Schema.Literal("business"),
    subtypes: Subtypes,
    displayName: exact(Schema.String),
    avatarUrl: exact(HttpUrl)
  })
)

const AtMost = (max: number) => Schema.String.pipe(maxCharacters(max))

/** `format: email` (the spec's): one `@` with something on either side, no spaces. */
const Email = AtMost(128).pipe(
  Schema.filter((s) => /^[^\s@]+@[^\s@]+$/.test(s), { message: () => "must be an email address" })
)

/** UserCreateBody: the spec's limits on the externalId and the profile. */
export const UserCreate = Schema.Struct({
  externalId: NonEmptyString.pipe(maxCharacters(1024)),
  profile: exact(
    Schema.Struct({
      givenName: exact(AtMost(128)),
      surname: exact(AtMost(128)),
      email: exact(Email),
      avatarUrl: exact(HttpUrl.pipe(maxCharacters(2048))),
      locale: exact(AtMost(64))
    })
  ),
  metadata: exact(MetadataField)
})

export const ConversationCreate = Schema.Struct({
  type: Schema.Literal("personal", "sdkGroup"),
  participants: Schema.Array(UserRef),
  metadata: exact(MetadataField)
})

export const MessagePost = Schema.Struct({ author: Author, content: Content, metadata: exact(MetadataField) })

export const ActivityPost = Schema.Struct({
  author: Author,
  type: Schema.Literal("typing:start", "typing:stop", "conversation:read")
})

export const ControlTarget = Schema.Struct({ switchboardIntegration: NonEmptyString, metadata: exact(MetadataField) })
export const ControlMetadata = Schema.Struct({ metadata: exact(MetadataField) })

// ---- sandbox bodies ----

export const AgentBody = Schema.Struct({ displayName: exact(NonEmptyString), avatarUrl: exact(HttpUrl) })
export const SayBody = Schema.Struct({
  text: exact(Schema.String),
  attachments: exact(Schema.Array(AgentAttachment)),
  displayName: exact(NonEmptyString),
  avatarUrl: exact(HttpUrl)
})
export const TypingBody = Schema.Struct({ start: exact(Schema.Boolean), withoutAuthor: exact(Schema.Boolean) })
export const FailBody = Schema.Struct({
  n: Schema.NonNegativeInt,
  status: Schema.Literal(429, 500, 503),
  retryAfterSeconds: exact(Schema.NonNegativeInt)
})
export const DropBody = Schema.Struct({ n: Schema.NonNegativeInt, type: exact(NonEmptyString) })
export const CountBody = Schema.Struct({ n: Schema.NonNegativeInt })
export const TargetBody = Schema.Struct({ url: exact(HttpUrl) })

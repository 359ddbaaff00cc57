/**
 * The one place where domain errors meet HTTP: each error's status, and its wire body
 * `{ "error": "<Tag>", "message": "...", ...details }` (docs/CONTRACTS.md#upstream-api).
 */
import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"
import { STATUS_CODES } from "node:http"
import { cut, issuesInline, MAX_QUOTED, pathText } from "../domain/schemaIssues.js"
import * as Errors from "../services/errors.js"

type ErrorClass = Schema.Schema.AnyNoContext & {
  readonly _tag: string
  readonly fields: Schema.Struct.Fields
}

/**
 * The error class, encoded with `error` in place of `_tag`, answered with `status`. `narrowed`
 * fields answer only the errors whose fields they hold, named `identifier` in the OpenAPI
 * document: one error answered with a status per reason (the others fail to encode here, and
 * the next schema of the error answers them).
 */
const wire = <C extends ErrorClass>(
  errorClass: C,
  status: number,
  narrowed: Schema.Struct.Fields = {},
  identifier: string = errorClass._tag
): Schema.Schema<Schema.Schema.Type<C>, { readonly error: C["_tag"]; readonly message: string }> => {
  const { _tag: _, ...details } = errorClass.fields
  const body = Schema.Struct({ error: Schema.Literal(errorClass._tag), ...details, ...narrowed })
  return Schema.transform(body, errorClass, {
    strict: false,
    decode: ({ error, ...rest }) => ({ _tag: error, ...rest }),
    encode: ({ _tag, ...rest }) => ({ error: _tag, ...rest })
  }).annotations({ ...HttpApiSchema.annotations({ status }), identifier }) as never
}

export const TenantNotFound = wire(Errors.TenantNotFound, 404)
export const SessionNotFound = wire(Errors.SessionNotFound, 404)
export const UnknownProvider = wire(Errors.UnknownProvider, 404)
export const DeadLetterNotFound = wire(Errors.DeadLetterNotFound, 404)
export const LivechatNotConfigured = wire(Errors.LivechatNotConfigured, 422)
export const LivechatUnavailable = wire(Errors.LivechatUnavailable, 409, {
  reason: Schema.Literal("outside-business-hours", "no-agents")
})
/** The provider's breaker is open: 503, a moment's refusal (the same `LivechatUnavailable` body). */
export const ProviderUnreachable = wire(
  Errors.LivechatUnavailable,
  503,
  { reason: Schema.Literal("provider-unreachable") },
  "ProviderUnreachable"
)
export const SessionOpenElsewhere = wire(Errors.SessionOpenElsewhere, 409)
export const SessionEnded = wire(Errors.SessionEnded, 409)
export const MessageInFlight = wire(Errors.MessageInFlight, 503)
export const MessageIdReused = wire(Errors.MessageIdReused, 409)
export const InvalidTransition = wire(Errors.InvalidTransition, 409)
export const BadRequest = wire(Errors.BadRequest, 400)
export const MalformedWebhook = wire(Errors.MalformedWebhook, 400)
export const PayloadTooLarge = wire(Errors.PayloadTooLarge, 413)
export const Unauthorized = wire(Errors.Unauthorized, 401)
export const InvalidSignature = wire(Errors.InvalidSignature, 401)
export const Forbidden = wire(Errors.Forbidden, 403)
export const ProviderError = wire(Errors.ProviderError, 502)
export const UpstreamUnavailable = wire(Errors.UpstreamUnavailable, 503)
export const StoreUnavailable = wire(Errors.StoreUnavailable, 503)

/** An error server.ts answers before any handler, in the same body shape. */
const routeError = <Tag extends string>(tag: Tag, status: number) =>
  Schema.Struct({ error: Schema.Literal(tag), message: Schema.String }).annotations({
    ...HttpApiSchema.annotations({ status }),
    identifier: tag
  })

/** A body of another media type than the route reads: declared on the routes that read JSON. */
export const UnsupportedMediaType = routeError("UnsupportedMediaType", 415)

/** No route has the path: the OpenAPI document's `components.responses` (openapi.ts), as no operation has it. */
export const NotFound = routeError("NotFound", 404)

/** A route has the path, not for this method: `components.responses` too, with its Allow header. */
export const MethodNotAllowed = routeError("MethodNotAllowed", 405)

/** Errors raised outside any handler (router, body parsing, limits), in the same body shape. */
export const errorBody = (error: string, message: string, details?: Record<string, unknown>) => ({
  error,
  message,
  ...details
})

export const MAX_BODY_BYTES = 1024 * 1024

export const tooLargeBody = errorBody("PayloadTooLarge", `the request body exceeds ${MAX_BODY_BYTES} bytes (1 MiB)`)

/** A body that could not be read or parsed as JSON: a BadRequest naming no field. */
export const unreadableBody = (reason: string) =>
  errorBody("BadRequest", `the request body could not be read: ${cut(reason, 4 * MAX_QUOTED)}`, { fields: [] })

/** The 415 body: the type the route reads, and the one sent (cut: it is the sender's text). */
export const unsupportedMediaTypeBody = (sent: string) =>
  errorBody(
    "UnsupportedMediaType",
    `the request body must be sent as content-type application/json, not ${cut(sent, MAX_QUOTED)}`
  )

/** The 405 body; the Allow header lists `allowed` too. */
export const methodNotAllowedBody = (method: string, url: string, allowed: ReadonlyArray<string>) =>
  errorBody(
    "MethodNotAllowed",
    `${cut(method, MAX_QUOTED)} is not allowed on ${cut(url.split("?")[0] ?? url, MAX_QUOTED)}: it takes ${
      allowed.join(", ")
    }`
  )

export const internalErrorBody = errorBody("InternalError", "the gateway failed to handle the request")

/** A 400 body is at most this many bytes, however many fields are wrong and however long their keys. */
const MAX_DECODE_FAILURE_BYTES = 4096

/** A field's message is cut here, whatever formatted it (a path is cut by pathText). */
const MAX_FIELD_MESSAGE = 256

/** Fields are listed twice (`fields` and `message`): each list gets under half of the body. */
const FIELDS_BUDGET = (MAX_DECODE_FAILURE_BYTES - 256) / 2

/**
 * A 400 for a payload, path or query that does not decode: the bad fields by path, and one
 * message naming them; as many as fit in MAX_DECODE_FAILURE_BYTES, then how many more.
 */
export const decodeFailureBody = (
  issues: ReadonlyArray<{ readonly path: ReadonlyArray<PropertyKey>; readonly message: string }>
) => {
  const kept: Array<{ readonly path: ReadonlyArray<PropertyKey>; readonly message: string }> = []
  let used = 0
  for (const { message, path } of issues) {
    const issue = { path, message: cut(message, MAX_FIELD_MESSAGE) }
    used += Buffer.byteLength(JSON.stringify({ path: pathText(path), message: issue.message })) + 1
    if (used > FIELDS_BUDGET) break
    kept.push(issue)
  }
  const more = issues.length - kept.length
  const message = (issuesInline(kept) || "the request is invalid") + (more > 0 ? `; and ${more} more` : "")
  return errorBody("BadRequest", message, {
    fields: kept.map(({ message, path }) => ({ path: pathText(path), message }))
  })
}

/** An error header's value is at most this many characters. */
const MAX_ERROR_HEADER = 256

const percentEncoded = (char: string) =>
  Array.from(Buffer.from(char, "utf8"), (byte) => `%${byte.toString(16).toUpperCase().padStart(2, "0")}`).join("")

/**
 * `text` as a header value: printable ASCII as it is, anything else (and `%`) as percent-encoded
 * UTF-8 (decodeURIComponent reads it back), cut with "..." to MAX_ERROR_HEADER characters.
 */
export const headerText = (text: string) => {
  const pieces = Array.from(text, (char) => (char >= " " && char <= "~" && char !== "%" ? char : percentEncoded(char)))
  let value = pieces.join("")
  if (value.length <= MAX_ERROR_HEADER) return value
  value = ""
  for (const piece of pieces) {
    if (value.length + piece.length > MAX_ERROR_HEADER - 3) break
    value += piece
  }
  return `${value}...`
}

/**
 * What an error answer to HEAD, whose body is dropped, says in headers: `X-Error`, the body's
 * error code (the status's reason phrase where the body has none), and `X-Error-Message`.
 */
export const errorHeaders = (status: number, body: unknown): Record<string, string> => {
  const { error, message } = (typeof body === "object" && body !== null ? body : {}) as {
    readonly error?: unknown
    readonly message?: unknown
  }
  const code = typeof error === "string" ? error : (STATUS_CODES[status] ?? "Error").replace(/[^A-Za-z]/g, "")
  return {
    "x-error": headerText(code),
    ...(typeof message === "string" ? { "x-error-message": headerText(message) } : {})
  }
}

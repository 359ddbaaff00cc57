/**
 * The one place where domain errors meet HTTP: each error's status, and its wire body
 * `{ "error": "<Tag>", "message": "...", ...details }` (docs/CONTRACTS.md#upstream-api).
 */
import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"
import { cut, issuesInline, MAX_QUOTED, pathText } from "../domain/schemaIssues.js"
import * as Errors from "../services/errors.js"

type ErrorClass = Schema.Schema.AnyNoContext & {
  readonly _tag: string
  readonly fields: Schema.Struct.Fields
}

/** The error class, encoded with `error` in place of `_tag`, answered with `status`. */
const wire = <C extends ErrorClass>(
  errorClass: C,
  status: number
): Schema.Schema<Schema.Schema.Type<C>, { readonly error: C["_tag"]; readonly message: string }> => {
  const { _tag: _, ...details } = errorClass.fields
  const body = Schema.Struct({ error: Schema.Literal(errorClass._tag), ...details })
  return Schema.transform(body, errorClass, {
    strict: false,
    decode: ({ error, ...rest }) => ({ _tag: error, ...rest }),
    encode: ({ _tag, ...rest }) => ({ error: _tag, ...rest })
  }).annotations({ ...HttpApiSchema.annotations({ status }), identifier: errorClass._tag }) as never
}

export const TenantNotFound = wire(Errors.TenantNotFound, 404)
export const SessionNotFound = wire(Errors.SessionNotFound, 404)
export const UnknownProvider = wire(Errors.UnknownProvider, 404)
export const DeadLetterNotFound = wire(Errors.DeadLetterNotFound, 404)
export const LivechatNotConfigured = wire(Errors.LivechatNotConfigured, 422)
export const LivechatUnavailable = wire(Errors.LivechatUnavailable, 409)
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

/** Errors raised outside any handler (router, body parsing, limits), in the same body shape. */
export const errorBody = (error: string, message: string, details?: Record<string, unknown>) => ({
  error,
  message,
  ...details
})

export const MAX_BODY_BYTES = 1024 * 1024

export const tooLargeBody = errorBody("PayloadTooLarge", `the request body exceeds ${MAX_BODY_BYTES} bytes (1 MiB)`)

/** A body that could not be read or parsed as JSON. */
export const unreadableBody = (reason: string) =>
  errorBody("BadRequest", `the request body could not be read: ${cut(reason, 4 * MAX_QUOTED)}`)

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

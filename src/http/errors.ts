/**
 * The one place where domain errors meet HTTP: each error's status, and its wire body
 * `{ "error": "<Tag>", "message": "...", ...details }` (CONTRACTS.md section 1).
 */
import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"
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
export const unreadableBody = (reason: string) => errorBody("BadRequest", `the request body could not be read: ${reason}`)

export const internalErrorBody = errorBody("InternalError", "the gateway failed to handle the request")

/** A 400 for a payload, path or query that does not decode: every bad field by path, and one message naming them. */
export const decodeFailureBody = (
  issues: ReadonlyArray<{ readonly path: ReadonlyArray<PropertyKey>; readonly message: string }>,
  fallback: string
) => {
  const fields = issues.map((i) => ({ path: i.path.join("."), message: i.message }))
  const where = fields.map((f) => (f.path.length > 0 ? `${f.path}: ${f.message}` : f.message)).join("; ")
  return errorBody("BadRequest", where || fallback, { fields })
}

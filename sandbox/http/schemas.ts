/**
 * Schemas shared by the simulators, written from docs/CONTRACTS.md and docs/PROVIDERS.md, not
 * imported from the gateway, so that the simulators check the gateway instead of agreeing with
 * it by construction.
 */
import { Schema } from "effect"

/** An optional field that, when present, must be valid (no `undefined` branch to muddy the error). */
export const exact = <A, I>(schema: Schema.Schema<A, I, never>) => Schema.optionalWith(schema, { exact: true })

/** A closed set of strings, rejected with one readable message rather than one per member. */
export const oneOf = <const L extends ReadonlyArray<string>>(...values: L) =>
  Schema.Literal(...values).annotations({
    message: () => ({ message: `must be one of ${values.join(", ")}`, override: true })
  })

export const NonEmptyString = Schema.String.pipe(Schema.minLength(1, { message: () => "must not be empty" }))

const isoDateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/
export const IsoDateTime = Schema.String.pipe(
  Schema.filter((s) => isoDateTime.test(s) && !Number.isNaN(Date.parse(s)), {
    message: () => "must be an ISO-8601 date-time such as 2026-01-31T12:00:00.000Z"
  })
)

export const HttpUrl = Schema.String.pipe(
  Schema.filter(
    (s) => {
      try {
        const url = new URL(s)
        return url.protocol === "http:" || url.protocol === "https:"
      } catch {
        return false
      }
    },
    { message: () => "must be an absolute http(s) URL" }
  )
)

/** docs/CONTRACTS.md#upstream-api `Attachment`. */
export const Attachment = Schema.Struct({
  url: NonEmptyString,
  contentType: NonEmptyString,
  name: Schema.optional(Schema.String),
  size: Schema.optional(Schema.NonNegativeInt)
})

export const Metadata = Schema.Record({
  key: Schema.String,
  value: Schema.Union(Schema.String, Schema.Number, Schema.Boolean)
})

export const EventType = Schema.Literal(
  "request.queued",
  "agent.joined",
  "agent.message",
  "agent.typing",
  "agent.left",
  "session.ended",
  "request.failed",
  "agent.read",
  "request.wait-warning",
  "session.inactivity-warning"
)

export const JsonObject = Schema.Record({ key: Schema.String, value: Schema.Unknown })

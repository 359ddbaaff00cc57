/** CCP's request bodies (docs/PROVIDERS.md#cisco-ccp-chat), and the bodies of the sandbox routes. */
import { Schema } from "effect"
import { exact } from "../http/schemas.js"

const Required = Schema.String.pipe(
  Schema.filter((s) => s.trim() !== "", { message: () => "is required (must not be empty)" })
)

/** `<extensionFields/>` and `<extensionField/>` parse as "" (or whitespace): treat them as empty elements. */
const emptyAsObject = Schema.transform(Schema.Unknown, Schema.Unknown, {
  strict: true,
  decode: (v) => (typeof v === "string" && v.trim() === "" ? {} : v),
  encode: (v) => v
})

const ExtensionField = Schema.compose(emptyAsObject, Schema.Struct({ name: Required, value: Schema.String }), {
  strict: false
})

export const SocialContact = Schema.Struct({
  feedRefURL: Required,
  author: Required,
  title: Required,
  extensionFields: exact(
    Schema.compose(emptyAsObject, Schema.Struct({ extensionField: exact(Schema.Array(ExtensionField)) }), {
      strict: false
    })
  )
})

export const MessageBody = Schema.Struct({
  body: Schema.String.pipe(Schema.filter((s) => s !== "", { message: () => "is required (must not be empty)" }))
})

const TypingStatus = Schema.Literal("composing", "paused").annotations({
  message: () => ({ message: "must be composing or paused", override: true })
})

export const TypingBody = Schema.Struct({ from: exact(Schema.String), status: TypingStatus })

// ---- sandbox bodies ----
export const JoinBody = Schema.Struct({ agentName: exact(Schema.String.pipe(Schema.minLength(1))) })
export const SayBody = Schema.Struct({ text: Schema.String.pipe(Schema.minLength(1)) })
export const SimTypingBody = Schema.Struct({ status: Schema.Literal("composing", "paused") })
export const StatusBody = Schema.Struct({
  status: Schema.String.pipe(Schema.minLength(1)),
  detail: exact(Schema.String)
})
export const FailBody = Schema.Struct({ n: Schema.NonNegativeInt, status: Schema.Literal(500, 503) })
export const GarbleBody = Schema.Struct({ n: Schema.NonNegativeInt })

/**
 * The one reading of request bodies, for every simulator: the bytes, JSON (labelled so on the
 * services' routes; whatever the label on a sandbox route, as curl -d labels it a form), then
 * a schema; each step refused in the service's own words.
 */
import { HttpServerRequest } from "@effect/platform"
import { Effect, Either, Schema } from "effect"
import { plainRefusals, type Refusals, refuse, Reject } from "./answers.js"

/** The exact bytes of the request body: 400 when they cannot be read. */
export const readBody = (
  refusals: Pick<Refusals, "refuse">
): Effect.Effect<Uint8Array, Reject, HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (req) =>
    req.arrayBuffer.pipe(
      Effect.map((buffer) => new Uint8Array(buffer)),
      Effect.catchAll(() => refuse(refusals, 400, "the request body could not be read"))
    ))

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** The bytes as JSON: 400 when they are not (nor UTF-8). */
const parseJson = (refusals: Refusals, raw: Uint8Array): Effect.Effect<unknown, Reject> =>
  Effect.try({
    try: () => JSON.parse(utf8.decode(raw)) as unknown,
    catch: (e) => (e instanceof Error ? e.message : String(e))
  }).pipe(
    Effect.catchAll((why) => refuse(refusals, 400, `the body is not valid JSON: ${why}`))
  )

/** Decodes a parsed value (every issue, unknown fields ignored): the refusal names every bad field. */
export const decode = <A, I>(
  refusals: Refusals,
  schema: Schema.Schema<A, I, never>,
  value: unknown
): Effect.Effect<A, Reject> =>
  Either.match(Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "ignore" })(value), {
    onRight: Effect.succeed,
    onLeft: (error) => Effect.fail(new Reject({ response: refusals.invalid(error) }))
  })

/**
 * Bytes that must say they are JSON (`Content-Type: application/json`, parameters allowed),
 * parsed: refused with `notJsonStatus` (415 by default) when they do not, 400 when they are not JSON.
 */
export const jsonValue = (
  refusals: Refusals,
  raw: Uint8Array,
  notJsonStatus = 415
): Effect.Effect<unknown, Reject, HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (req) => {
    const type = (req.headers["content-type"] ?? "").trim()
    return /^application\/json\b/i.test(type)
      ? parseJson(refusals, raw)
      : refuse(refusals, notJsonStatus, `Content-Type must be application/json (got ${type === "" ? "none" : type})`)
  })

export interface JsonBodyRules {
  /** 413 beyond this many bytes, checked before anything else in the body. */
  readonly maxBytes?: number
  /** An empty body reads as `{}`, whatever its Content-Type. */
  readonly emptyIsObject?: boolean
  /** The status refusing a body not labelled JSON (default 415). */
  readonly notJsonStatus?: number
}

/** A service's JSON body: the bytes, the `rules`, JSON labelled so, then the schema. */
export const jsonBody = <A, I>(
  refusals: Refusals,
  schema: Schema.Schema<A, I, never>,
  rules: JsonBodyRules = {}
): Effect.Effect<A, Reject, HttpServerRequest.HttpServerRequest> =>
  Effect.gen(function*() {
    const raw = yield* readBody(refusals)
    if (rules.maxBytes !== undefined && raw.length > rules.maxBytes) {
      return yield* refuse(
        refusals,
        413,
        `request entity too large: ${raw.length} bytes (the limit is ${rules.maxBytes} bytes)`
      )
    }
    if (raw.length === 0 && rules.emptyIsObject === true) return yield* decode(refusals, schema, {})
    return yield* decode(refusals, schema, yield* jsonValue(refusals, raw, rules.notJsonStatus))
  })

/** A sandbox route's body, for curl: JSON whatever its Content-Type (curl -d labels it a form); empty = `{}`. */
export const curlBody = <A, I>(
  schema: Schema.Schema<A, I, never>,
  refusals: Refusals = plainRefusals
): Effect.Effect<A, Reject, HttpServerRequest.HttpServerRequest> =>
  Effect.gen(function*() {
    const raw = yield* readBody(refusals)
    return yield* decode(refusals, schema, raw.length === 0 ? {} : yield* parseJson(refusals, raw))
  })

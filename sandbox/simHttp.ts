/**
 * Shared plumbing of the platform-service simulators (hbf-core, hbf-lcm, hbf-bot,
 * hbf-event-publisher): a scoped loopback HTTP server, JSON error answers in the
 * `{ error, message, ...details }` shape, bearer checks, strict JSON body decoding that
 * names the offending field, HMAC signing and "fail the next n requests" scripts.
 */
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import type { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Cause, Data, Effect, Either, ParseResult, Schema } from "effect"
import type { Scope } from "effect"
import { createHmac, timingSafeEqual } from "node:crypto"
import { createServer } from "node:http"

// ---------------------------------------------------------------------------------------
// Early answers

/** Short-circuits a handler with a ready response (a rejection, a simulated failure). */
export class Reject extends Data.TaggedError("Reject")<{ readonly response: HttpServerResponse.HttpServerResponse }> {}

export const json = (status: number, body: unknown, headers?: Record<string, string>): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(body, { status, ...(headers !== undefined ? { headers } : {}) })

export const errorBody = (error: string, message: string, details?: Record<string, unknown>) => ({
  error,
  message,
  ...details
})

export const reject = (
  status: number,
  error: string,
  message: string,
  details?: Record<string, unknown>,
  headers?: Record<string, string>
): Effect.Effect<never, Reject> => Effect.fail(new Reject({ response: json(status, errorBody(error, message, details), headers) }))

export const noContent: HttpServerResponse.HttpServerResponse = HttpServerResponse.empty({ status: 204 })

/** Turns a handler that may `Reject` into a plain route handler. */
export const handle = <R>(
  effect: Effect.Effect<HttpServerResponse.HttpServerResponse, Reject, R>
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R> =>
  Effect.catchTag(effect, "Reject", (r) => Effect.succeed(r.response))

// ---------------------------------------------------------------------------------------
// Request helpers

export const request = HttpServerRequest.HttpServerRequest

/** A path parameter (already percent-decoded by the router). */
export const param = (name: string): Effect.Effect<string, Reject, HttpRouter.RouteContext> =>
  Effect.flatMap(HttpRouter.params, (params) => {
    const value = params[name]
    return value === undefined || value === "" ? reject(404, "NotFound", `missing path parameter ${name}`) : Effect.succeed(value)
  })

/** The query string of the current request. */
export const searchParams: Effect.Effect<URLSearchParams, never, HttpServerRequest.HttpServerRequest> = Effect.map(
  request,
  (req) => new URL(req.url, "http://sim.invalid").searchParams
)

/** The exact bytes of the request body. */
export const rawBody: Effect.Effect<Uint8Array, Reject, HttpServerRequest.HttpServerRequest> = Effect.flatMap(request, (req) =>
  req.arrayBuffer.pipe(
    Effect.map((buffer) => new Uint8Array(buffer)),
    Effect.catchAll(() => reject(400, "BadRequest", "the request body could not be read"))
  )
)

/** `Authorization: Bearer <token>` must match exactly: 401 otherwise. */
export const requireBearer = (token: string): Effect.Effect<void, Reject, HttpServerRequest.HttpServerRequest> =>
  Effect.flatMap(request, (req) => {
    const header = req.headers["authorization"]
    if (header === undefined || header === "") return reject(401, "Unauthorized", "missing Authorization header")
    const match = /^Bearer\s+(.+)$/i.exec(header.trim())
    if (match === null) return reject(401, "Unauthorized", "the Authorization header is not a Bearer token")
    if (!safeEqual(match[1]!, token)) return reject(401, "Unauthorized", "invalid bearer token")
    return Effect.void
  })

/** JSON bodies must say so: 415 otherwise (a body-parsing service would not read them). */
export const requireJsonContentType: Effect.Effect<void, Reject, HttpServerRequest.HttpServerRequest> = Effect.flatMap(
  request,
  (req) => {
    const type = req.headers["content-type"] ?? ""
    return /^application\/([\w.+-]+\+)?json\b/i.test(type.trim())
      ? Effect.void
      : reject(415, "UnsupportedMediaType", `Content-Type must be application/json (got ${type === "" ? "none" : JSON.stringify(type)})`)
  }
)

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** Parses the raw body as JSON: 400 when it is not. An empty body parses as `emptyAs` when given. */
export const parseJson = (raw: Uint8Array, emptyAs?: unknown): Effect.Effect<unknown, Reject> =>
  Effect.suspend(() => {
    if (raw.length === 0 && emptyAs !== undefined) return Effect.succeed(emptyAs)
    try {
      return Effect.succeed(JSON.parse(utf8.decode(raw)) as unknown)
    } catch (e) {
      return reject(400, "BadRequest", `the body is not valid JSON: ${e instanceof Error ? e.message : String(e)}`)
    }
  })

export interface FieldIssue {
  readonly path: string
  readonly message: string
}

export const fieldIssues = (error: ParseResult.ParseError): ReadonlyArray<FieldIssue> =>
  ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) =>
    issue.path.length === 0
      ? { path: "(body)", message: issue._tag === "Type" ? "must be a JSON object" : issue.message }
      : { path: issue.path.map(String).join("."), message: issue.message }
  )

/** Decodes an already-parsed value: 400 `{ error: "BadRequest", message: "<field>: <what>", fields }`. */
export const decodeValue = <A, I>(schema: Schema.Schema<A, I, never>, value: unknown): Effect.Effect<A, Reject> =>
  Either.match(Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "ignore" })(value), {
    onRight: Effect.succeed,
    onLeft: (error) => {
      const fields = fieldIssues(error)
      return reject(400, "BadRequest", fields.map((f) => `${f.path}: ${f.message}`).join("; "), { fields })
    }
  })

/** Raw bytes -> JSON -> schema, with the rejections above. */
export const decodeBody = <A, I>(schema: Schema.Schema<A, I, never>, raw: Uint8Array): Effect.Effect<A, Reject> =>
  Effect.flatMap(parseJson(raw), (value) => decodeValue(schema, value))

// ---------------------------------------------------------------------------------------
// Schemas shared by the simulators (written from CONTRACTS.md, not imported from the gateway,
// so the simulators check the gateway instead of agreeing with it by construction)

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

/** CONTRACTS.md section 1 `Attachment`. */
export const Attachment = Schema.Struct({
  url: NonEmptyString,
  contentType: NonEmptyString,
  name: Schema.optional(Schema.String),
  size: Schema.optional(Schema.NonNegativeInt)
})

export const TranscriptEntry = Schema.Struct({
  author: Schema.Literal("user", "bot", "agent"),
  text: Schema.String,
  at: IsoDateTime
})

export const Metadata = Schema.Record({ key: Schema.String, value: Schema.Union(Schema.String, Schema.Number, Schema.Boolean) })

export const EventType = Schema.Literal(
  "request.queued",
  "agent.joined",
  "agent.message",
  "agent.typing",
  "agent.left",
  "session.ended",
  "request.failed"
)

export const JsonObject = Schema.Record({ key: Schema.String, value: Schema.Unknown })

// ---------------------------------------------------------------------------------------
// Signatures

export const hmacHex = (secret: string, body: Uint8Array | string): string =>
  createHmac("sha256", secret).update(body).digest("hex")

export const safeEqual = (a: string, b: string): boolean => {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

// ---------------------------------------------------------------------------------------
// Scripted failures

export interface FailureScript {
  /** The next `n` requests answer `status` (with `Retry-After` when given). */
  readonly failNext: (n: number, status: number, retryAfterSeconds?: number) => void
  /** The scripted answer for this request, if one is due (consumes it). */
  readonly take: () => Effect.Effect<void, Reject>
}

export const makeFailureScript = (service: string): FailureScript => {
  let remaining = 0
  let status = 500
  let retryAfter: number | undefined
  return {
    failNext: (n, s, retryAfterSeconds) => {
      remaining = Math.max(0, Math.floor(n))
      status = s
      retryAfter = retryAfterSeconds
    },
    take: () =>
      Effect.suspend(() => {
        if (remaining <= 0) return Effect.void
        remaining -= 1
        return reject(
          status,
          "SimulatedFailure",
          `${service} simulator: scripted ${status} (failNext)`,
          undefined,
          retryAfter !== undefined ? { "retry-after": String(retryAfter) } : undefined
        )
      })
  }
}

// ---------------------------------------------------------------------------------------
// Serving

/** Unknown routes answer 404 JSON; a defect answers 500 JSON instead of an empty body. */
const withJsonFallbacks = <E, R>(router: HttpRouter.HttpRouter<E, R>) =>
  Effect.catchAllCause(router, (cause) => {
    const error = Cause.squash(cause)
    if (typeof error === "object" && error !== null && "_tag" in error && error._tag === "RouteNotFound")
      return Effect.succeed(json(404, errorBody("NotFound", "no such route")))
    return Effect.as(
      Effect.logWarning("simulator handler failed", cause),
      json(500, errorBody("InternalError", Cause.pretty(cause).split("\n")[0] ?? "internal error"))
    )
  })

/**
 * Serves `router` on 127.0.0.1 at a free port until the Scope closes; returns the base URL
 * (`http://127.0.0.1:<port>`, no trailing slash).
 */
export const serveRouter = <E>(router: HttpRouter.HttpRouter<E, never>): Effect.Effect<string, never, Scope.Scope> =>
  Effect.gen(function* () {
    const server = yield* NodeHttpServer.make(() => createServer(), { port: 0, host: "127.0.0.1" }).pipe(Effect.orDie)
    yield* server.serve(withJsonFallbacks(router))
    const address = server.address as HttpServer.TcpAddress
    return `http://127.0.0.1:${address.port}`
  })

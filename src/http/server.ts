/**
 * Serving the HttpApi: body limits (413), JSON error bodies for what fails outside the
 * handlers (400 decode errors naming the field, 404 unknown routes), OpenAPI and /docs.
 */
import {
  FileSystem,
  HttpApiBuilder,
  HttpApiError,
  HttpApiSwagger,
  HttpMiddleware,
  HttpServerError,
  HttpServerRequest,
  HttpServerResponse
} from "@effect/platform"
import { Cause, Effect, Layer, Option } from "effect"
import { cut, MAX_QUOTED } from "../domain/schemaIssues.js"
import { LcgApi } from "./api.js"
import {
  decodeFailureBody,
  errorBody,
  internalErrorBody,
  MAX_BODY_BYTES,
  tooLargeBody,
  unreadableBody
} from "./errors.js"
import { AdminLive, DownstreamLive, OpsLive, UpstreamLive } from "./handlers.js"
import { requestMetrics } from "./requestMetrics.js"

const json = (status: number, body: unknown) => HttpServerResponse.unsafeJson(body, { status })

const tooLarge = () => json(413, tooLargeBody)

/** Maps what the router and decoders raise to the contract's error bodies; never a bare 500 for bad input. */
const ErrorBodies = HttpApiBuilder.middleware((app) =>
  Effect.catchAllCause(app, (cause) => {
    const error = Cause.squash(cause)
    if (error instanceof HttpApiError.HttpApiDecodeError) {
      return Effect.succeed(json(400, decodeFailureBody(error.issues)))
    }
    if (error instanceof HttpServerError.RouteNotFound) {
      return Effect.succeed(
        json(404, errorBody("NotFound", `no route for ${error.request.method} ${cut(error.request.url, MAX_QUOTED)}`))
      )
    }
    if (error instanceof HttpServerError.RequestError) {
      const message = String((error.cause as Error | undefined)?.message ?? error.message)
      if (/maxBytes|too large/i.test(message)) return Effect.succeed(tooLarge())
      return Effect.succeed(json(400, unreadableBody(message)))
    }
    // Typed failures are the handlers' declared errors: the HttpApi encodes them with their status.
    if (Cause.isInterruptedOnly(cause) || Option.isSome(Cause.failureOption(cause))) return Effect.failCause(cause)
    return Effect.zipRight(
      Effect.logError("unhandled error", cause),
      Effect.succeed(json(500, internalErrorBody))
    )
  })
)

/** Refuses declared oversize bodies before reading them; MaxBodySize below covers chunked ones. */
const BodyLimit = HttpApiBuilder.middleware((app) =>
  Effect.flatMap(
    HttpServerRequest.HttpServerRequest,
    (request) => Number(request.headers["content-length"] ?? 0) > MAX_BODY_BYTES ? Effect.succeed(tooLarge()) : app
  )
)

export const ApiLive = HttpApiBuilder.api(LcgApi).pipe(
  Layer.provide([UpstreamLive, DownstreamLive, OpsLive, AdminLive, ErrorBodies, BodyLimit])
)

/** The HTTP server: needs an `HttpServer` (node on a port, or a web handler in tests). */
export const HttpLive = HttpApiBuilder.serve((app) => requestMetrics(HttpMiddleware.logger(app))).pipe(
  Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
  Layer.provide(ApiLive),
  Layer.provide(Layer.succeed(HttpServerRequest.MaxBodySize, Option.some(FileSystem.Size(MAX_BODY_BYTES))))
)

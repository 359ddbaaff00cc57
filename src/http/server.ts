/**
 * Serving the HttpApi: body limits (413) and media types (415), JSON error bodies for what
 * fails outside the handlers (400 decode errors naming the field, 404 unknown paths, 405 wrong
 * methods), error headers on HEAD answers, OpenAPI and /docs.
 */
import {
  FileSystem,
  HttpApiBuilder,
  HttpApiError,
  HttpApiSwagger,
  HttpApp,
  HttpMiddleware,
  HttpRouter,
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
  errorHeaders,
  internalErrorBody,
  MAX_BODY_BYTES,
  methodNotAllowedBody,
  tooLargeBody,
  unreadableBody,
  unsupportedMediaTypeBody
} from "./errors.js"
import { AdminLive, DownstreamLive, OpsLive, UpstreamLive } from "./handlers.js"
import { isJsonContentType } from "./inputs.js"
import { requestMetrics } from "./requestMetrics.js"
import { allowedMethods, DOCS_PATH, OPENAPI_PATH, readsJson } from "./routes.js"

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
      const { method, url } = error.request
      const allowed = allowedMethods(url)
      if (allowed.length > 0) {
        return Effect.succeed(
          HttpServerResponse.setHeader(
            json(405, methodNotAllowedBody(method, url, allowed)),
            "allow",
            allowed.join(", ")
          )
        )
      }
      return Effect.succeed(json(404, errorBody("NotFound", `no route for ${method} ${cut(url, MAX_QUOTED)}`)))
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

/**
 * Refuses before reading: declared oversize bodies (MaxBodySize below covers chunked ones), and
 * a body of another media type than JSON on a route that reads JSON (HttpApiBuilder would read
 * a form as fields, text as a string, and answer a 400 naming fields that were sent).
 */
const BodyChecks = HttpApiBuilder.middleware((app) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    if (Number(request.headers["content-length"] ?? 0) > MAX_BODY_BYTES) return Effect.succeed(tooLarge())
    const contentType = request.headers["content-type"]
    if (!isJsonContentType(contentType) && readsJson(request.method, request.url)) {
      return Effect.succeed(json(415, unsupportedMediaTypeBody(contentType!)))
    }
    return app
  })
)

/** An error answer to HEAD says its error in headers too: the server drops its body. */
const withErrorHeaders = (response: HttpServerResponse.HttpServerResponse) => {
  let body: unknown = undefined
  if (response.body._tag === "Uint8Array") {
    try {
      body = JSON.parse(new TextDecoder().decode(response.body.body))
    } catch {
      // Not JSON: the status names the error.
    }
  }
  return HttpServerResponse.setHeaders(response, errorHeaders(response.status, body))
}

/**
 * On every answer to HEAD, the router's and the encoded errors' too: a pre-response handler
 * runs just before the answer is written (a middleware's map would come after).
 */
const headErrorHeaders = HttpMiddleware.make((app) =>
  HttpApp.withPreResponseHandler(
    app,
    (request, response) =>
      Effect.succeed(request.method === "HEAD" && response.status >= 400 ? withErrorHeaders(response) : response)
  )
)

export const ApiLive = HttpApiBuilder.api(LcgApi).pipe(
  Layer.provide([UpstreamLive, DownstreamLive, OpsLive, AdminLive, ErrorBodies, BodyChecks])
)

/** The HTTP server: needs an `HttpServer` (node on a port, or a web handler in tests). */
export const HttpLive = HttpApiBuilder.serve((app) => requestMetrics(HttpMiddleware.logger(headErrorHeaders(app))))
  .pipe(
    Layer.provide(HttpApiSwagger.layer({ path: DOCS_PATH })),
    Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: OPENAPI_PATH })),
    Layer.provide(ApiLive),
    // A path parameter of any length reaches its route, whose schema names one too long (400);
    // the router's default (100 characters) answered a longer one 404. Node bounds the URL (16 KiB of headers).
    Layer.provide(HttpRouter.setRouterConfig({ maxParamLength: Number.MAX_SAFE_INTEGER })),
    Layer.provide(Layer.succeed(HttpServerRequest.MaxBodySize, Option.some(FileSystem.Size(MAX_BODY_BYTES))))
  )

/**
 * HTTP request metrics by route template (`/events/:alias`, never the raw path: ids would
 * make a series per session), method and status, with latency.
 */
import { HttpMiddleware, HttpServerRequest } from "@effect/platform"
import { Clock, Effect, Exit } from "effect"
import { recordHttpRequest } from "../infra/metrics.js"
import { templateOf } from "./routes.js"

export const requestMetrics = HttpMiddleware.make((app) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const started = yield* Clock.currentTimeMillis
    return yield* app.pipe(
      Effect.onExit((exit) =>
        Effect.map(Clock.currentTimeMillis, (now) =>
          recordHttpRequest(
            templateOf(request.method, request.url),
            request.method,
            Exit.isSuccess(exit) ? exit.value.status : 500,
            (now - started) / 1000
          ))
      )
    )
  })
)

/**
 * HTTP request metrics by route template (`/events/:alias`, never the raw path: ids would
 * make a series per session), method and status, with latency.
 */
import { HttpApi, HttpMiddleware, HttpServerRequest } from "@effect/platform"
import { Clock, Effect, Exit } from "effect"
import { recordHttpRequest } from "../infra/metrics.js"
import { LcgApi } from "./api.js"

/**
 * A path's parameters if it matches the route template (`/events/:alias`), else undefined.
 * A parameter matches one non-empty segment.
 */
export const pathMatcher = (template: string) => {
  const segments = template.split("/")
  return (path: string): Record<string, string> | undefined => {
    const parts = path.split("/")
    if (parts.length !== segments.length) return undefined
    const params: Record<string, string> = {}
    for (let i = 0; i < parts.length; i++) {
      const segment = segments[i]!
      if (segment.startsWith(":")) {
        if (parts[i] === "") return undefined
        try {
          params[segment.slice(1)] = decodeURIComponent(parts[i]!)
        } catch {
          // A malformed %-escape: not this route (the HttpApi server answers it).
          return undefined
        }
      } else if (segment !== parts[i]) return undefined
    }
    return params
  }
}

const routes: Array<
  { readonly method: string; readonly matches: (path: string) => unknown; readonly template: string }
> = []
HttpApi.reflect(LcgApi, {
  onGroup: () => {},
  onEndpoint: ({ endpoint }) => {
    routes.push({ method: endpoint.method, matches: pathMatcher(endpoint.path), template: endpoint.path })
  }
})

/** The route template a request matched; the served docs by their prefix; anything else "unmatched". */
export const routeOf = (method: string, url: string): string => {
  const path = url.split("?")[0] ?? url
  const route = routes.find((r) => r.method === method && r.matches(path) !== undefined)
  if (route !== undefined) return route.template
  if (path === "/openapi.json") return path
  if (path === "/docs" || path.startsWith("/docs/")) return "/docs"
  return "unmatched"
}

export const requestMetrics = HttpMiddleware.make((app) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const started = yield* Clock.currentTimeMillis
    return yield* app.pipe(
      Effect.onExit((exit) =>
        Effect.map(Clock.currentTimeMillis, (now) =>
          recordHttpRequest(
            routeOf(request.method, request.url),
            request.method,
            Exit.isSuccess(exit) ? exit.value.status : 500,
            (now - started) / 1000
          ))
      )
    )
  })
)

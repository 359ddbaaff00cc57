/** What the simulators read of a request besides its body: path parameters, the query, a bearer token. */
import { HttpRouter, HttpServerRequest } from "@effect/platform"
import { Effect } from "effect"
import { type Reject, reject } from "./answers.js"
import { safeEqual } from "./signatures.js"

export const request = HttpServerRequest.HttpServerRequest

/** A path parameter (already percent-decoded by the router). */
export const param = (name: string): Effect.Effect<string, Reject, HttpRouter.RouteContext> =>
  Effect.flatMap(HttpRouter.params, (params) => {
    const value = params[name]
    return value === undefined || value === ""
      ? reject(404, "NotFound", `missing path parameter ${name}`)
      : Effect.succeed(value)
  })

/** The query string of the current request. */
export const searchParams: Effect.Effect<URLSearchParams, never, HttpServerRequest.HttpServerRequest> = Effect.map(
  request,
  (req) => new URL(req.url, "http://sim.invalid").searchParams
)

/** The path and the query string (without `?`, "" when none) of a request URL, as sent. */
export const pathAndQuery = (url: string): { readonly path: string; readonly query: string } => {
  const q = url.indexOf("?")
  return q < 0 ? { path: url, query: "" } : { path: url.slice(0, q), query: url.slice(q + 1) }
}

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

/**
 * Serving a simulator: a node:http server on loopback at a free port, its unknown routes and
 * defects answered in the service's own words, and every request it answered recorded with
 * its status when the simulator keeps a log.
 */
import type { HttpApp } from "@effect/platform"
import { HttpServerRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Cause, Effect } from "effect"
import type { Scope } from "effect"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { plainRefusals, type Refusals } from "./answers.js"
import { pathAndQuery } from "./requests.js"

export interface Loopback {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly url: string
  readonly server: Server
}

/** A node:http server (no handler yet: a simulator's routes may need its URL first); every connection is cut when the Scope closes. */
export const listen: Effect.Effect<Loopback, never, Scope.Scope> = Effect.acquireRelease(
  Effect.async<Loopback>((resume) => {
    const server = createServer()
    server.listen(
      0,
      "127.0.0.1",
      () => resume(Effect.succeed({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }))
    )
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

/** A request as a simulator's log shows it: method, path and query (as sent) and the status answered. */
export interface AnsweredRequest {
  readonly method: string
  readonly path: string
  readonly query: string
  readonly status: number
}

export interface ServeOptions {
  /** Names the simulator in the log line of a defect. */
  readonly name: string
  /** How unknown routes and defects are refused. */
  readonly refusals: Pick<Refusals, "refuse">
  /** Called for every request answered (after the fallbacks: unknown routes too). */
  readonly record?: (answered: AnsweredRequest, request: HttpServerRequest.HttpServerRequest) => void
}

/** Unknown routes (and methods) answer 404; a defect answers 500 instead of an empty body. */
const withFallbacks = <E, R>(app: HttpApp.Default<E, R>, { name, refusals }: ServeOptions) =>
  Effect.catchAllCause(app, (cause) => {
    const error = Cause.squash(cause)
    if (typeof error === "object" && error !== null && "_tag" in error && error._tag === "RouteNotFound") {
      return Effect.succeed(refusals.refuse(404, "no such route"))
    }
    return Effect.as(
      Effect.logWarning(`${name} handler failed`, cause),
      refusals.refuse(500, Cause.pretty(cause).split("\n")[0] ?? "internal error")
    )
  })

const recorded = <E, R>(app: HttpApp.Default<E, R>, record: NonNullable<ServeOptions["record"]>) =>
  Effect.flatMap(
    HttpServerRequest.HttpServerRequest,
    (req) =>
      Effect.tap(app, (response) =>
        Effect.sync(() =>
          record({ method: req.method, ...pathAndQuery(req.url), status: response.status }, req)
        ))
  )

/** Serves `app` on `loopback`, for as long as the loopback server lives. */
export const serve = <E>(
  loopback: Loopback,
  app: HttpApp.Default<E, never>,
  options: ServeOptions
): Effect.Effect<void> => {
  const answered = withFallbacks(app, options)
  return Effect.map(
    NodeHttpServer.makeHandler(options.record === undefined ? answered : recorded(answered, options.record)),
    (handler) => void loopback.server.on("request", handler)
  )
}

/** An hbf-* simulator's routes served on a loopback port of their own: its base URL. */
export const serveRouter = <E>(
  name: string,
  app: HttpApp.Default<E, never>
): Effect.Effect<string, never, Scope.Scope> =>
  Effect.gen(function*() {
    const loopback = yield* listen
    yield* serve(loopback, app, { name, refusals: plainRefusals })
    return loopback.url
  })

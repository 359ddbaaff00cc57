/**
 * A provider simulator's "unreachable" switch: while on, every call to the provider's API
 * answers 503 with an empty body, as a load balancer with nothing behind it does; the
 * simulator's own routes (`/sim…`, `/sandbox…`) still answer. `POST /sim/unreachable`
 * `{ "unreachable": true|false }` turns it, and answers `{ unreachable, refused }` (listed by
 * every simulator's `GET /sim`, agentActions.ts).
 */
import { type HttpApp, HttpRouter, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Schema } from "effect"
import { handle, json } from "./answers.js"
import { curlBody } from "./body.js"

/** What a simulator's handle offers of the switch. */
export interface UnreachableControls {
  /** Turns the switch: while on, every provider API call answers 503 with an empty body. */
  readonly unreachable: (on: boolean) => Effect.Effect<void>
  /** The provider API calls answered 503 by the switch so far. */
  readonly refusedWhileUnreachable: () => number
}

const simPath = /^\/(?:sim|sandbox)(?:\/|$|\?)/

/** The switch, off; `whenOn` runs each time it is turned on (a simulator dropping its sockets). */
export const makeUnreachableSwitch = (whenOn: Effect.Effect<void> = Effect.void) => {
  let on = false
  let refused = 0
  const turn = (unreachable: boolean) =>
    Effect.suspend(() => {
      on = unreachable
      return on ? whenOn : Effect.void
    })
  const controls: UnreachableControls = {
    unreachable: turn,
    refusedWhileUnreachable: () => refused
  }
  const route = HttpRouter.post(
    "/sim/unreachable",
    handle(
      Effect.gen(function*() {
        const body = yield* curlBody(Schema.Struct({ unreachable: Schema.Boolean }))
        yield* turn(body.unreachable)
        return json(200, { unreachable: on, refused })
      })
    )
  )
  /** `app` behind the switch. */
  const guard = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R | HttpServerRequest.HttpServerRequest> =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      if (!on || simPath.test(request.url)) return app
      refused += 1
      return Effect.succeed(HttpServerResponse.empty({ status: 503 }))
    })
  return { controls, route, guard }
}

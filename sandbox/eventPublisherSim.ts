/**
 * hbf-event-publisher simulator (docs/CONTRACTS.md#hbf-event-publisher).
 *
 *   POST /connectors/flows:trigger   bearer token; body { tenantId, flowId, subHandle, event: { type, sessionId, data } }
 *                                    -> 202 { accepted: true }; 401 / 415 / 400 naming the field.
 *   GET  /sandbox/triggers            the recorded triggers (for curl users)
 */
import { HttpRouter } from "@effect/platform"
import { Effect, Schema } from "effect"
import type { Scope } from "effect"
import { handle, json, plainRefusals } from "./http/answers.js"
import { jsonBody } from "./http/body.js"
import { requireBearer } from "./http/requests.js"
import { EventType, JsonObject, NonEmptyString } from "./http/schemas.js"
import { type FailureScript, makeFailureScript } from "./http/scripts.js"
import { serveRouter } from "./http/serve.js"

export const FlowTrigger = Schema.Struct({
  tenantId: NonEmptyString,
  flowId: NonEmptyString,
  subHandle: NonEmptyString,
  event: Schema.Struct({
    type: EventType,
    sessionId: NonEmptyString,
    data: JsonObject
  })
})
export type FlowTrigger = typeof FlowTrigger.Type

export interface EventPublisherSimOptions {
  readonly token: string
}

export interface EventPublisherSim {
  /** `http://127.0.0.1:<port>` */
  readonly baseUrl: string
  /** Accepted triggers, in arrival order (not de-duplicated). */
  readonly triggers: () => ReadonlyArray<FlowTrigger>
  /** The next `n` requests answer `status` (and `Retry-After` when given), before any check. */
  readonly failNext: FailureScript["failNext"]
}

export const makeEventPublisherSim = (
  options: EventPublisherSimOptions
): Effect.Effect<EventPublisherSim, never, Scope.Scope> =>
  Effect.gen(function*() {
    const triggers: Array<FlowTrigger> = []
    const failures = makeFailureScript("hbf-event-publisher")

    const trigger = handle(
      Effect.gen(function*() {
        yield* failures.take()
        yield* requireBearer(options.token)
        const body = yield* jsonBody(plainRefusals, FlowTrigger)
        triggers.push(body)
        yield* Effect.log(
          `hbf-event-publisher <- flow ${body.flowId} for ${body.event.type} session=${body.event.sessionId}`
        )
        return json(202, { accepted: true })
      })
    )

    const router = HttpRouter.empty.pipe(
      // "::" is find-my-way's escape for a literal ":" (a single ":" would start a path parameter)
      HttpRouter.post("/connectors/flows::trigger", trigger),
      HttpRouter.get("/sandbox/triggers", Effect.sync(() => json(200, triggers)))
    )

    const baseUrl = yield* serveRouter("hbf-event-publisher simulator", router)
    return {
      baseUrl,
      triggers: () => [...triggers],
      failNext: failures.failNext
    }
  })

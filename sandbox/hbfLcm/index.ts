/**
 * hbf-lcm simulator, the platform's own livechat (docs/CONTRACTS.md#hbf-lcm), with a
 * scriptable agent that posts signed webhooks to each request's `extras.callbackUrl`.
 *
 * Service routes (bearer token required):
 *   POST   /livechat-requests                                  204 (idempotent on platformSessionId)
 *   POST   /organizations/{organizationId}/livechat-messages   204; 404 unknown/ended request
 *   DELETE /livechat-requests/{platformSessionId}              204; 404 unknown
 * Sandbox routes (no auth, for curl):
 *   POST /sandbox/agent/{platformSessionId}/join|say|typing|end|transfer|missed
 *        bodies: join {fullName?, id?, image?}; say {text, attachments?: [{url, contentType, name?}]};
 *        typing {on?: boolean = true}
 *        -> 200 { eventId, status, body } (the gateway's answer to the webhook)
 *   POST /sandbox/events/{eventId}/resend                      same, byte-identical repost
 *   GET  /sim                                                  these actions with example bodies (JSON)
 *   POST /sim/unreachable                                      { unreachable }: every service route answers 503, empty
 *   GET  /sandbox/requests                                     the requests
 *   GET  /sandbox/requests/{platformSessionId}/messages        the user messages of one request
 */
import { HttpRouter } from "@effect/platform"
import { Effect } from "effect"
import type { Scope } from "effect"
import { serveRouter } from "../http/serve.js"
import { makeUnreachableSwitch } from "../http/unreachable.js"
import { agentRoutes, makeAgent } from "./agent.js"
import { serviceRoutes } from "./routes.js"
import { makeState, snapshot } from "./state.js"
import type { HbfLcmSim, HbfLcmSimOptions } from "./types.js"
import { makeWebhooks } from "./webhooks.js"

export * from "./types.js"
export * from "./wire.js"

export const makeHbfLcmSim = (options: HbfLcmSimOptions): Effect.Effect<HbfLcmSim, never, Scope.Scope> =>
  Effect.gen(function*() {
    const state = makeState()
    const agent = makeAgent(makeWebhooks(state, options))
    const unreachable = makeUnreachableSwitch()
    const baseUrl = yield* serveRouter(
      "hbf-lcm simulator",
      unreachable.guard(
        HttpRouter.concatAll(serviceRoutes(state, options), agentRoutes(agent), unreachable.route(HttpRouter.empty))
      )
    )
    return {
      baseUrl,
      requests: () => [...state.requests.values()].map(snapshot),
      request: (id) => {
        const request = state.requests.get(id)
        return request === undefined ? undefined : snapshot(request)
      },
      messages: (id) => [...(state.messages.get(id) ?? [])],
      webhooks: () => [...state.webhooks.values()].map((hook) => ({ ...hook, responses: [...hook.responses] })),
      failNext: state.failures.failNext,
      ...unreachable.controls,
      ...agent
    }
  })

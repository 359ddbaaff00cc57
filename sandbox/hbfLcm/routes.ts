/** hbf-lcm's service routes (docs/CONTRACTS.md#hbf-lcm), behind its bearer token, and its sandbox listings. */
import { HttpRouter } from "@effect/platform"
import { Effect } from "effect"
import { handle, json, noContent, plainRefusals, reject } from "../http/answers.js"
import { jsonBody } from "../http/body.js"
import { param, requireBearer } from "../http/requests.js"
import { type LcmState, snapshot } from "./state.js"
import type { HbfLcmSimOptions } from "./types.js"
import { LcmCreateRequest, LcmUserMessage } from "./wire.js"

export const serviceRoutes = ({ requests, messages, failures }: LcmState, options: HbfLcmSimOptions) => {
  const createRequest = handle(
    Effect.gen(function*() {
      yield* failures.take()
      yield* requireBearer(options.token)
      const body = yield* jsonBody(plainRefusals, LcmCreateRequest)
      if (options.webhookSecretFor(body.tenantId) === undefined) {
        return yield* reject(404, "NotFound", `hbf-lcm has no livechat configured for tenant ${body.tenantId}`)
      }
      const existing = requests.get(body.platformSessionId)
      if (existing !== undefined) {
        existing.createCalls += 1
        return noContent
      }
      requests.set(body.platformSessionId, {
        platformSessionId: body.platformSessionId,
        body,
        status: "open",
        createdAt: new Date().toISOString(),
        createCalls: 1
      })
      yield* Effect.log(
        `hbf-lcm <- livechat request ${body.platformSessionId} (tenant ${body.tenantId}, user ${body.platformUserId}); ` +
          `drive the agent with POST /sandbox/agent/${body.platformSessionId}/join|say|typing|end|transfer|missed`
      )
      return noContent
    })
  )

  const postMessage = handle(
    Effect.gen(function*() {
      yield* failures.take()
      yield* requireBearer(options.token)
      const organizationId = yield* param("organizationId")
      const body = yield* jsonBody(plainRefusals, LcmUserMessage)
      const request = requests.get(body.platformSessionId)
      if (request === undefined || request.body.organizationId !== organizationId) {
        return yield* reject(
          404,
          "NotFound",
          `no livechat request ${body.platformSessionId} in organization ${organizationId}`
        )
      }
      if (request.status === "ended") {
        return yield* reject(404, "NotFound", `livechat request ${body.platformSessionId} has ended`)
      }
      if (request.body.platformUserId !== body.platformUserId) {
        return yield* reject(400, "BadRequest", `platformUserId: does not match the request's user`, {
          fields: [{ path: "platformUserId", message: "does not match the request's user" }]
        })
      }
      const list = messages.get(body.platformSessionId) ?? []
      list.push({ organizationId, ...body })
      messages.set(body.platformSessionId, list)
      yield* Effect.log(
        `hbf-lcm <- user message ${body.messageId} on ${body.platformSessionId}: ${body.text ?? "(attachments)"}`
      )
      return noContent
    })
  )

  const deleteRequest = handle(
    Effect.gen(function*() {
      yield* failures.take()
      yield* requireBearer(options.token)
      const id = yield* param("platformSessionId")
      const request = requests.get(id)
      if (request === undefined) return yield* reject(404, "NotFound", `no livechat request ${id}`)
      if (request.status === "open") {
        request.status = "ended"
        request.endedBy = "user"
      }
      return noContent // ending an ended request again is a no-op
    })
  )

  return HttpRouter.empty.pipe(
    HttpRouter.post("/livechat-requests", createRequest),
    HttpRouter.post("/organizations/:organizationId/livechat-messages", postMessage),
    HttpRouter.del("/livechat-requests/:platformSessionId", deleteRequest),
    HttpRouter.get("/sandbox/requests", Effect.sync(() => json(200, [...requests.values()].map(snapshot)))),
    HttpRouter.get(
      "/sandbox/requests/:platformSessionId/messages",
      handle(Effect.map(param("platformSessionId"), (id) => json(200, messages.get(id) ?? [])))
    )
  )
}

/** hbf-lcm's scriptable agent: its actions, each one webhook to the gateway, and the sandbox routes that drive them. */
import { HttpRouter } from "@effect/platform"
import { Effect, Schema } from "effect"
import {
  type AgentAttachment,
  exampleAttachment,
  fileNameOf,
  type SimAction,
  simIndexRoute
} from "../http/agentActions.js"
import { handle, json, plainRefusals, reject, simAnswer } from "../http/answers.js"
import { curlBody, decode } from "../http/body.js"
import { param } from "../http/requests.js"
import type { MutableRequest } from "./state.js"
import type { HbfLcmSim } from "./types.js"
import type { LcmWebhooks } from "./webhooks.js"
import { JoinBody, type LcmAgent, type LcmAttachment, SayBody, TypingBody } from "./wire.js"

const defaultAgent: LcmAgent = { id: "lcm-agent-1", fullName: "Sandbox Agent" }

export type LcmAgentActions = Pick<HbfLcmSim, "join" | "say" | "typing" | "end" | "transfer" | "missed" | "resend">

export const makeAgent = ({ act, resend }: LcmWebhooks): LcmAgentActions => {
  const agentOf = (request: MutableRequest) => (request.agent !== undefined ? { agent: request.agent } : {})
  return {
    join: (platformSessionId: string, agent?: LcmAgent) =>
      act(
        platformSessionId,
        "CONVERSATION_BEGIN",
        () => ({ agent: agent ?? defaultAgent }),
        (request) => {
          request.agent = agent ?? defaultAgent
        }
      ),
    say: (platformSessionId: string, text: string, attachments?: ReadonlyArray<LcmAttachment>) =>
      act(platformSessionId, "MESSAGE", (request) => ({
        ...agentOf(request),
        message: { text, ...(attachments !== undefined ? { attachments } : {}) }
      })),
    typing: (platformSessionId: string, on: boolean) =>
      act(platformSessionId, "CONVERSATION_TYPING", (request) => ({ ...agentOf(request), typing: on })),
    end: (platformSessionId: string) =>
      act(platformSessionId, "CONVERSATION_END", agentOf, (request) => {
        request.status = "ended"
        request.endedBy = "agent"
      }),
    transfer: (platformSessionId: string) =>
      act(platformSessionId, "TRANSFER_REQUEST", agentOf, (request) => {
        delete request.agent
      }),
    missed: (platformSessionId: string) =>
      act(
        platformSessionId,
        "REQUEST_MISSED",
        () => ({}),
        (request) => {
          request.status = "ended"
          request.endedBy = "missed"
        }
      ),
    resend
  }
}

/** hbf-lcm's attachment (`{ name, path, mimetype }`) of one in the gateway's shape. */
const lcmAttachment = (a: AgentAttachment): LcmAttachment => ({
  name: a.name ?? fileNameOf(a.url),
  path: a.url,
  mimetype: a.contentType
})

const agentPath = "/sandbox/agent/{platformSessionId}"

/** What `GET /sim` lists: the agent's actions, each one webhook to the gateway. */
const lcmActions: ReadonlyArray<SimAction> = [
  {
    action: "join",
    method: "POST",
    path: `${agentPath}/join`,
    does: "CONVERSATION_BEGIN: the agent takes the request",
    example: { fullName: "Maria", id: "agent-7", image: "https://example.com/maria.png" }
  },
  {
    action: "say",
    method: "POST",
    path: `${agentPath}/say`,
    does: "MESSAGE from the agent who joined; text required",
    example: { text: "Here is our menu", attachments: [exampleAttachment] }
  },
  {
    action: "typing",
    method: "POST",
    path: `${agentPath}/typing`,
    does: "CONVERSATION_TYPING (on: true by default)",
    example: { on: true }
  },
  {
    action: "transfer",
    method: "POST",
    path: `${agentPath}/transfer`,
    does: "TRANSFER_REQUEST: the agent leaves, the request goes back to the queue"
  },
  {
    action: "missed",
    method: "POST",
    path: `${agentPath}/missed`,
    does: "REQUEST_MISSED: nobody took the request, it ends"
  },
  { action: "end", method: "POST", path: `${agentPath}/end`, does: "CONVERSATION_END: the agent ends the chat" },
  {
    action: "resend",
    method: "POST",
    path: "/sandbox/events/{eventId}/resend",
    does: "posts a webhook sent before again, byte-identical"
  }
]

/** `POST /sandbox/agent/{platformSessionId}/{action}` and `/sandbox/events/{eventId}/resend`: 200 with the gateway's answer. */
export const agentRoutes = (agent: LcmAgentActions) => {
  const answer = (effect: ReturnType<LcmAgentActions["join"]>) =>
    simAnswer(plainRefusals, effect, (result) => json(200, result))

  const agentAction = handle(
    Effect.gen(function*() {
      const id = yield* param("platformSessionId")
      const action = yield* param("action")
      const value = yield* curlBody(Schema.Unknown) // whatever the action, the body must be JSON
      switch (action) {
        case "join": {
          const body = yield* decode(plainRefusals, JoinBody, value)
          return yield* answer(
            agent.join(id, {
              id: body.id ?? defaultAgent.id!,
              fullName: body.fullName ?? defaultAgent.fullName!,
              ...(body.image !== undefined ? { image: body.image } : {})
            })
          )
        }
        case "say": {
          const body = yield* decode(plainRefusals, SayBody, value)
          return yield* answer(agent.say(id, body.text, body.attachments?.map(lcmAttachment)))
        }
        case "typing":
          return yield* answer(agent.typing(id, (yield* decode(plainRefusals, TypingBody, value)).on))
        case "end":
          return yield* answer(agent.end(id))
        case "transfer":
          return yield* answer(agent.transfer(id))
        case "missed":
          return yield* answer(agent.missed(id))
        default:
          return yield* reject(404, "NotFound", `unknown agent action ${action} (join|say|typing|end|transfer|missed)`)
      }
    })
  )

  return HttpRouter.empty.pipe(
    simIndexRoute("hbf-lcm", lcmActions),
    HttpRouter.post("/sandbox/agent/:platformSessionId/:action", agentAction),
    HttpRouter.post(
      "/sandbox/events/:eventId/resend",
      handle(Effect.flatMap(param("eventId"), (id) => answer(agent.resend(id))))
    )
  )
}

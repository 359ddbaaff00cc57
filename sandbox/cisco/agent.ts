/** The CCP simulator's scriptable agent (join, say, type, leave, post a status) and the /sim routes that drive it. */
import { HttpRouter } from "@effect/platform"
import { Effect } from "effect"
import { type SimAction, simIndexRoute } from "../http/agentActions.js"
import { handle, json, noContent, plainRefusals, reject, simAnswer } from "../http/answers.js"
import { curlBody } from "../http/body.js"
import { param } from "../http/requests.js"
import { allChats, append, type ChatState, type CiscoState, end, ENDING_STATUSES, settle } from "./state.js"
import { CiscoSimError } from "./types.js"
import { FailBody, GarbleBody, JoinBody, SayBody, SimTypingBody, StatusBody } from "./wire.js"

const DEFAULT_AGENT = "Sandbox Agent"

export interface CiscoAgent {
  readonly join: (chatId: string, agentName?: string) => Effect.Effect<void, CiscoSimError>
  readonly say: (chatId: string, text: string) => Effect.Effect<void, CiscoSimError>
  readonly typing: (chatId: string, status: "composing" | "paused") => Effect.Effect<void, CiscoSimError>
  readonly leave: (chatId: string) => Effect.Effect<void, CiscoSimError>
  readonly postStatus: (chatId: string, status: string, detail?: string) => Effect.Effect<void, CiscoSimError>
}

export const makeAgent = (state: CiscoState): CiscoAgent => {
  const chatFor = (chatId: string) =>
    Effect.suspend(() => {
      const c = state.byId.get(chatId)
      if (c === undefined) {
        return Effect.fail(new CiscoSimError({ status: 404, message: `cisco sim: no chat ${chatId}` }))
      }
      settle(state, c, Date.now())
      return Effect.succeed(c)
    })

  const openChat = (chatId: string) =>
    Effect.flatMap(chatFor(chatId), (c) =>
      c.state === "ended"
        ? Effect.fail(new CiscoSimError({ status: 409, message: `cisco sim: chat ${chatId} has ended` }))
        : Effect.succeed(c))

  const currentAgent = (c: ChatState) => {
    const agent = c.agents.at(-1)
    return agent === undefined
      ? Effect.fail(new CiscoSimError({ status: 409, message: `cisco sim: no agent has joined chat ${c.chatId}` }))
      : Effect.succeed(agent)
  }

  return {
    join: (chatId, agentName = DEFAULT_AGENT) =>
      Effect.map(openChat(chatId), (c) => {
        if (c.agents.includes(agentName)) return
        c.agents.push(agentName)
        c.state = "active"
        c.lastActivity = Date.now()
        append(c, { kind: "PresenceEvent", from: agentName, status: "joined" })
      }),
    say: (chatId, text) =>
      Effect.gen(function*() {
        const c = yield* openChat(chatId)
        const agent = yield* currentAgent(c)
        c.lastActivity = Date.now()
        append(c, { kind: "MessageEvent", from: agent, body: text, byCustomer: false })
      }),
    typing: (chatId, status) =>
      Effect.gen(function*() {
        const c = yield* openChat(chatId)
        const agent = yield* currentAgent(c)
        c.lastActivity = Date.now()
        append(c, { kind: "TypingEvent", from: agent, status })
      }),
    leave: (chatId) =>
      Effect.gen(function*() {
        const c = yield* openChat(chatId)
        const agent = yield* currentAgent(c)
        c.lastActivity = Date.now()
        append(c, { kind: "PresenceEvent", from: agent, status: "left" })
        end(c)
      }),
    postStatus: (chatId, status, detail = "") =>
      Effect.flatMap(chatFor(chatId), (c) => {
        if (c.diedAt !== undefined) {
          return Effect.fail(
            new CiscoSimError({ status: 409, message: `cisco sim: the session of chat ${chatId} is gone` })
          )
        }
        append(c, { kind: "StatusEvent", status, detail })
        if (ENDING_STATUSES.has(status)) end(c)
        return Effect.void
      })
  }
}

const chatPath = "/sim/chats/{chatId}"

/**
 * What `GET /sim` lists: the agent's actions, each an event the gateway reads at its next poll.
 * CCP's chat carries text only: an agent has no attachments to send.
 */
const ciscoActions: ReadonlyArray<SimAction> = [
  {
    action: "join",
    method: "POST",
    path: `${chatPath}/join`,
    does: "PresenceEvent joined: an agent takes the chat",
    example: { agentName: "Maria" }
  },
  {
    action: "say",
    method: "POST",
    path: `${chatPath}/say`,
    does: "MessageEvent from the agent who joined last (text only: CCP chats carry no attachments)",
    example: { text: "Hi, how can I help?" }
  },
  {
    action: "typing",
    method: "POST",
    path: `${chatPath}/typing`,
    does: "TypingEvent from the agent: composing or paused",
    example: { status: "composing" }
  },
  {
    action: "leave",
    method: "POST",
    path: `${chatPath}/leave`,
    does: "PresenceEvent left: the agent leaves, which ends the chat"
  },
  {
    action: "status",
    method: "POST",
    path: `${chatPath}/status`,
    does:
      "a StatusEvent; chat_timedout_waiting_for_agent (what the join timeout posts), chat_request_rejected_by_agent, chat_finished and chat_finished_error end the chat",
    example: { status: "chat_timedout_waiting_for_agent", detail: "no agent available" }
  }
]

/** The scripting interface over HTTP (no auth, JSON, for curl): the agent, failNext, garbleNext and the listings. */
export const simRoutes = (state: CiscoState, agent: CiscoAgent) => {
  const done = (effect: Effect.Effect<void, CiscoSimError>) => simAnswer(plainRefusals, effect, () => noContent)

  const agentAction = handle(
    Effect.gen(function*() {
      const chatId = yield* param("chatId")
      const action = yield* param("action")
      switch (action) {
        case "join":
          return yield* done(agent.join(chatId, (yield* curlBody(JoinBody)).agentName))
        case "say":
          return yield* done(agent.say(chatId, (yield* curlBody(SayBody)).text))
        case "typing":
          return yield* done(agent.typing(chatId, (yield* curlBody(SimTypingBody)).status))
        case "leave":
          return yield* done(agent.leave(chatId))
        case "status": {
          const body = yield* curlBody(StatusBody)
          return yield* done(agent.postStatus(chatId, body.status, body.detail))
        }
        default:
          return yield* reject(404, "NotFound", `unknown agent action ${action} (join|say|typing|leave|status)`)
      }
    })
  )

  return HttpRouter.empty.pipe(
    simIndexRoute("Cisco CCP", ciscoActions),
    HttpRouter.get("/sim/chats", Effect.sync(() => json(200, allChats(state)))),
    HttpRouter.post("/sim/chats/:chatId/:action", agentAction),
    HttpRouter.post(
      "/sim/fail",
      handle(Effect.map(curlBody(FailBody), (b) => (state.failures.arm(b.n, b.status), noContent)))
    ),
    HttpRouter.post(
      "/sim/garble",
      handle(Effect.map(curlBody(GarbleBody), (b) => (state.garbles.arm(b.n), noContent)))
    ),
    HttpRouter.get("/sim/requests", Effect.sync(() => json(200, state.requestLog)))
  )
}

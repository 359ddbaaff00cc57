/**
 * The simulated Genesys agent (join, say, type, leave, end the conversation) and the /sim
 * routes (no auth, for curl) that drive it, the sockets, the tokens and the faults.
 */
import { HttpRouter, type HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { exampleAttachment, fileNameOf, type SimAction, simIndexRoute } from "../http/agentActions.js"
import { handle, json, noContent, simAnswer } from "../http/answers.js"
import { param } from "../http/requests.js"
import { expireTokens } from "./auth.js"
import type { Conversations } from "./conversations.js"
import type { Notifications } from "./notifications.js"
import {
  connectedOf,
  type ConversationState,
  DEFAULT_AGENT,
  type GenesysState,
  isOver,
  now,
  refuseTopics,
  setEstimatedWait,
  snapshotConversation,
  textOf
} from "./state.js"
import { type GenesysSim, GenesysSimError } from "./types.js"
import type { GenesysWebhooks } from "./webhooks.js"
import {
  EstimatedWaitBody,
  fail,
  FailBody,
  genesysRefusals,
  JoinBody,
  LeaveBody,
  type MediaType,
  RefuseTopicsBody,
  SayBody,
  simBody,
  TypingBody
} from "./wire.js"

const mediaTypeOf = (mime: string): MediaType =>
  mime.startsWith("image/")
    ? "Image"
    : mime.startsWith("video/")
    ? "Video"
    : mime.startsWith("audio/")
    ? "Audio"
    : "File"

const conversationPath = "/sim/conversations/{conversationId}"

/** What `GET /sim` lists: the agent's actions (joins and leaves reach the gateway on its notifications socket, messages and typing as webhooks). */
const genesysActions: ReadonlyArray<SimAction> = [
  {
    action: "join",
    method: "POST",
    path: `${conversationPath}/join`,
    does: "an agent is routed the conversation and connects (user.start on the socket)",
    example: { name: "Maria", userId: "agent-7" }
  },
  {
    action: "say",
    method: "POST",
    path: `${conversationPath}/say`,
    does: "an outbound message webhook from the connected agent; text or attachments",
    example: { text: "Here is our menu", attachments: [exampleAttachment] }
  },
  {
    action: "typing",
    method: "POST",
    path: `${conversationPath}/typing`,
    does: "an outbound Typing event webhook from the connected agent",
    example: {}
  },
  {
    action: "leave",
    method: "POST",
    path: `${conversationPath}/leave`,
    does: "the agent disconnects; with transfer: true the conversation goes back to the queue for another agent",
    example: { transfer: true }
  },
  {
    action: "end",
    method: "POST",
    path: `${conversationPath}/end`,
    does: "everybody is disconnected: the conversation is over"
  },
  {
    action: "estimated-wait",
    method: "POST",
    path: "/sim/queues/{queueId}/estimated-wait",
    does: "the queue's estimated wait from now on (seconds; null = none): what the gateway tells waiting requests",
    example: { seconds: 120 }
  },
  {
    action: "resend",
    method: "POST",
    path: "/sim/webhooks/{webhookId}/resend",
    does: "posts a webhook sent before again, byte-identical"
  }
]

export interface GenesysAgent {
  readonly join: (
    conversationId: string,
    agent?: { userId?: string; name?: string }
  ) => Effect.Effect<{ participantId: string; userId: string }, GenesysSimError>
  readonly say: (
    conversationId: string,
    message: Parameters<GenesysSim["agentSay"]>[1]
  ) => Effect.Effect<{ webhookId: string; status: number }, GenesysSimError>
  readonly typing: (
    conversationId: string,
    options?: { withoutId?: boolean }
  ) => Effect.Effect<{ webhookId: string; status: number }, GenesysSimError>
  readonly leave: (conversationId: string, transfer: boolean) => Effect.Effect<void, GenesysSimError>
  readonly end: (conversationId: string) => Effect.Effect<void, GenesysSimError>
}

export const makeAgent = (
  state: GenesysState,
  { publishDetail, publishQueue }: Notifications,
  { addParticipant, disconnect, disconnectAll, enqueue }: Conversations,
  webhooks: GenesysWebhooks
): GenesysAgent => {
  const conversationFor = (id: string) =>
    Effect.suspend(() => {
      const c = state.conversations.get(id)
      return c === undefined
        ? Effect.fail(new GenesysSimError({ status: 404, message: `no conversation ${id}` }))
        : Effect.succeed(c)
    })

  const currentAgent = (c: ConversationState) => {
    const agent = connectedOf(c, "agent").at(-1)
    return agent === undefined
      ? Effect.fail(new GenesysSimError({ status: 409, message: `no agent is connected to conversation ${c.id}` }))
      : Effect.succeed(agent)
  }

  return {
    join: (conversationId, agent = {}) =>
      Effect.flatMap(conversationFor(conversationId), (c) => {
        if (isOver(c)) return Effect.fail(new GenesysSimError({ status: 409, message: `conversation ${c.id} is over` }))
        const userId = agent.userId ?? DEFAULT_AGENT.userId
        const name = agent.name ?? state.users.get(userId) ?? DEFAULT_AGENT.name
        state.users.set(userId, name)
        const already = connectedOf(c, "agent").find((p) => p.user?.id === userId)
        if (already !== undefined) return Effect.succeed({ participantId: already.id, userId })
        const at = now()
        for (const acd of connectedOf(c, "acd")) disconnect(c, acd, "transfer", at) // routed to the agent
        const p = addParticipant(c, {
          purpose: "agent",
          state: "alerting",
          user: { id: userId },
          name,
          queue: { id: c.queueId }
        })
        publishQueue(c)
        p.state = "connected"
        p.connectedTime = at.iso
        publishDetail(c, "user.start", at, { participantId: p.id, userId, queueId: c.queueId, mediaType: "MESSAGE" })
        publishQueue(c)
        return Effect.succeed({ participantId: p.id, userId })
      }),
    say: (conversationId, message) =>
      Effect.gen(function*() {
        const c = yield* conversationFor(conversationId)
        // Only a connected agent can write (the webhook names the integration, not them).
        yield* currentAgent(c)
        const attachments = message.attachments ?? []
        if ((message.text === undefined || message.text === "") && attachments.length === 0) {
          return yield* new GenesysSimError({ status: 400, message: "an agent message needs text or attachments" })
        }
        const content = attachments.map((a) => ({
          contentType: "Attachment",
          attachment: {
            id: randomUUID(),
            mediaType: a.mediaType ?? mediaTypeOf(a.mime),
            ...(a.url !== undefined ? { url: a.url } : {}),
            mime: a.mime,
            filename: a.filename ?? ((a.url !== undefined ? fileNameOf(a.url) : "") || "attachment")
          }
        }))
        return yield* webhooks.send(c, {
          type: "Text",
          ...textOf(message),
          ...(content.length > 0 ? { content } : {})
        })
      }),
    typing: (conversationId, options = {}) =>
      Effect.gen(function*() {
        const c = yield* conversationFor(conversationId)
        yield* currentAgent(c)
        return yield* webhooks.send(
          c,
          { type: "Event", events: [{ eventType: "Typing", typing: { type: "On", duration: 5000 } }] },
          { withoutId: options.withoutId === true }
        )
      }),
    leave: (conversationId, transfer) =>
      Effect.gen(function*() {
        const c = yield* conversationFor(conversationId)
        const agent = yield* currentAgent(c)
        const at = now()
        disconnect(c, agent, transfer ? "transfer" : "client", at)
        if (transfer) enqueue(c, at) // back in the queue: another agent may join
        publishQueue(c)
      }),
    end: (conversationId) => Effect.map(conversationFor(conversationId), (c) => disconnectAll(c, "peer", "client"))
  }
}

/** The scripting interface over HTTP: the agent, webhook resends, sockets, tokens, failNext and the listings. */
export const simRoutes = (
  state: GenesysState,
  agent: GenesysAgent,
  webhooks: GenesysWebhooks,
  notifications: Notifications
) => {
  const answer = <A>(effect: Effect.Effect<A, GenesysSimError>, ok: (a: A) => HttpServerResponse.HttpServerResponse) =>
    simAnswer(genesysRefusals, effect, ok)
  const done = () => noContent

  const agentAction = handle(
    Effect.gen(function*() {
      const id = yield* param("conversationId")
      const action = yield* param("action")
      switch (action) {
        case "join":
          return yield* answer(agent.join(id, yield* simBody(JoinBody)), (r) => json(200, r))
        case "say": {
          const { attachments, text } = yield* simBody(SayBody)
          const message = {
            ...(text !== undefined ? { text } : {}),
            ...(attachments !== undefined
              ? {
                attachments: attachments.map((a) => ({
                  url: a.url,
                  mime: a.contentType,
                  ...(a.name !== undefined ? { filename: a.name } : {})
                }))
              }
              : {})
          }
          return yield* answer(agent.say(id, message), (r) => json(200, r))
        }
        case "typing":
          return yield* answer(agent.typing(id, yield* simBody(TypingBody)), (r) => json(200, r))
        case "leave":
          return yield* answer(agent.leave(id, (yield* simBody(LeaveBody)).transfer ?? false), done)
        case "end":
          return yield* answer(agent.end(id), done)
        default:
          return yield* fail(404, `unknown agent action ${action} (join|say|typing|leave|end)`)
      }
    })
  )

  return HttpRouter.empty.pipe(
    simIndexRoute("Genesys Cloud", genesysActions),
    HttpRouter.post("/sim/conversations/:conversationId/:action", agentAction),
    HttpRouter.post(
      "/sim/webhooks/:webhookId/resend",
      handle(
        Effect.flatMap(
          param("webhookId"),
          (id) => answer(webhooks.resend(id), (status) => json(200, { webhookId: id, status }))
        )
      )
    ),
    HttpRouter.post(
      "/sim/queues/:queueId/estimated-wait",
      handle(
        Effect.gen(function*() {
          const queueId = yield* param("queueId")
          if (!state.estimatedWaits.has(queueId) && !state.queues.some((q) => q.queueId === queueId)) {
            return yield* fail(404, `queue ${queueId} not found`)
          }
          setEstimatedWait(state, queueId, (yield* simBody(EstimatedWaitBody)).seconds)
          return noContent
        })
      )
    ),
    HttpRouter.post("/sim/sockets/drop", Effect.as(notifications.dropSockets, noContent)),
    HttpRouter.post("/sim/sockets/close", Effect.as(notifications.closeSockets, noContent)),
    HttpRouter.post("/sim/tokens/expire", Effect.as(expireTokens(state), noContent)),
    HttpRouter.post(
      "/sim/fail",
      handle(
        Effect.map(simBody(FailBody), (body) => {
          state.failures.arm(body.n, { status: body.status, retryAfterSeconds: body.retryAfterSeconds })
          return noContent
        })
      )
    ),
    HttpRouter.get(
      "/sim/conversations",
      Effect.sync(() => json(200, [...state.conversations.values()].map(snapshotConversation)))
    ),
    HttpRouter.post(
      "/sim/topics/refuse",
      handle(
        Effect.map(simBody(RefuseTopicsBody), (body) => {
          refuseTopics(state, body.suffix, body.missingPermissions)
          return noContent
        })
      )
    ),
    HttpRouter.get("/sim/requests", Effect.sync(() => json(200, state.apiRequests))),
    HttpRouter.get("/sim/channels", Effect.sync(() => json(200, notifications.listChannels())))
  )
}

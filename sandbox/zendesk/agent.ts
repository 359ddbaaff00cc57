/** The scripted Zendesk agent workspace (accept, say, type, read, close, pass back) and the /sim routes that drive it and the faults. */
import { HttpRouter } from "@effect/platform"
import { Effect } from "effect"
import { exampleAttachment, type SimAction, simIndexRoute } from "../http/agentActions.js"
import { handle, json, noContent, plainRefusals, reject, simAnswer } from "../http/answers.js"
import { curlBody } from "../http/body.js"
import { param } from "../http/requests.js"
import {
  allConversations,
  allDeliveries,
  allUsers,
  type ConversationState,
  DEFAULT_AGENT,
  hexId,
  nowIso,
  opt,
  storedMediaFields,
  type ZendeskState
} from "./state.js"
import {
  type AgentIdentity,
  type SwitchboardReason,
  type ZendeskMessage,
  type ZendeskSim,
  ZendeskSimError
} from "./types.js"
import type { ZendeskWebhooks } from "./webhooks.js"
import { AgentBody, CountBody, DropBody, FailBody, MAX_TEXT_LENGTH, SayBody, TargetBody, TypingBody } from "./wire.js"

const misuse = (status: number, message: string) => Effect.fail(new ZendeskSimError({ status, message }))

/** Who holds the conversation, for a misuse's message. */
const holder = (c: ConversationState) => c.active?.name ?? "no integration"

export interface ZendeskAgent {
  readonly accept: (id: string, agent: AgentIdentity | undefined) => Effect.Effect<void, ZendeskSimError>
  readonly say: (
    id: string,
    content: Parameters<ZendeskSim["agentSay"]>[1],
    agent: AgentIdentity | undefined
  ) => Effect.Effect<ZendeskMessage, ZendeskSimError>
  /** `withoutAuthor`: the webhook's activity leaves `author` out (optional in Sunshine's spec). */
  readonly typing: (id: string, start: boolean, withoutAuthor?: boolean) => Effect.Effect<void, ZendeskSimError>
  /** The agent has read the conversation (conversation:read from a business author). */
  readonly read: (id: string) => Effect.Effect<void, ZendeskSimError>
  /** The agent releases control (closing the ticket, a transfer to email): no integration holds the conversation. */
  readonly release: (id: string, reason: SwitchboardReason) => Effect.Effect<void, ZendeskSimError>
  readonly passBack: (id: string) => Effect.Effect<void, ZendeskSimError>
}

export const makeAgent = (
  state: ZendeskState,
  { addMessage, changeControl, readEvent, typingEvent }: ZendeskWebhooks
): ZendeskAgent => {
  const { agentWorkspace, bot } = state

  const conversationFor = (id: string) =>
    Effect.suspend(() => {
      const c = state.conversations.get(id)
      return c === undefined ? misuse(404, `no conversation ${id}`) : Effect.succeed(c)
    })

  const agentControlled = (id: string) =>
    Effect.flatMap(conversationFor(id), (c) =>
      c.active?.id === agentWorkspace.id
        ? Effect.succeed(c)
        : misuse(409, `the agent workspace does not hold control of conversation ${id} (${holder(c)} does)`))

  return {
    accept: (id, agent) =>
      Effect.flatMap(conversationFor(id), (c) => {
        const offered = c.pending?.id === agentWorkspace.id
        if (!offered && c.active?.id !== agentWorkspace.id) {
          return misuse(
            409,
            `conversation ${id} was neither offered nor passed to the agent workspace (${holder(c)} holds control)`
          )
        }
        changeControl(c, "acceptControl", "agent", { active: agentWorkspace, pending: undefined })
        c.agent = agent ?? c.agent ?? DEFAULT_AGENT
        return Effect.void
      }),
    say: (id, content, agent) =>
      Effect.gen(function*() {
        const c = yield* agentControlled(id)
        if (typeof content === "string" && (content === "" || content.length > MAX_TEXT_LENGTH)) {
          return yield* misuse(400, `an agent message needs 1 to ${MAX_TEXT_LENGTH} characters`)
        }
        if (c.messages.length >= state.maxMessages) {
          return yield* misuse(423, `conversation ${id} holds ${state.maxMessages} messages`)
        }
        const speaker = agent ?? c.agent ?? DEFAULT_AGENT
        c.agent = speaker
        const message: ZendeskMessage = {
          id: hexId(),
          received: nowIso(),
          author: { type: "business", displayName: speaker.displayName, ...opt("avatarUrl", speaker.avatarUrl) },
          content: typeof content === "string"
            ? { type: "text", text: content }
            : {
              type: content.type,
              mediaUrl: content.mediaUrl,
              ...storedMediaFields(content.mediaUrl, content.altText, content.mediaType)
            },
          source: { type: "zd:agentWorkspace", integrationId: agentWorkspace.integrationId }
        }
        addMessage(c, message)
        return message
      }),
    typing: (id, start, withoutAuthor = false) =>
      Effect.map(agentControlled(id), (c) => {
        const agent = c.agent ?? DEFAULT_AGENT
        const type = start ? "typing:start" : "typing:stop"
        c.activities.push({
          type,
          by: "agent",
          author: { type: "business", displayName: agent.displayName },
          at: nowIso()
        })
        typingEvent(c, type, withoutAuthor ? undefined : agent)
      }),
    read: (id) =>
      Effect.map(agentControlled(id), (c) => {
        const agent = c.agent ?? DEFAULT_AGENT
        c.activities.push({
          type: "conversation:read",
          by: "agent",
          author: { type: "business", displayName: agent.displayName },
          at: nowIso()
        })
        readEvent(c, { type: "business", agent })
      }),
    release: (id, reason) =>
      Effect.map(
        agentControlled(id),
        (c) => changeControl(c, "releaseControl", "agent", { active: undefined, pending: undefined }, { reason })
      ),
    passBack: (id) =>
      Effect.map(
        agentControlled(id),
        (c) => changeControl(c, "passControl", "agent", { active: bot, pending: undefined })
      )
  }
}

// ---- the /sim routes (no auth, JSON whatever the Content-Type, for curl) ----

const conversationPath = "/sim/conversations/{conversationId}"

/** What `GET /sim` lists: the agent workspace's actions, each reaching the gateway as Sunshine webhooks. */
const zendeskActions: ReadonlyArray<SimAction> = [
  {
    action: "accept",
    method: "POST",
    path: `${conversationPath}/accept`,
    does: "the agent workspace accepts control of the conversation offered or passed to it: an agent takes it",
    example: { displayName: "Maria", avatarUrl: "https://example.com/maria.png" }
  },
  {
    action: "say",
    method: "POST",
    path: `${conversationPath}/say`,
    does: "messages from the agent: the text, then each attachment as an image or file message; text or attachments",
    example: { text: "Here is our menu", attachments: [exampleAttachment], displayName: "Maria" }
  },
  {
    action: "typing",
    method: "POST",
    path: `${conversationPath}/typing`,
    does: "conversation:typing from the agent (start: true by default, false stops)",
    example: { start: true }
  },
  {
    action: "read",
    method: "POST",
    path: `${conversationPath}/read`,
    does: "conversation:read from the agent: the agent has read the conversation"
  },
  {
    action: "passBack",
    method: "POST",
    path: `${conversationPath}/passBack`,
    does: "switchboard:passControl back to the bot: the agent hands the conversation back"
  },
  {
    action: "transferToEmail",
    method: "POST",
    path: `${conversationPath}/transferToEmail`,
    does: "switchboard:releaseControl (transferToEmail): the conversation continues by email"
  },
  {
    action: "close",
    method: "POST",
    path: `${conversationPath}/close`,
    does: "switchboard:releaseControl (ticketClosed): the agent solves the ticket"
  }
]

const agentOf = (body: { readonly displayName?: string; readonly avatarUrl?: string }): AgentIdentity | undefined =>
  body.displayName === undefined ? undefined : { displayName: body.displayName, ...opt("avatarUrl", body.avatarUrl) }

export const simRoutes = (state: ZendeskState, agent: ZendeskAgent) => {
  const done = (effect: Effect.Effect<void, ZendeskSimError>) => simAnswer(plainRefusals, effect, () => noContent)

  const agentAction = handle(
    Effect.gen(function*() {
      const id = yield* param("conversationId")
      const action = yield* param("action")
      switch (action) {
        case "accept":
          return yield* done(agent.accept(id, agentOf(yield* curlBody(AgentBody))))
        case "say": {
          const body = yield* curlBody(SayBody)
          const attachments = body.attachments ?? []
          if (attachments.length === 0 && (body.text === undefined || body.text === "")) {
            return yield* reject(400, "BadRequest", "say needs text or attachments")
          }
          // The agent workspace sends the text, then each attachment as an image or file message of its own.
          const contents = [
            ...(body.text !== undefined && body.text !== "" ? [body.text] : []),
            ...attachments.map((a) => ({
              type: a.contentType.startsWith("image/") ? "image" as const : "file" as const,
              mediaUrl: a.url,
              mediaType: a.contentType,
              ...opt("altText", a.name)
            }))
          ]
          return yield* simAnswer(
            plainRefusals,
            Effect.forEach(contents, (content) => agent.say(id, content, agentOf(body))),
            (messages) => json(200, { messages })
          )
        }
        case "typing": {
          const body = yield* curlBody(TypingBody)
          return yield* done(agent.typing(id, body.start ?? true, body.withoutAuthor ?? false))
        }
        case "read":
          return yield* done(agent.read(id))
        case "close":
          return yield* done(agent.release(id, "ticketClosed"))
        case "transferToEmail":
          return yield* done(agent.release(id, "transferToEmail"))
        case "passBack":
          return yield* done(agent.passBack(id))
        default:
          return yield* reject(
            404,
            "NotFound",
            `unknown agent action ${action} (accept|say|typing|read|close|passBack|transferToEmail)`
          )
      }
    })
  )

  return HttpRouter.empty.pipe(
    simIndexRoute("Sunshine Conversations", zendeskActions),
    HttpRouter.post("/sim/conversations/:conversationId/:action", agentAction),
    HttpRouter.post(
      "/sim/fail",
      handle(
        Effect.map(curlBody(FailBody), (b) => {
          state.failures.arm(b.n, { status: b.status, retryAfterSeconds: b.retryAfterSeconds, afterApplying: false })
          return noContent
        })
      )
    ),
    HttpRouter.post(
      "/sim/webhooks/drop",
      handle(
        Effect.map(curlBody(DropBody), (b) => {
          const type = b.type
          state.drops.arm(b.n, type === undefined ? undefined : (event) => event.type === type)
          return noContent
        })
      )
    ),
    HttpRouter.post(
      "/sim/webhooks/duplicate",
      handle(Effect.map(curlBody(CountBody), (b) => (state.duplicates.arm(b.n), noContent)))
    ),
    HttpRouter.post(
      "/sim/webhooks/target",
      handle(Effect.map(curlBody(TargetBody), (b) => ((state.webhookUrl = b.url), noContent)))
    ),
    HttpRouter.get("/sim/conversations", Effect.sync(() => json(200, allConversations(state)))),
    HttpRouter.get("/sim/users", Effect.sync(() => json(200, allUsers(state)))),
    HttpRouter.get("/sim/requests", Effect.sync(() => json(200, state.apiRequests))),
    HttpRouter.get("/sim/webhooks", Effect.sync(() => json(200, allDeliveries(state))))
  )
}

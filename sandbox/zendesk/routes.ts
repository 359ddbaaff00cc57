/**
 * The Sunshine Conversations v2 API (base `/sc/v2/apps/{appId}`, or the legacy `/v2/apps/{appId}`):
 * app-key auth (Basic or an HS256 JWT), users, personal conversations, messages with their
 * cursor paging, activities and the switchboard; Sunshine's refusals throughout.
 */
import { HttpRouter, type HttpServerResponse } from "@effect/platform"
import { Effect, Option } from "effect"
import { decodeProtectedHeader, jwtVerify } from "jose"
import { handle, json, type Reject } from "../http/answers.js"
import { param, request, searchParams } from "../http/requests.js"
import { safeEqual } from "../http/signatures.js"
import {
  conversationBody,
  type ConversationState,
  hexId,
  nowIso,
  opt,
  storedMediaFields,
  userBody,
  userDisplayName,
  type UserState,
  type ZendeskState
} from "./state.js"
import type { AgentIdentity, MessageAuthor, MessageContent, SwitchboardIntegration, ZendeskMessage } from "./types.js"
import type { ZendeskWebhooks } from "./webhooks.js"
import {
  ActivityPost,
  apiBody,
  ControlMetadata,
  ControlTarget,
  ConversationCreate,
  fail,
  MessagePost,
  notFound,
  UserCreate
} from "./wire.js"

/** The business name on API-posted business messages without a displayName. */
const DEFAULT_BUSINESS_NAME = "Sandbox App"

/** A posted content as Sunshine stores it: an image or file gets the fields Sunshine sets itself. */
const storedContent = (content: typeof MessagePost.Type["content"]): MessageContent => {
  if (content.type === "text") return content
  const { mediaSize: _size, mediaType: _type, ...writable } = content
  return { ...writable, ...storedMediaFields(content.mediaUrl, content.altText) }
}

export const apiRoutes = (
  state: ZendeskState,
  { addMessage, changeControl, readEvent, typingEvent }: ZendeskWebhooks,
  origin: string
) => {
  const { bot, agentWorkspace } = state
  const keySecretBytes = new TextEncoder().encode(state.options.keySecret)
  /**
   * The switchboard hierarchy: "next" from each integration; with none in control (after a
   * releaseControl), the app's default one, the bot's.
   */
  const nextOf = (i: SwitchboardIntegration | undefined) =>
    i === undefined ? bot : i.id === bot.id ? agentWorkspace : bot

  // ---- the guard: scripted failures, then the app key, then the app ----

  /** The scripted failure this request gets, if any (counted now, answered before or after the request is carried out). */
  const takeScripted = () =>
    Option.map(state.failures.take(), ({ status, retryAfterSeconds, afterApplying }) => ({
      afterApplying,
      answer: fail(
        status,
        `sunshine sim: scripted ${status} (failNext)`,
        retryAfterSeconds !== undefined ? { "retry-after": String(retryAfterSeconds) } : undefined
      )
    }))

  const verifyJwt = (token: string) =>
    Effect.tryPromise({
      try: async () => {
        const header = decodeProtectedHeader(token)
        if (header.kid !== state.options.keyId) throw new Error(`unknown key id ${String(header.kid)}`)
        const { payload } = await jwtVerify(token, keySecretBytes, { algorithms: ["HS256"] })
        if (payload["scope"] !== "app") throw new Error(`scope must be app (got ${String(payload["scope"])})`)
      },
      catch: (e) => (e instanceof Error ? e.message : String(e))
    }).pipe(Effect.catchAll((why) => fail(401, `Invalid JWT: ${why}`)))

  const authenticate = Effect.flatMap(request, (req) => {
    const header = (req.headers["authorization"] ?? "").trim()
    if (header === "") return fail(401, "Authorization header is missing")
    const basic = /^Basic\s+(\S+)$/i.exec(header)?.[1]
    if (basic !== undefined) {
      const decoded = Buffer.from(basic, "base64").toString("utf8")
      const colon = decoded.indexOf(":")
      const valid = colon >= 0 && decoded.slice(0, colon) === state.options.keyId &&
        safeEqual(decoded.slice(colon + 1), state.options.keySecret)
      return valid ? Effect.void : fail(401, "Invalid credentials")
    }
    const bearer = /^Bearer\s+(\S+)$/i.exec(header)?.[1]
    return bearer === undefined ? fail(401, "Authorization must be Basic or Bearer") : verifyJwt(bearer)
  })

  const requireApp = Effect.flatMap(
    param("appId"),
    (appId) => appId === state.options.appId ? Effect.void : fail(401, `The key is not authorized for app ${appId}`)
  )

  const api = <R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, Reject, R>) =>
    handle(
      Effect.gen(function*() {
        const failure = takeScripted()
        if (Option.isSome(failure) && !failure.value.afterApplying) return yield* failure.value.answer
        yield* authenticate
        yield* requireApp
        const response = yield* handler
        return Option.isSome(failure) ? yield* failure.value.answer : response
      })
    )

  // ---- users ----

  const userRef = (ref: { readonly userId?: string; readonly userExternalId?: string }) =>
    ref.userId !== undefined
      ? state.usersById.get(ref.userId)
      : ref.userExternalId !== undefined
      ? state.usersByExternalId.get(ref.userExternalId)
      : undefined

  const createUser = api(
    Effect.gen(function*() {
      const body = yield* apiBody(UserCreate)
      if (state.usersByExternalId.has(body.externalId)) {
        return yield* fail(409, `A user with externalId ${body.externalId} already exists`)
      }
      const user: UserState = {
        id: hexId(),
        externalId: body.externalId,
        profile: Object.fromEntries(Object.entries(body.profile ?? {}).filter(([, v]) => v !== undefined)) as Record<
          string,
          string
        >,
        metadata: body.metadata ?? {},
        signedUpAt: nowIso()
      }
      state.usersById.set(user.id, user)
      state.usersByExternalId.set(user.externalId, user)
      return json(201, { user: userBody(user) })
    })
  )

  const getUser = api(
    Effect.gen(function*() {
      const key = yield* param("userIdOrExternalId")
      const user = state.usersById.get(key) ?? state.usersByExternalId.get(key)
      return user === undefined ? yield* notFound("user", `User ${key} not found`) : json(200, { user: userBody(user) })
    })
  )

  // ---- conversations ----

  const existingConversation = Effect.flatMap(param("conversationId"), (id) => {
    const c = state.conversations.get(id)
    return c === undefined ? notFound("conversation", `Conversation ${id} not found`) : Effect.succeed(c)
  })

  const createConversation = api(
    Effect.gen(function*() {
      const body = yield* apiBody(ConversationCreate)
      if (body.type !== "personal") return yield* fail(400, "type: the simulator supports personal conversations only")
      if (body.participants.length !== 1) {
        return yield* fail(400, "participants: a personal conversation has exactly one participant")
      }
      const ref = body.participants[0]!
      if (ref.userId === undefined && ref.userExternalId === undefined) {
        return yield* fail(400, "participants.0: userId or userExternalId is required")
      }
      const user = userRef(ref)
      if (user === undefined) return yield* notFound("user", `User ${ref.userId ?? ref.userExternalId} not found`)
      if ([...state.conversations.values()].some((c) => c.user.id === user.id)) {
        return yield* fail(
          400,
          `User ${user.id} already has a personal conversation and multi-conversations are not enabled for this app`
        )
      }
      const c: ConversationState = {
        id: hexId(),
        user,
        metadata: body.metadata ?? {},
        createdAt: nowIso(),
        active: bot,
        pending: undefined,
        agent: undefined,
        switchboardActions: [],
        messages: [],
        activities: []
      }
      state.conversations.set(c.id, c)
      yield* Effect.log(
        `zendesk sim <- new conversation ${c.id} for ${user.externalId}; ` +
          `drive the agent with POST ${origin}/sim/conversations/${c.id}/accept|say|typing|close|passBack|transferToEmail`
      )
      return json(201, { conversation: conversationBody(c) })
    })
  )

  const listConversations = api(
    Effect.gen(function*() {
      const query = yield* searchParams
      const userId = query.get("filter[userId]")
      const userExternalId = query.get("filter[userExternalId]")
      if (userId === null && userExternalId === null) {
        return yield* fail(400, "filter[userId] or filter[userExternalId] is required")
      }
      const user = userId !== null ? state.usersById.get(userId) : state.usersByExternalId.get(userExternalId!)
      if (user === undefined) return yield* notFound("user", `User ${userId ?? userExternalId} not found`)
      const own = [...state.conversations.values()].filter((c) => c.user.id === user.id)
      return json(200, { conversations: own.map(conversationBody), meta: { hasMore: false }, links: {} })
    })
  )

  const getConversation = api(Effect.map(existingConversation, (c) => json(200, { conversation: conversationBody(c) })))

  // ---- messages ----

  const postMessage = api(
    Effect.gen(function*() {
      const c = yield* existingConversation
      const body = yield* apiBody(MessagePost)
      let author: MessageAuthor
      if (body.author.type === "user") {
        const user = userRef(body.author)
        if (body.author.userId === undefined && body.author.userExternalId === undefined) {
          return yield* fail(400, "author: userId or userExternalId is required for a user author")
        }
        if (user === undefined || user.id !== c.user.id) {
          return yield* fail(
            400,
            `author: ${body.author.userId ?? body.author.userExternalId} is not a participant of conversation ${c.id}`
          )
        }
        author = {
          type: "user",
          ...opt("subtypes", body.author.subtypes),
          userId: user.id,
          displayName: userDisplayName(user),
          ...opt("avatarUrl", user.profile["avatarUrl"])
        }
      } else {
        author = {
          type: "business",
          ...opt("subtypes", body.author.subtypes),
          displayName: body.author.displayName ?? DEFAULT_BUSINESS_NAME,
          ...opt("avatarUrl", body.author.avatarUrl)
        }
      }
      if (c.messages.length >= state.maxMessages) {
        return yield* fail(423, `Message limit of ${state.maxMessages} per conversation reached.`)
      }
      const message: ZendeskMessage = {
        id: hexId(),
        received: nowIso(),
        author,
        content: storedContent(body.content),
        source: { type: "api:conversations" },
        ...opt("metadata", body.metadata ?? undefined)
      }
      addMessage(c, message)
      return json(201, { messages: [message] })
    })
  )

  /** Fixed-size pages; no cursor = the newest page; cursors and links only where a page exists. */
  const listMessages = api(
    Effect.gen(function*() {
      // The spec's example of an unknown conversation here is the generic not_found.
      const c = yield* Effect.orElse(existingConversation, () => fail(404, "Resource not found"))
      const query = yield* searchParams
      const before = query.get("page[before]")
      const after = query.get("page[after]")
      if (before !== null && after !== null) {
        return yield* fail(400, "page[before] and page[after] cannot be used together")
      }
      const cursor = before ?? after
      const cursorIndex = cursor === null ? -1 : c.messages.findIndex((m) => m.id === cursor)
      if (cursor !== null && cursorIndex < 0) {
        return yield* fail(
          400,
          `${before !== null ? "page[before]" : "page[after]"}: ${cursor} is not a message of this conversation`
        )
      }
      const total = c.messages.length
      const [start, end] = after !== null
        ? [cursorIndex + 1, Math.min(total, cursorIndex + 1 + state.pageSize)]
        : before !== null
        ? [Math.max(0, cursorIndex - state.pageSize), cursorIndex]
        : [Math.max(0, total - state.pageSize), total]
      const page = c.messages.slice(start, end)
      const olderExist = page.length > 0 && start > 0
      const newerExist = page.length > 0 && end < total
      const beforeCursor = olderExist ? page[0]!.id : undefined
      const afterCursor = newerExist ? page.at(-1)!.id : undefined
      const self = `${origin}${new URL((yield* request).url, origin).pathname}`
      return json(200, {
        messages: page,
        meta: {
          hasMore: after !== null ? newerExist : olderExist,
          ...opt("beforeCursor", beforeCursor),
          ...opt("afterCursor", afterCursor)
        },
        links: {
          ...opt("prev", beforeCursor === undefined ? undefined : `${self}?page[before]=${beforeCursor}`),
          ...opt("next", afterCursor === undefined ? undefined : `${self}?page[after]=${afterCursor}`)
        }
      })
    })
  )

  // ---- activity ----

  const postActivity = api(
    Effect.gen(function*() {
      const c = yield* existingConversation
      const body = yield* apiBody(ActivityPost)
      if (body.author.type === "user") {
        if (body.type !== "conversation:read") {
          return yield* fail(400, `type: a user author may only send conversation:read (got ${body.type})`)
        }
        const user = userRef(body.author)
        if (user === undefined || user.id !== c.user.id) {
          return yield* fail(
            400,
            `author: ${
              body.author.userId ?? body.author.userExternalId ?? "(no user)"
            } is not a participant of conversation ${c.id}`
          )
        }
        c.activities.push({ type: body.type, by: "api", author: { type: "user", userId: user.id }, at: nowIso() })
        readEvent(c, { type: "user", userId: user.id })
        return json(200, {})
      }
      const author: AgentIdentity = {
        displayName: body.author.displayName ?? DEFAULT_BUSINESS_NAME,
        ...opt("avatarUrl", body.author.avatarUrl)
      }
      c.activities.push({
        type: body.type,
        by: "api",
        author: { type: "business", displayName: author.displayName },
        at: nowIso()
      })
      if (body.type === "conversation:read") readEvent(c, { type: "business", agent: author })
      else typingEvent(c, body.type, author)
      return json(200, {})
    })
  )

  // ---- switchboard ----

  /** id, name, integrationType or "next" (after the integration in control): 400 when nothing matches. */
  const integrationFor = (c: ConversationState, ref: string) => {
    const found = ref === "next"
      ? nextOf(c.active)
      : [bot, agentWorkspace].find((i) => i.id === ref || i.name === ref || i.integrationType === ref)
    return found === undefined
      ? fail(400, `switchboardIntegration: no switchboard integration ${ref}`)
      : Effect.succeed(found)
  }

  const passControl = api(
    Effect.gen(function*() {
      const c = yield* existingConversation
      const body = yield* apiBody(ControlTarget)
      const target = yield* integrationFor(c, body.switchboardIntegration)
      changeControl(c, "passControl", "api", { active: target, pending: undefined }, { metadata: body.metadata })
      return json(200, {})
    })
  )

  const offerControl = api(
    Effect.gen(function*() {
      const c = yield* existingConversation
      const body = yield* apiBody(ControlTarget)
      const target = yield* integrationFor(c, body.switchboardIntegration)
      if (target.id === c.active?.id) {
        return yield* fail(400, `switchboardIntegration: ${target.name} already holds control`)
      }
      changeControl(c, "offerControl", "api", { active: c.active, pending: target }, { metadata: body.metadata })
      return json(200, {})
    })
  )

  const acceptControl = api(
    Effect.gen(function*() {
      const c = yield* existingConversation
      const body = yield* apiBody(ControlMetadata)
      if (c.pending === undefined) {
        return yield* fail(400, `no switchboard integration was offered control of conversation ${c.id}`)
      }
      changeControl(c, "acceptControl", "api", { active: c.pending, pending: undefined }, { metadata: body.metadata })
      return json(200, {})
    })
  )

  /** Nullifies the conversation's switchboard state: no integration is active or pending afterwards. */
  const releaseControl = api(
    Effect.gen(function*() {
      const c = yield* existingConversation
      const body = yield* apiBody(ControlMetadata)
      changeControl(c, "releaseControl", "api", { active: undefined, pending: undefined }, {
        metadata: body.metadata
      })
      return json(200, {})
    })
  )

  // ---- switchboards ----

  /** The app's one switchboard, its default integration the bot's (the gateway reads it as its probe). */
  const switchboardId = hexId()
  const listSwitchboards = api(
    Effect.succeed(
      json(200, { switchboards: [{ id: switchboardId, enabled: true, defaultSwitchboardIntegrationId: state.bot.id }] })
    )
  )

  const routes = (base: string) => {
    const at = (path: string) => `${base}${path}` as HttpRouter.PathInput
    return [
      HttpRouter.get(at("/switchboards"), listSwitchboards),
      HttpRouter.post(at("/users"), createUser),
      HttpRouter.get(at("/users/:userIdOrExternalId"), getUser),
      HttpRouter.post(at("/conversations"), createConversation),
      HttpRouter.get(at("/conversations"), listConversations),
      HttpRouter.get(at("/conversations/:conversationId"), getConversation),
      HttpRouter.post(at("/conversations/:conversationId/messages"), postMessage),
      HttpRouter.get(at("/conversations/:conversationId/messages"), listMessages),
      HttpRouter.post(at("/conversations/:conversationId/activity"), postActivity),
      HttpRouter.post(at("/conversations/:conversationId/passControl"), passControl),
      HttpRouter.post(at("/conversations/:conversationId/offerControl"), offerControl),
      HttpRouter.post(at("/conversations/:conversationId/acceptControl"), acceptControl),
      HttpRouter.post(at("/conversations/:conversationId/releaseControl"), releaseControl)
    ]
  }
  return [...routes("/sc/v2/apps/:appId"), ...routes("/v2/apps/:appId")].reduce(
    (router, add) => add(router),
    HttpRouter.empty
  )
}

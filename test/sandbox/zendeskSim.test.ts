import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import { SignJWT } from "jose"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { makeZendeskSim, type ZendeskSim, type ZendeskSimOptions } from "../../sandbox/zendesk/index.js"
import { call, type Hit, makeReceiver, waitFor } from "./httpHelpers.js"

// ---------------------------------------------------------------------------------------
// helpers

const APP = "app-1"
const KEY_ID = "key-1"
const KEY_SECRET = "key-secret-1"
const WEBHOOK_SECRET = "whsec-1"

const simOptions = (extra: Partial<ZendeskSimOptions> = {}): ZendeskSimOptions => ({
  appId: APP,
  keyId: KEY_ID,
  keySecret: KEY_SECRET,
  webhookSecret: WEBHOOK_SECRET,
  retryDelaysMs: [30, 30, 30, 30],
  ...extra
})

const basic = (id = KEY_ID, secret = KEY_SECRET) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`

const jwt = (options: { kid?: string; secret?: string; payload?: Record<string, unknown> } = {}) =>
  Effect.promise(() =>
    new SignJWT(options.payload ?? { scope: "app" })
      .setProtectedHeader({ alg: "HS256", kid: options.kid ?? KEY_ID })
      .sign(new TextEncoder().encode(options.secret ?? KEY_SECRET))
  )

/** One API request under {baseUrl}/v2/apps/{appId}, Basic auth unless `authorization` is given ("" = none). */
const api = (
  sim: ZendeskSim,
  path: string,
  init: { method?: string; body?: unknown; authorization?: string; headers?: Record<string, string>; appId?: string } =
    {}
) => {
  const headers: Record<string, string> = { ...init.headers }
  const authorization = init.authorization ?? basic()
  if (authorization !== "") headers["authorization"] = authorization
  return call(`${sim.baseUrl}/v2/apps/${init.appId ?? APP}${path}`, {
    headers,
    ...(init.method !== undefined ? { method: init.method } : {}),
    ...(init.body !== undefined ? { body: init.body } : {})
  })
}

/** A user with that externalId and its personal conversation. */
const startConversation = (sim: ZendeskSim, externalId = "sub-1") =>
  Effect.gen(function*() {
    const user = yield* api(sim, "/users", { body: { externalId, profile: { givenName: "Ann", surname: "Lee" } } })
    expect(user.status).toBe(201)
    const created = yield* api(sim, "/conversations", {
      body: { type: "personal", participants: [{ userId: user.body.user.id }] }
    })
    expect(created.status).toBe(201)
    return { userId: user.body.user.id as string, conversationId: created.body.conversation.id as string }
  })

const userMessage = (userId: string, text: string) => ({
  author: { type: "user", userId },
  content: { type: "text", text }
})

const postText = (sim: ZendeskSim, conversationId: string, userId: string, text: string) =>
  api(sim, `/conversations/${conversationId}/messages`, { body: userMessage(userId, text) })

interface WebhookBody {
  readonly app: { readonly id: string }
  readonly webhook: { readonly id: string; readonly version: string }
  readonly events: ReadonlyArray<
    { readonly id: string; readonly createdAt: string; readonly type: string; readonly payload: any }
  >
}

const bodyOf = (hit: Hit) => JSON.parse(hit.raw.toString("utf8")) as WebhookBody
const eventsOf = (hits: ReadonlyArray<Hit>) => hits.flatMap((h) => bodyOf(h).events)

/** A webhook target that reads requests and never answers them (closed with the Scope); counts the requests. */
const silentTarget = Effect.acquireRelease(
  Effect.async<{ url: string; received: () => number; close: () => void }>((resume) => {
    let received = 0
    const server = createServer(() => {
      received += 1
    })
    server.listen(0, "127.0.0.1", () =>
      resume(
        Effect.succeed({
          url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events/zendesk`,
          received: () => received,
          close: () => {
            server.closeAllConnections()
            server.close()
          }
        })
      ))
  }),
  (target) => Effect.sync(target.close)
)

/** A receiver answering `statuses` first, and a simulator delivering to it. */
const withReceiver = (statuses: ReadonlyArray<number> = [], extra: Partial<ZendeskSimOptions> = {}) =>
  Effect.gen(function*() {
    const receiver = yield* makeReceiver({ statuses, path: "/events/zendesk" })
    const sim = yield* makeZendeskSim(simOptions({ webhookUrl: receiver.url, ...extra }))
    return { receiver, sim }
  })

const hex24 = /^[0-9a-f]{24}$/

// ---------------------------------------------------------------------------------------

describe("Zendesk simulator: auth", () => {
  it.scopedLive("accepts Basic and JWT app keys; 401 unauthorized for anything else", () =>
    Effect.gen(function*() {
      const sim = yield* makeZendeskSim(simOptions())
      expect(sim.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/sc$/)

      expect((yield* api(sim, "/users/nobody")).status).toBe(404)
      expect((yield* api(sim, "/users/nobody", { authorization: `Bearer ${yield* jwt()}` })).status).toBe(404)

      const rejected: Array<[string, string]> = [
        ["none", ""],
        ["wrong secret", basic(KEY_ID, "wrong")],
        ["wrong key id", basic("other-key", KEY_SECRET)],
        ["jwt wrong kid", `Bearer ${yield* jwt({ kid: "other-key" })}`],
        ["jwt wrong secret", `Bearer ${yield* jwt({ secret: "not-the-secret" })}`],
        ["jwt wrong scope", `Bearer ${yield* jwt({ payload: { scope: "user" } })}`],
        ["not a jwt", "Bearer abc.def"],
        ["other scheme", "Token abc"]
      ]
      for (const [what, authorization] of rejected) {
        const answer = yield* api(sim, "/users/nobody", { authorization })
        expect(answer.status, what).toBe(401)
        expect(answer.body.errors[0].code, what).toBe("unauthorized")
        expect(typeof answer.body.errors[0].title, what).toBe("string")
      }

      // a good key for another app
      const otherApp = yield* api(sim, "/users/nobody", { appId: "app-2" })
      expect(otherApp.status).toBe(401)
      expect(otherApp.body.errors[0].code).toBe("unauthorized")

      // the legacy api.smooch.io layout (no /sc) answers too
      const origin = new URL(sim.baseUrl).origin
      const legacy = yield* call(`${origin}/v2/apps/${APP}/users/nobody`, { headers: { authorization: basic() } })
      expect(legacy.status).toBe(404)
      expect(legacy.body).toEqual({ errors: [{ code: "user_not_found", title: expect.any(String) }] })

      expect(sim.requests().map((r) => r.status)).toEqual([404, 404, 401, 401, 401, 401, 401, 401, 401, 401, 401, 404])
    }))

  it.scopedLive("failNext: scripted 429 (no Retry-After unless asked) and 503 before auth is even checked", () =>
    Effect.gen(function*() {
      const sim = yield* makeZendeskSim(simOptions())
      yield* sim.failNext(1, 429)
      const limited = yield* api(sim, "/users/nobody", { authorization: "" })
      expect(limited.status).toBe(429)
      expect(limited.headers.get("retry-after")).toBeNull()
      expect(limited.body.errors[0].code).toBe("too_many_requests")

      yield* sim.failNext(2, 503, { retryAfterSeconds: 7 })
      for (let i = 0; i < 2; i++) {
        const unavailable = yield* api(sim, "/users/nobody")
        expect(unavailable.status).toBe(503)
        expect(unavailable.headers.get("retry-after")).toBe("7")
      }
      expect((yield* api(sim, "/users/nobody")).status).toBe(404)
    }))
})

describe("Zendesk simulator: users and conversations", () => {
  it.scopedLive("creates users (409 on a repeat), gets them by id or externalId, rejects bad bodies", () =>
    Effect.gen(function*() {
      const sim = yield* makeZendeskSim(simOptions())
      const created = yield* api(sim, "/users", {
        body: { externalId: "sub-1", profile: { givenName: "Ann", locale: "en-US" } }
      })
      expect(created.status).toBe(201)
      expect(created.body.user).toMatchObject({ externalId: "sub-1", profile: { givenName: "Ann", locale: "en-US" } })
      expect(created.body.user.id).toMatch(hex24)
      expect(Date.parse(created.body.user.signedUpAt)).not.toBeNaN()

      const again = yield* api(sim, "/users", { body: { externalId: "sub-1" } })
      expect(again.status).toBe(409)
      expect(again.body.errors[0].code).toBe("conflict")

      const byId = yield* api(sim, `/users/${created.body.user.id}`)
      const byExternalId = yield* api(sim, "/users/sub-1")
      expect(byId.status).toBe(200)
      expect(byExternalId.body.user).toEqual(byId.body.user)

      const missing = yield* api(sim, "/users", { body: { profile: {} } })
      expect(missing.status).toBe(400)
      expect(missing.body.errors[0].code).toBe("bad_request")
      expect(missing.body.errors[0].title).toContain("externalId")

      const notJson = yield* api(sim, "/users", {
        body: "externalId=x",
        headers: { "content-type": "application/x-www-form-urlencoded" }
      })
      expect(notJson.status).toBe(400)
      const broken = yield* api(sim, "/users", { body: "{", headers: { "content-type": "application/json" } })
      expect(broken.status).toBe(400)
      expect(sim.users().map((u) => u.externalId)).toEqual(["sub-1"])
    }))

  it.scopedLive("a personal conversation per user: the bot's integration active, a second one 400, listed by filter", () =>
    Effect.gen(function*() {
      const sim = yield* makeZendeskSim(simOptions({ botIntegration: { id: "bot-switchboard-1" } }))
      const user = yield* api(sim, "/users", { body: { externalId: "sub-1" } })
      const userId = user.body.user.id as string
      const created = yield* api(sim, "/conversations", {
        body: { type: "personal", participants: [{ userExternalId: "sub-1" }], metadata: { sessionId: "s-1" } }
      })
      expect(created.status).toBe(201)
      const conversation = created.body.conversation
      expect(conversation).toMatchObject({
        type: "personal",
        metadata: { sessionId: "s-1" },
        activeSwitchboardIntegration: { id: "bot-switchboard-1", name: "hbf-lcg", integrationType: "custom" },
        pendingSwitchboardIntegration: null
      })
      expect(conversation.id).toMatch(hex24)
      expect(Date.parse(conversation.createdAt)).not.toBeNaN()

      const second = yield* api(sim, "/conversations", { body: { type: "personal", participants: [{ userId }] } })
      expect(second.status).toBe(400)
      expect(second.body.errors[0].code).toBe("bad_request")

      for (
        const query of [`filter[userId]=${userId}`, "filter[userExternalId]=sub-1", "filter%5BuserExternalId%5D=sub-1"]
      ) {
        const listed = yield* api(sim, `/conversations?${query}`)
        expect(listed.status, query).toBe(200)
        expect(listed.body).toEqual({ conversations: [conversation], meta: { hasMore: false }, links: {} })
      }
      expect((yield* api(sim, "/conversations")).status).toBe(400)
      expect((yield* api(sim, "/conversations?filter[userExternalId]=nobody")).status).toBe(404)

      expect((yield* api(sim, `/conversations/${conversation.id}`)).body.conversation).toEqual(conversation)
      const unknown = yield* api(sim, "/conversations/ffffffffffffffffffffffff")
      expect(unknown.status).toBe(404)
      expect(unknown.body.errors[0].code).toBe("conversation_not_found")

      const unknownUser = yield* api(sim, "/conversations", {
        body: { type: "personal", participants: [{ userExternalId: "nobody" }] }
      })
      expect(unknownUser.status).toBe(404)
      const tooBigMetadata = yield* api(sim, "/users", {
        body: { externalId: "sub-2", metadata: { blob: "x".repeat(5000) } }
      })
      expect(tooBigMetadata.status).toBe(400)

      expect(sim.conversationOf("sub-1")).toMatchObject({
        id: conversation.id,
        userId,
        activeSwitchboardIntegration: "hbf-lcg"
      })
    }))
})

describe("Zendesk simulator: messages", () => {
  it.scopedLive("posts user and business messages; enforces participants, the 4096-character text and the 100 kB body", () =>
    Effect.gen(function*() {
      const sim = yield* makeZendeskSim(simOptions())
      const { userId, conversationId } = yield* startConversation(sim)
      const posted = yield* api(sim, `/conversations/${conversationId}/messages`, {
        body: { ...userMessage(userId, "hello"), metadata: { lcgMessageId: "m-1" } }
      })
      expect(posted.status).toBe(201)
      const [message] = posted.body.messages
      expect(message).toMatchObject({
        author: { type: "user", userId, displayName: "Ann Lee" },
        content: { type: "text", text: "hello" },
        source: { type: "api:conversations" },
        metadata: { lcgMessageId: "m-1" }
      })
      expect(message.id).toMatch(hex24)
      expect(Date.parse(message.received)).not.toBeNaN()

      const business = yield* api(sim, `/conversations/${conversationId}/messages`, {
        body: {
          author: { type: "business", displayName: "Bot" },
          content: { type: "image", mediaUrl: "https://x.test/a.png", altText: "a" }
        }
      })
      expect(business.status).toBe(201)
      expect(business.body.messages[0]).toMatchObject({
        author: { type: "business", displayName: "Bot" },
        content: { type: "image", mediaUrl: "https://x.test/a.png", altText: "a" },
        source: { type: "api:conversations" }
      })

      const other = yield* startConversation(sim, "sub-2")
      const stranger = yield* postText(sim, conversationId, other.userId, "not mine")
      expect(stranger.status).toBe(400)
      expect(stranger.body.errors[0].code).toBe("bad_request")

      expect((yield* postText(sim, conversationId, userId, "x".repeat(4096))).status).toBe(201)
      const tooLong = yield* postText(sim, conversationId, userId, "x".repeat(4097))
      expect(tooLong.status).toBe(400)
      expect(tooLong.body.errors[0].title).toContain("content")
      const tooBig = yield* postText(sim, conversationId, userId, "x".repeat(110_000))
      expect(tooBig.status).toBe(413)
      expect(tooBig.body.errors[0].code).toBe("payload_too_large")

      const carousel = yield* api(sim, `/conversations/${conversationId}/messages`, {
        body: { author: { type: "business" }, content: { type: "carousel", items: [] } }
      })
      expect(carousel.status).toBe(400)
      expect((yield* postText(sim, "ffffffffffffffffffffffff", userId, "hi")).status).toBe(404)
      expect(sim.conversationOf("sub-1")!.messages.map((m) => m.content.type)).toEqual(["text", "image", "text"])
    }))

  it.scopedLive("image and file messages as the spec has them: altText at most 128 characters, mediaType and mediaSize read-only", () =>
    Effect.gen(function*() {
      const sim = yield* makeZendeskSim(simOptions())
      const { userId, conversationId } = yield* startConversation(sim)
      const post = (content: Record<string, unknown>) =>
        api(sim, `/conversations/${conversationId}/messages`, { body: { author: { type: "user", userId }, content } })

      // Sunshine sets the media type and, without an altText, saves the file name as one.
      const file = yield* post({ type: "file", mediaUrl: "https://x.test/docs/terms%20v2.pdf" })
      expect(file.status).toBe(201)
      expect(file.body.messages[0].content).toEqual({
        type: "file",
        mediaUrl: "https://x.test/docs/terms%20v2.pdf",
        altText: "terms v2.pdf",
        mediaType: "application/pdf"
      })
      const image = yield* post({ type: "image", mediaUrl: "https://x.test/a.png", altText: "x".repeat(128) })
      expect(image.status).toBe(201)
      expect(image.body.messages[0].content).toMatchObject({ altText: "x".repeat(128), mediaType: "image/png" })

      const longAlt = yield* post({ type: "image", mediaUrl: "https://x.test/a.png", altText: "x".repeat(129) })
      expect(longAlt.status).toBe(400)
      expect(longAlt.body.errors[0]).toEqual({
        code: "bad_request",
        title: "content.altText: must be at most 128 characters"
      })
      const withMediaType = yield* post({
        type: "file",
        mediaUrl: "https://x.test/a.pdf",
        mediaType: "application/pdf"
      })
      expect(withMediaType.status).toBe(400)
      expect(withMediaType.body.errors[0].title).toBe("content.mediaType: is read-only: Sunshine sets it")
      const withSize = yield* post({ type: "image", mediaUrl: "https://x.test/a.png", mediaSize: 10 })
      expect(withSize.status).toBe(400)
      expect(withSize.body.errors[0].title).toBe("content.mediaSize: is read-only: Sunshine sets it")
      expect(sim.conversationOf("sub-1")!.messages).toHaveLength(2)
    }))

  it.scopedLive("actions and the author's subtypes are kept on the stored message", () =>
    Effect.gen(function*() {
      const { receiver, sim } = yield* withReceiver()
      const { conversationId } = yield* startConversation(sim)
      const actions = [
        { type: "reply", text: "Yes", payload: "YES", iconUrl: "https://x.test/yes.png" },
        { type: "link", text: "Terms", uri: "https://x.test/terms" }
      ]
      const posted = yield* api(sim, `/conversations/${conversationId}/messages`, {
        body: {
          author: { type: "business", subtypes: ["AI"], displayName: "Bot" },
          content: { type: "text", text: "Shall I?", actions }
        }
      })
      expect(posted.status).toBe(201)
      const message = posted.body.messages[0]
      expect(message.author).toEqual({ type: "business", subtypes: ["AI"], displayName: "Bot" })
      expect(message.content).toEqual({ type: "text", text: "Shall I?", actions })
      expect(sim.conversationOf("sub-1")!.messages[0]).toEqual(message)
      const listed = yield* api(sim, `/conversations/${conversationId}/messages`)
      expect(listed.body.messages).toEqual([message])
      yield* sim.awaitWebhooks()
      expect(eventsOf(receiver.hits)[0]!.payload.message).toEqual(message)

      const badSubtype = yield* api(sim, `/conversations/${conversationId}/messages`, {
        body: { author: { type: "business", subtypes: ["robot"] }, content: { type: "text", text: "hi" } }
      })
      expect(badSubtype.status).toBe(400)
      expect(badSubtype.body.errors[0].title).toContain("author.subtypes.0")
      const badAction = yield* api(sim, `/conversations/${conversationId}/messages`, {
        body: { author: { type: "business" }, content: { type: "text", text: "hi", actions: [{ type: "dance" }] } }
      })
      expect(badAction.status).toBe(400)
      expect(badAction.body.errors[0].title).toContain("content.actions.0")
    }))

  it.scopedLive("423 once the conversation holds maxMessagesPerConversation messages", () =>
    Effect.gen(function*() {
      const sim = yield* makeZendeskSim(simOptions({ maxMessagesPerConversation: 2 }))
      const { userId, conversationId } = yield* startConversation(sim)
      expect((yield* postText(sim, conversationId, userId, "1")).status).toBe(201)
      expect((yield* postText(sim, conversationId, userId, "2")).status).toBe(201)
      const locked = yield* postText(sim, conversationId, userId, "3")
      expect(locked.status).toBe(423)
      expect(locked.body.errors[0].title).toContain("Message limit")
      yield* api(sim, `/conversations/${conversationId}/passControl`, {
        body: { switchboardIntegration: "zd-agentWorkspace" }
      })
      const agentExit = yield* Effect.exit(sim.agentSay(conversationId, "too many"))
      expect(Exit.isFailure(agentExit) && Cause.isDie(agentExit.cause)).toBe(true)
    }))

  it.scopedLive("pages: the newest page first, before/after cursors only where a page exists, links that work", () =>
    Effect.gen(function*() {
      const sim = yield* makeZendeskSim(simOptions({ pageSize: 3 }))
      const { userId, conversationId } = yield* startConversation(sim)
      const ids: Array<string> = []
      for (let i = 0; i < 7; i++) ids.push((yield* postText(sim, conversationId, userId, `m${i}`)).body.messages[0].id)
      const list = (query = "") => api(sim, `/conversations/${conversationId}/messages${query}`)
      const texts = (answer: { body: any }) => answer.body.messages.map((m: any) => m.content.text)

      const newest = yield* list()
      expect(texts(newest)).toEqual(["m4", "m5", "m6"])
      expect(newest.body.meta).toEqual({ hasMore: true, beforeCursor: ids[4] })
      expect(Object.keys(newest.body.links)).toEqual(["prev"])

      const older = yield* call(newest.body.links.prev, { headers: { authorization: basic() } })
      expect(texts(older)).toEqual(["m1", "m2", "m3"])
      expect(older.body.meta).toEqual({ hasMore: true, beforeCursor: ids[1], afterCursor: ids[3] })

      const oldest = yield* list(`?page[before]=${ids[1]}`)
      expect(texts(oldest)).toEqual(["m0"])
      expect(oldest.body.meta).toEqual({ hasMore: false, afterCursor: ids[0] })
      expect(Object.keys(oldest.body.links)).toEqual(["next"])

      const afterFirst = yield* list(`?page[after]=${ids[0]}`)
      expect(texts(afterFirst)).toEqual(["m1", "m2", "m3"])
      expect(afterFirst.body.meta).toEqual({ hasMore: true, beforeCursor: ids[1], afterCursor: ids[3] })
      const next = yield* call(afterFirst.body.links.next, { headers: { authorization: basic() } })
      expect(texts(next)).toEqual(["m4", "m5", "m6"])
      expect(next.body.meta).toEqual({ hasMore: false, beforeCursor: ids[4] })

      const past = yield* list(`?page[after]=${ids[6]}`)
      expect(past.body).toEqual({ messages: [], meta: { hasMore: false }, links: {} })

      const both = yield* list(`?page[before]=${ids[3]}&page[after]=${ids[1]}`)
      expect(both.status).toBe(400)
      expect(both.body.errors[0].code).toBe("bad_request")
      expect((yield* list("?page[after]=ffffffffffffffffffffffff")).status).toBe(400)
    }))
})

describe("Zendesk simulator: activity and switchboard", () => {
  it.scopedLive("activity: business typing is echoed as conversation:typing, the user's read as conversation:read; a user author may only send conversation:read", () =>
    Effect.gen(function*() {
      const { receiver, sim } = yield* withReceiver()
      const { userId, conversationId } = yield* startConversation(sim)
      const activity = (body: unknown) => api(sim, `/conversations/${conversationId}/activity`, { body })

      const typing = yield* activity({ author: { type: "business", displayName: "Bot" }, type: "typing:start" })
      expect(typing.status).toBe(200)
      expect(typing.body).toEqual({})
      const userTyping = yield* activity({ author: { type: "user", userId }, type: "typing:start" })
      expect(userTyping.status).toBe(400)
      expect(userTyping.body.errors[0].code).toBe("bad_request")
      expect((yield* activity({ author: { type: "user", userId }, type: "conversation:read" })).status).toBe(200)
      expect((yield* activity({ author: { type: "business" }, type: "typing:maybe" })).status).toBe(400)

      expect(sim.conversationOf("sub-1")!.activities.map((a) => [a.author.type, a.type])).toEqual([
        ["business", "typing:start"],
        ["user", "conversation:read"]
      ])
      yield* sim.awaitWebhooks()
      const events = eventsOf(receiver.hits)
      expect(events.map((e) => e.type)).toEqual(["conversation:typing", "conversation:read"])
      expect(events[0]!.payload.activity).toEqual({
        type: "typing:start",
        author: { type: "business", displayName: "Bot" }
      })
      expect(events[1]!.payload.activity).toEqual({ type: "conversation:read", author: { type: "user", userId } })
    }))

  it.scopedLive("passControl by name, integrationType and next; releaseControl leaves no integration active; metadata recorded and limited", () =>
    Effect.gen(function*() {
      const sim = yield* makeZendeskSim(simOptions())
      const { conversationId } = yield* startConversation(sim)
      const control = (action: string, body: unknown) =>
        api(sim, `/conversations/${conversationId}/${action}`, { body })
      const active = () => sim.conversationOf("sub-1")!.activeSwitchboardIntegration

      const passed = yield* control("passControl", {
        switchboardIntegration: "zd-agentWorkspace",
        metadata: { lcgSessionId: "s-1" }
      })
      expect(passed.status).toBe(200)
      expect(passed.body).toEqual({})
      expect(active()).toBe("zd-agentWorkspace")
      const shown = (yield* api(sim, `/conversations/${conversationId}`)).body.conversation
      expect(shown.activeSwitchboardIntegration).toEqual(sim.agentWorkspace)
      expect(sim.agentWorkspace).toMatchObject({ name: "zd-agentWorkspace", integrationType: "zd:agentWorkspace" })

      expect((yield* control("passControl", { switchboardIntegration: "next" })).status).toBe(200)
      expect(active()).toBe("hbf-lcg")
      expect((yield* control("passControl", { switchboardIntegration: "zd:agentWorkspace" })).status).toBe(200)
      expect(active()).toBe("zd-agentWorkspace")
      expect((yield* control("releaseControl", { metadata: { reason: "bot-done" } })).status).toBe(200)
      // releaseControl nullifies the switchboard state: neither the bot nor the agents hold the conversation.
      expect(active()).toBeUndefined()
      const released = (yield* api(sim, `/conversations/${conversationId}`)).body.conversation
      expect(released).toMatchObject({ activeSwitchboardIntegration: null, pendingSwitchboardIntegration: null })
      expect((yield* control("passControl", { switchboardIntegration: sim.agentWorkspace.id })).status).toBe(200)
      expect(active()).toBe("zd-agentWorkspace")

      expect((yield* control("passControl", { switchboardIntegration: "somebody-else" })).status).toBe(400)
      expect((yield* control("passControl", {})).status).toBe(400)
      const tooBig = yield* control("passControl", {
        switchboardIntegration: "next",
        metadata: { blob: "x".repeat(4100) }
      })
      expect(tooBig.status).toBe(400)
      expect(tooBig.body.errors[0].title).toContain("metadata")
      expect((yield* control("passControl", { switchboardIntegration: "next", metadata: { nested: { a: 1 } } })).status)
        .toBe(400)
      expect((yield* control("acceptControl", {})).status).toBe(400) // nothing offered
      expect(active()).toBe("zd-agentWorkspace")

      expect(sim.conversationOf("sub-1")!.switchboardActions.map((a) => [a.action, a.by, a.to, a.metadata])).toEqual([
        ["passControl", "api", "zd-agentWorkspace", { lcgSessionId: "s-1" }],
        ["passControl", "api", "hbf-lcg", undefined],
        ["passControl", "api", "zd-agentWorkspace", undefined],
        ["releaseControl", "api", undefined, { reason: "bot-done" }],
        ["passControl", "api", "zd-agentWorkspace", undefined]
      ])
    }))

  it.scopedLive("offerControl sets the pending integration; acceptControl makes it active", () =>
    Effect.gen(function*() {
      const { receiver, sim } = yield* withReceiver()
      const { conversationId } = yield* startConversation(sim)
      const offered = yield* api(sim, `/conversations/${conversationId}/offerControl`, {
        body: { switchboardIntegration: "zd-agentWorkspace", metadata: { lcgSessionId: "s-1" } }
      })
      expect(offered.status).toBe(200)
      const shown = (yield* api(sim, `/conversations/${conversationId}`)).body.conversation
      expect(shown.activeSwitchboardIntegration.name).toBe("hbf-lcg")
      expect(shown.pendingSwitchboardIntegration.name).toBe("zd-agentWorkspace")
      expect(
        (yield* api(sim, `/conversations/${conversationId}/offerControl`, {
          body: { switchboardIntegration: "hbf-lcg" }
        })).status
      ).toBe(400)

      expect((yield* api(sim, `/conversations/${conversationId}/acceptControl`, { method: "POST" })).status).toBe(200)
      expect(sim.conversationOf("sub-1")).toMatchObject({ activeSwitchboardIntegration: "zd-agentWorkspace" })
      expect(sim.conversationOf("sub-1")!.pendingSwitchboardIntegration).toBeUndefined()

      yield* sim.awaitWebhooks()
      const events = eventsOf(receiver.hits)
      expect(events.map((e) => e.type)).toEqual(["switchboard:offerControl", "switchboard:acceptControl"])
      expect(events[0]!.payload).toMatchObject({
        conversation: {
          id: conversationId,
          activeSwitchboardIntegration: { name: "hbf-lcg" },
          pendingSwitchboardIntegration: { name: "zd-agentWorkspace" }
        },
        metadata: { lcgSessionId: "s-1" }
      })
      expect(events[1]!.payload.conversation.activeSwitchboardIntegration.name).toBe("zd-agentWorkspace")
    }))
})

describe("Zendesk simulator: webhooks", () => {
  it.scopedLive("every message, API-posted ones included, and our own passControl come back as webhooks with X-API-Key", () =>
    Effect.gen(function*() {
      const { receiver, sim } = yield* withReceiver()
      const { userId, conversationId } = yield* startConversation(sim)
      const posted = (yield* postText(sim, conversationId, userId, "hello")).body.messages[0]
      yield* api(sim, `/conversations/${conversationId}/messages`, {
        body: { author: { type: "business", displayName: "Bot" }, content: { type: "text", text: "transcript line" } }
      })
      yield* api(sim, `/conversations/${conversationId}/passControl`, {
        body: { switchboardIntegration: "zd-agentWorkspace", metadata: { lcgSessionId: "s-1" } }
      })
      yield* sim.awaitWebhooks()

      expect(receiver.hits).toHaveLength(3) // one event per call by default
      for (const hit of receiver.hits) {
        expect(hit.url).toBe("/events/zendesk")
        expect(hit.headers["x-api-key"]).toBe(WEBHOOK_SECRET)
        expect(hit.headers["content-type"]).toBe("application/json")
        const body = bodyOf(hit)
        expect(body.app).toEqual({ id: APP })
        expect(body.webhook.version).toBe("v2")
        expect(body.events).toHaveLength(1)
        expect(body.events[0]!.id).toMatch(hex24)
        expect(Date.parse(body.events[0]!.createdAt)).not.toBeNaN()
      }
      const [user, business, pass] = eventsOf(receiver.hits)
      expect(user!.type).toBe("conversation:message")
      expect(user!.payload.message).toEqual(posted)
      expect(user!.payload.message.source.type).toBe("api:conversations")
      expect(user!.payload.conversation).toMatchObject({
        id: conversationId,
        activeSwitchboardIntegration: { name: "hbf-lcg" }
      })
      expect(business!.payload.message).toMatchObject({
        author: { type: "business" },
        source: { type: "api:conversations" }
      })
      expect(pass!.type).toBe("switchboard:passControl")
      expect(pass!.payload).toEqual({
        conversation: { id: conversationId, type: "personal", activeSwitchboardIntegration: sim.agentWorkspace },
        metadata: { lcgSessionId: "s-1" }
      })
      expect(new Set(eventsOf(receiver.hits).map((e) => e.id)).size).toBe(3)
      expect(sim.webhookDeliveries().map((d) => [d.outcome, d.attempts, d.finalStatus])).toEqual([
        ["delivered", 1, 200],
        ["delivered", 1, 200],
        ["delivered", 1, 200]
      ])
    }))

  it.scopedLive("retries after 5xx byte-identically and holds the later events back until then", () =>
    Effect.gen(function*() {
      const { receiver, sim } = yield* withReceiver([500, 503])
      const { userId, conversationId } = yield* startConversation(sim)
      yield* postText(sim, conversationId, userId, "first")
      yield* postText(sim, conversationId, userId, "second")
      yield* sim.awaitWebhooks()
      expect(receiver.hits.map((h) => bodyOf(h).events[0]!.payload.message.content.text)).toEqual([
        "first",
        "first",
        "first",
        "second"
      ])
      expect(receiver.hits[0]!.raw.equals(receiver.hits[2]!.raw)).toBe(true)
      expect(sim.webhookDeliveries().map((d) => [d.outcome, d.statuses])).toEqual([
        ["delivered", [500, 503, 200]],
        ["delivered", [200]]
      ])
    }))

  it.scopedLive("no retry after 400; gives up after 5 attempts when nobody answers", () =>
    Effect.gen(function*() {
      const { receiver, sim } = yield* withReceiver([400])
      const { userId, conversationId } = yield* startConversation(sim)
      yield* postText(sim, conversationId, userId, "refused")
      yield* postText(sim, conversationId, userId, "accepted")
      yield* sim.awaitWebhooks()
      expect(receiver.hits).toHaveLength(2)
      expect(sim.webhookDeliveries().map((d) => [d.outcome, d.statuses])).toEqual([
        ["failed", [400]],
        ["delivered", [200]]
      ])

      yield* sim.setWebhookUrl("http://127.0.0.1:9/unreachable")
      yield* postText(sim, conversationId, userId, "lost")
      yield* sim.awaitWebhooks()
      expect(sim.webhookDeliveries().at(-1)).toMatchObject({
        outcome: "failed",
        statuses: [0, 0, 0, 0, 0],
        attempts: 5
      })
    }))

  it.scopedLive("an attempt that gets no answer within the timeout is retried", () =>
    Effect.gen(function*() {
      const target = yield* silentTarget
      const sim = yield* makeZendeskSim(
        simOptions({ webhookUrl: target.url, webhookTimeoutMs: 100, retryDelaysMs: [10] })
      )
      const { userId, conversationId } = yield* startConversation(sim)
      yield* postText(sim, conversationId, userId, "into the void")
      yield* sim.awaitWebhooks()
      expect(target.received()).toBe(2)
      expect(sim.webhookDeliveries()).toEqual([
        expect.objectContaining({ outcome: "failed", statuses: [0, 0], finalStatus: 0 })
      ])
    }))

  it.scopedLive("events while no target is set are not delivered; setWebhookUrl starts delivery", () =>
    Effect.gen(function*() {
      const receiver = yield* makeReceiver()
      const sim = yield* makeZendeskSim(simOptions())
      const { userId, conversationId } = yield* startConversation(sim)
      yield* postText(sim, conversationId, userId, "unheard")
      yield* sim.setWebhookUrl(receiver.url)
      yield* postText(sim, conversationId, userId, "heard")
      yield* sim.awaitWebhooks()
      expect(eventsOf(receiver.hits).map((e) => e.payload.message.content.text)).toEqual(["heard"])
      expect(sim.webhookDeliveries().map((d) => d.outcome)).toEqual(["noTarget", "delivered"])
    }))

  it.scopedLive("dropNextWebhooks loses matching events; duplicateNextWebhooks sends the same body twice", () =>
    Effect.gen(function*() {
      const { receiver, sim } = yield* withReceiver()
      const { userId, conversationId } = yield* startConversation(sim)
      yield* sim.dropNextWebhooks(1, (event) => event.type === "conversation:message")
      yield* api(sim, `/conversations/${conversationId}/passControl`, {
        body: { switchboardIntegration: "zd-agentWorkspace" }
      })
      yield* postText(sim, conversationId, userId, "dropped")
      yield* postText(sim, conversationId, userId, "kept")
      yield* sim.duplicateNextWebhooks(1)
      yield* sim.agentSay(conversationId, "twice")
      yield* sim.agentSay(conversationId, "once")
      yield* sim.awaitWebhooks()

      const events = eventsOf(receiver.hits)
      expect(events.map((e) => (e.type === "conversation:message" ? e.payload.message.content.text : e.type))).toEqual([
        "switchboard:passControl",
        "kept",
        "twice",
        "twice",
        "once"
      ])
      expect(receiver.hits[2]!.raw.equals(receiver.hits[3]!.raw)).toBe(true)
      expect(sim.webhookDeliveries().map((d) => [d.outcome, d.duplicate])).toEqual([
        ["delivered", false],
        ["dropped", false],
        ["delivered", false],
        ["delivered", false],
        ["delivered", true],
        ["delivered", false]
      ])
      // the message itself was stored: only its webhook was lost
      expect(sim.conversationOf("sub-1")!.messages.map((m) => m.content.type === "text" && m.content.text)).toEqual([
        "dropped",
        "kept",
        "twice",
        "once"
      ])
    }))

  it.scopedLive("batchWebhookEvents: events emitted together share one call", () =>
    Effect.gen(function*() {
      const { receiver, sim } = yield* withReceiver([], { batchWebhookEvents: true })
      const { conversationId } = yield* startConversation(sim)
      yield* api(sim, `/conversations/${conversationId}/passControl`, {
        body: { switchboardIntegration: "zd-agentWorkspace" }
      })
      yield* Effect.all([
        sim.agentAccept(conversationId),
        sim.agentSay(conversationId, "a"),
        sim.agentSay(conversationId, "b")
      ])
      yield* sim.awaitWebhooks()
      expect(eventsOf(receiver.hits).map((e) => e.type)).toEqual([
        "switchboard:passControl",
        "switchboard:acceptControl",
        "conversation:message",
        "conversation:message"
      ])
      // the passControl left alone; the three agent events emitted in one go travel together
      expect(receiver.hits.map((h) => bodyOf(h).events.length)).toEqual([1, 3])
    }))
})

describe("Zendesk simulator: the scripted agent workspace", () => {
  it.scopedLive("accept, say, typing, read, close the ticket: the webhooks the gateway hears", () =>
    Effect.gen(function*() {
      const { receiver, sim } = yield* withReceiver()
      const { conversationId } = yield* startConversation(sim)

      // no control yet: agent actions are misuse
      const early = yield* Effect.exit(sim.agentSay(conversationId, "too early"))
      expect(Exit.isFailure(early) && Cause.isDie(early.cause)).toBe(true)
      const unknown = yield* Effect.exit(sim.agentAccept("ffffffffffffffffffffffff"))
      expect(Exit.isFailure(unknown) && String(Cause.squash(unknown.cause))).toContain("no conversation")

      yield* api(sim, `/conversations/${conversationId}/passControl`, {
        body: { switchboardIntegration: "zd-agentWorkspace" }
      })
      yield* sim.agentAccept(conversationId, { displayName: "Maria", avatarUrl: "https://x.test/maria.png" })
      yield* sim.agentTyping(conversationId, true)
      const said = yield* sim.agentSay(conversationId, "Hi, Maria here")
      yield* sim.agentSay(conversationId, {
        type: "file",
        mediaUrl: "https://x.test/f.pdf",
        mediaType: "application/pdf"
      })
      yield* sim.agentRead(conversationId)
      yield* sim.closeTicket(conversationId)
      const late = yield* Effect.exit(sim.agentTyping(conversationId, false))
      expect(Exit.isFailure(late)).toBe(true)
      expect(Exit.isFailure(yield* Effect.exit(sim.agentRead(conversationId)))).toBe(true)
      yield* sim.awaitWebhooks()

      const events = eventsOf(receiver.hits)
      expect(events.map((e) => e.type)).toEqual([
        "switchboard:passControl",
        "switchboard:acceptControl",
        "conversation:typing",
        "conversation:message",
        "conversation:message",
        "conversation:read",
        "switchboard:releaseControl"
      ])

      expect(events[1]!.payload.conversation.activeSwitchboardIntegration.name).toBe("zd-agentWorkspace")
      expect(events[2]!.payload.activity).toEqual({
        type: "typing:start",
        author: { type: "business", displayName: "Maria", avatarUrl: "https://x.test/maria.png" }
      })
      expect(events[3]!.payload.message).toEqual(said)
      expect(said).toMatchObject({
        author: { type: "business", displayName: "Maria", avatarUrl: "https://x.test/maria.png" },
        content: { type: "text", text: "Hi, Maria here" },
        source: { type: "zd:agentWorkspace", integrationId: sim.agentWorkspace.integrationId }
      })
      // Sunshine saves the file name as the altText of an agent's upload too
      expect(events[4]!.payload.message.content).toEqual({
        type: "file",
        mediaUrl: "https://x.test/f.pdf",
        mediaType: "application/pdf",
        altText: "f.pdf"
      })
      expect(events[5]!.payload.activity).toEqual({
        type: "conversation:read",
        author: { type: "business", displayName: "Maria", avatarUrl: "https://x.test/maria.png" }
      })
      // The released conversation's payload omits activeSwitchboardIntegration: nobody holds it.
      expect(events[6]!.payload).toEqual({
        conversation: { id: conversationId, type: "personal" },
        reason: "ticketClosed"
      })
      expect(sim.conversationOf("sub-1")!.activeSwitchboardIntegration).toBeUndefined()
      expect(sim.conversationOf("sub-1")!.switchboardActions.map((a) => [a.action, a.by, a.reason])).toEqual([
        ["passControl", "api", undefined],
        ["acceptControl", "agent", undefined],
        ["releaseControl", "agent", "ticketClosed"]
      ])
    }))

  it.scopedLive("accept after an offer, pass back to the bot, transfer to email; default agent name", () =>
    Effect.gen(function*() {
      const { receiver, sim } = yield* withReceiver()
      const { conversationId } = yield* startConversation(sim)
      yield* api(sim, `/conversations/${conversationId}/offerControl`, {
        body: { switchboardIntegration: "zd-agentWorkspace" }
      })
      yield* sim.agentAccept(conversationId)
      const said = yield* sim.agentSay(conversationId, "hello")
      expect(said.author.displayName).toBe("Sandbox Agent")
      yield* sim.passBack(conversationId)
      expect(sim.conversationOf("sub-1")!.activeSwitchboardIntegration).toBe("hbf-lcg")
      yield* api(sim, `/conversations/${conversationId}/passControl`, { body: { switchboardIntegration: "next" } })
      yield* sim.transferToEmail(conversationId)
      yield* sim.awaitWebhooks()

      const events = eventsOf(receiver.hits)
      expect(events.map((e) => e.type)).toEqual([
        "switchboard:offerControl",
        "switchboard:acceptControl",
        "conversation:message",
        "switchboard:passControl",
        "switchboard:passControl",
        "switchboard:releaseControl"
      ])
      expect(events[3]!.payload.conversation.activeSwitchboardIntegration.name).toBe("hbf-lcg")
      expect(events[5]!.payload.reason).toBe("transferToEmail")
    }))

  it.scopedLive("the /sim routes drive the agent over HTTP and show the state", () =>
    Effect.gen(function*() {
      const { receiver, sim } = yield* withReceiver()
      const origin = new URL(sim.baseUrl).origin
      const { conversationId } = yield* startConversation(sim)
      const simCall = (path: string, body?: unknown) =>
        call(`${origin}/sim${path}`, { method: "POST", ...(body !== undefined ? { body } : {}) })

      const notYet = yield* simCall(`/conversations/${conversationId}/say`, { text: "hi" })
      expect(notYet.status).toBe(409)
      expect((yield* simCall("/conversations/ffffffffffffffffffffffff/accept")).status).toBe(404)
      expect((yield* simCall(`/conversations/${conversationId}/dance`)).status).toBe(404)

      yield* api(sim, `/conversations/${conversationId}/passControl`, {
        body: { switchboardIntegration: "zd-agentWorkspace" }
      })
      expect((yield* simCall(`/conversations/${conversationId}/accept`, { displayName: "Kim" })).status).toBe(204)
      // curl -d sends a form Content-Type: read as JSON anyway
      const said = yield* call(`${origin}/sim/conversations/${conversationId}/say`, {
        body: JSON.stringify({ text: "from curl" }),
        headers: { "content-type": "application/x-www-form-urlencoded" }
      })
      expect(said.status).toBe(200)
      expect(said.body.messages).toMatchObject([{ author: { displayName: "Kim" }, content: { text: "from curl" } }])
      // Attachments in the gateway's shape, { url, contentType, name? }: the text, then an image or file message each.
      const attached = yield* simCall(`/conversations/${conversationId}/say`, {
        text: "our files",
        attachments: [
          { url: "https://x.test/menu.pdf", contentType: "application/pdf", name: "Menu" },
          { url: "https://x.test/a.png", contentType: "image/png" }
        ]
      })
      expect(attached.status).toBe(200)
      expect(attached.body.messages.map((m: any) => m.content)).toEqual([
        { type: "text", text: "our files" },
        { type: "file", mediaUrl: "https://x.test/menu.pdf", mediaType: "application/pdf", altText: "Menu" },
        { type: "image", mediaUrl: "https://x.test/a.png", mediaType: "image/png", altText: "a.png" }
      ])
      const sunshineShape = yield* simCall(`/conversations/${conversationId}/say`, {
        type: "image",
        mediaUrl: "https://x.test/a.png"
      })
      expect(sunshineShape.status).toBe(400)
      expect(sunshineShape.body.message).toBe("say needs text or attachments")
      expect((yield* simCall(`/conversations/${conversationId}/typing`, { start: false })).status).toBe(204)
      expect((yield* simCall(`/conversations/${conversationId}/read`)).status).toBe(204)
      expect((yield* simCall(`/conversations/${conversationId}/close`)).status).toBe(204)
      expect((yield* simCall("/fail", { n: 1, status: 500 })).status).toBe(204)
      expect((yield* api(sim, "/users/sub-1")).status).toBe(500)

      const listed = yield* call(`${origin}/sim/conversations`)
      expect(listed.body).toHaveLength(1)
      expect(listed.body[0]).toMatchObject({ id: conversationId })
      expect(listed.body[0].activeSwitchboardIntegration).toBeUndefined() // closed: released
      yield* sim.awaitWebhooks()
      expect((yield* call(`${origin}/sim/webhooks`)).body).toHaveLength(receiver.hits.length)
      expect((yield* call(`${origin}/sim/requests`)).body.at(-1)).toMatchObject({
        method: "GET",
        path: `/sc/v2/apps/${APP}/users/sub-1`,
        status: 500
      })
      yield* waitFor("the typing:stop and read webhooks", () =>
        eventsOf(receiver.hits).some((e) =>
          e.payload.activity?.type === "typing:stop"
        ) &&
        eventsOf(receiver.hits).some((e) => e.type === "conversation:read"))
    }))
})

import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import WebSocket from "ws"
import { type GenesysSimOptions, makeGenesysSim } from "../../sandbox/genesys/index.js"
import { call, hmac, makeReceiver, waitFor } from "./httpHelpers.js"

// ---------------------------------------------------------------------------------------
// helpers

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`

const grant = (baseUrl: string, id = "client-1", secret = "secret-1") =>
  call(`${baseUrl}/oauth/token`, {
    headers: { authorization: basic(id, secret), "content-type": "application/x-www-form-urlencoded" },
    body: "grant_type=client_credentials"
  })

const tokenFor = (baseUrl: string, id?: string, secret?: string) =>
  Effect.map(grant(baseUrl, id, secret), (a) => a.body.access_token as string)

const message = (fromId: string, extra: Record<string, unknown> = {}) => ({
  channel: {
    from: { id: fromId, idType: "Opaque", nickname: "Ann" },
    time: new Date().toISOString(),
    messageId: `our-${fromId}`
  },
  text: "hello",
  ...extra
})

const inbound = (baseUrl: string, token: string, body: unknown, query = "") =>
  call(`${baseUrl}/api/v2/conversations/messages/int-1/inbound/open/message${query}`, { token, body })

interface Frame {
  readonly topicName: string
  readonly version: string
  readonly eventBody: any
  readonly metadata: { readonly CorrelationId: string }
}

/** A real `ws` client on a channel; frames recorded in order; closed with the Scope. */
const connect = (connectUri: string) =>
  Effect.acquireRelease(
    Effect.async<{ ws: WebSocket; frames: Array<Frame>; closed: () => boolean }>((resume) => {
      const ws = new WebSocket(connectUri)
      const frames: Array<Frame> = []
      let closed = false
      ws.on("message", (data) => frames.push(JSON.parse(String(data)) as Frame))
      ws.on("close", () => (closed = true))
      ws.on("open", () => resume(Effect.succeed({ ws, frames, closed: () => closed })))
      ws.on("error", (e) => resume(Effect.die(e)))
    }),
    ({ ws }) => Effect.sync(() => ws.terminate())
  )

/** Creates a channel subscribed to `topics` and connects a socket to it. */
const openChannel = (baseUrl: string, token: string, topics: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const channel = yield* call(`${baseUrl}/api/v2/notifications/channels`, { token, method: "POST" })
    expect(channel.status).toBe(200)
    const subscribed = yield* call(`${baseUrl}/api/v2/notifications/channels/${channel.body.id}/subscriptions`, {
      token,
      body: topics.map((id) => ({ id }))
    })
    expect(subscribed.status).toBe(200)
    return { id: channel.body.id as string, socket: yield* connect(channel.body.connectUri) }
  })

const WEBHOOK_SECRET = "whsec-1"

const simOptions = (
  webhookUrl = "http://127.0.0.1:9/unused",
  extra: Partial<GenesysSimOptions> = {}
): GenesysSimOptions => ({
  clients: [
    { clientId: "client-1", clientSecret: "secret-1" },
    { clientId: "client-2", clientSecret: "secret-2" }
  ],
  integrations: [{ integrationId: "int-1", webhookUrl, webhookSecret: WEBHOOK_SECRET, name: "Acme Open Messaging" }],
  queues: [
    { queueId: "q-1", estimatedWaitSeconds: 42, agentsOnQueue: 3 },
    { queueId: "q-2", agentsOnQueue: 0 }
  ],
  webhookRetryDelayMs: 50,
  ...extra
})

const detailTopic = (conversationId: string, event: string) =>
  `v2.detail.events.conversation.${conversationId}.${event}`

/** The shared receiver at the gateway's Genesys webhook path, answering the scripted `statuses` first. */
const webhookReceiver = (statuses: ReadonlyArray<number> = []) => makeReceiver({ statuses, path: "/webhooks/genesys" })

/** A simulator, a token for client-1, and `fromId`'s conversation opened by a first message (its id prefetched). */
const startConversation = (options: GenesysSimOptions = simOptions(), fromId = "u-1") =>
  Effect.gen(function*() {
    const sim = yield* makeGenesysSim(options)
    const token = yield* tokenFor(sim.baseUrl)
    const created = yield* inbound(sim.baseUrl, token, message(fromId), "?prefetchConversationId=true")
    return { sim, token, conversationId: created.body.conversationId as string }
  })

/** `startConversation`, plus a connected socket on a channel subscribed to `topics(conversationId)`. */
const watchConversation = (
  topics: (conversationId: string) => ReadonlyArray<string>,
  options: GenesysSimOptions = simOptions(),
  fromId = "u-1"
) =>
  Effect.gen(function*() {
    const started = yield* startConversation(options, fromId)
    const { socket } = yield* openChannel(started.sim.baseUrl, started.token, topics(started.conversationId))
    return { ...started, socket }
  })

// ---------------------------------------------------------------------------------------

describe("Genesys simulator: login and auth", () => {
  it.scopedLive("grants tokens, rejects bad credentials, a wrong grant, missing and unknown bearer tokens", () =>
    Effect.gen(function*() {
      const sim = yield* makeGenesysSim(simOptions(undefined, { tokenLifetimeSeconds: 600 }))
      const ok = yield* grant(sim.baseUrl)
      expect(ok.status).toBe(200)
      expect(ok.body).toMatchObject({ token_type: "bearer", expires_in: 600 })
      expect(typeof ok.body.access_token).toBe("string")
      expect(sim.tokensIssued("client-1")).toBe(1)

      const bad = yield* grant(sim.baseUrl, "client-1", "wrong")
      expect(bad.status).toBe(401)
      expect(bad.body).toMatchObject({ code: "bad.credentials", status: 401 })
      expect(sim.tokensIssued("client-1")).toBe(1)

      const wrongGrant = yield* call(`${sim.baseUrl}/oauth/token`, {
        headers: { authorization: basic("client-1", "secret-1"), "content-type": "application/x-www-form-urlencoded" },
        body: "grant_type=password"
      })
      expect(wrongGrant.status).toBe(400)
      expect(wrongGrant.body).toMatchObject({ code: "bad.request", status: 400 })
      expect(wrongGrant.body.message).toContain("grant_type")

      const missing = yield* call(`${sim.baseUrl}/api/v2/users/someone`)
      expect(missing.status).toBe(401)
      expect(missing.body).toMatchObject({ code: "authentication.required", status: 401 })
      expect(typeof missing.body.message).toBe("string")

      const unknown = yield* call(`${sim.baseUrl}/api/v2/users/someone`, { token: "not-a-token" })
      expect(unknown.status).toBe(401)
      expect(unknown.body).toMatchObject({ code: "bad.credentials", status: 401 })

      const known = yield* call(`${sim.baseUrl}/api/v2/users/someone`, { token: ok.body.access_token })
      expect(known.status).toBe(404)
      expect(known.body).toMatchObject({ code: "not.found", status: 404 })

      expect(sim.requests().map((r) => [r.path, r.status, r.clientId])).toEqual([
        ["/api/v2/users/someone", 401, undefined],
        ["/api/v2/users/someone", 401, undefined],
        ["/api/v2/users/someone", 404, "client-1"]
      ])
    }))

  it.scopedLive("expireTokens: 401 bad.credentials afterwards and the token's channels stop delivering", () =>
    Effect.gen(function*() {
      const { sim, token, conversationId, socket } = yield* watchConversation(
        (id) => [detailTopic(id, "user.start")],
        simOptions(),
        "u-exp"
      )

      yield* sim.expireTokens()
      const after = yield* call(`${sim.baseUrl}/api/v2/conversations/messages/${conversationId}`, { token })
      expect(after.status).toBe(401)
      expect(after.body.code).toBe("bad.credentials")

      yield* sim.agentJoin(conversationId)
      yield* Effect.sleep("150 millis")
      expect(socket.frames.filter((f) => f.topicName !== "channel.metadata")).toEqual([])

      const fresh = yield* tokenFor(sim.baseUrl)
      expect((yield* call(`${sim.baseUrl}/api/v2/conversations/messages/${conversationId}`, { token: fresh })).status)
        .toBe(200)
      expect(sim.tokensIssued("client-1")).toBe(2)
    }))
})

describe("Genesys simulator: inbound Open Messaging", () => {
  it.scopedLive("rejects malformed messages with 400 bad.request naming the field", () =>
    Effect.gen(function*() {
      const sim = yield* makeGenesysSim(simOptions())
      const token = yield* tokenFor(sim.baseUrl)
      const time = new Date().toISOString()
      const cases: Array<[unknown, string]> = [
        [{ channel: { from: { idType: "Opaque" }, time }, text: "x" }, "channel.from.id"],
        [{ channel: { from: { id: "u", idType: "Twitter" }, time }, text: "x" }, "channel.from.idType"],
        [{ channel: { from: { id: "u", idType: "Opaque" } }, text: "x" }, "channel.time"],
        [{ channel: { from: { id: "u", idType: "Opaque" }, time: "yesterday" }, text: "x" }, "channel.time"],
        [{ channel: { from: { id: "u", idType: "Opaque" }, time } }, "text"],
        [
          {
            channel: { from: { id: "u", idType: "Opaque" }, time },
            content: [{ attachment: { mediaType: "Sticker", url: "https://x/a.png", mime: "image/png" } }]
          },
          "content.0.attachment.mediaType"
        ],
        [{ channel: { from: { id: "u", idType: "Opaque" }, time }, text: "x", metadata: { n: 1 } }, "metadata.n"]
      ]
      for (const [body, field] of cases) {
        const answer = yield* inbound(sim.baseUrl, token, body)
        expect(answer.status, field).toBe(400)
        expect(answer.body).toMatchObject({ code: "bad.request", status: 400 })
        expect(answer.body.message).toContain(field)
      }
      const notJson = yield* call(`${sim.baseUrl}/api/v2/conversations/messages/int-1/inbound/open/message`, {
        token,
        headers: { "content-type": "application/json" },
        body: "{nope"
      })
      expect(notJson.status).toBe(400)
      const unknownIntegration = yield* call(
        `${sim.baseUrl}/api/v2/conversations/messages/int-9/inbound/open/message`,
        {
          token,
          body: message("u")
        }
      )
      expect(unknownIntegration.status).toBe(404)
      expect(sim.conversations()).toEqual([])
    }))

  it.scopedLive("one conversation per from.id while open; conversationId only with prefetch; details; routing; deprecated shape", () =>
    Effect.gen(function*() {
      const sim = yield* makeGenesysSim(simOptions())
      const token = yield* tokenFor(sim.baseUrl)
      const first = yield* inbound(sim.baseUrl, token, message("u-1"))
      expect(first.status).toBe(202)
      expect(first.body).toMatchObject({
        channel: {
          id: "int-1",
          platform: "Open",
          type: "Private",
          messageId: "our-u-1",
          from: { id: "u-1", idType: "Opaque" }
        },
        type: "Text",
        text: "hello"
      })
      expect(first.body.conversationId).toBeUndefined()

      const second = yield* inbound(
        sim.baseUrl,
        token,
        message("u-1", { text: "again" }),
        "?prefetchConversationId=true"
      )
      const conversationId = second.body.conversationId as string
      expect(sim.conversations()).toHaveLength(1)
      const c = sim.conversationOf("u-1")!
      expect(c).toMatchObject({ conversationId, integrationId: "int-1", fromId: "u-1", queueId: "q-1" })
      expect(c.inbound.map((m) => [m.text, m.messageId, m.route])).toEqual([
        ["hello", "our-u-1", "current"],
        ["again", "our-u-1", "current"]
      ])
      expect(c.participants.map((p) => [p.purpose, p.state])).toEqual([
        ["customer", "connected"],
        ["acd", "connected"]
      ])

      const details = yield* call(`${sim.baseUrl}/api/v2/conversations/messages/${first.body.id}/details`, { token })
      expect(details.status).toBe(200)
      expect(details.body).toMatchObject({ id: first.body.id, conversationId })
      expect((yield* call(`${sim.baseUrl}/api/v2/conversations/messages/nope/details`, { token })).status).toBe(404)

      const conversation = yield* call(`${sim.baseUrl}/api/v2/conversations/messages/${conversationId}`, { token })
      expect(conversation.body.participants[1]).toMatchObject({ purpose: "acd", queue: { id: "q-1" }, attributes: {} })
      expect((yield* call(`${sim.baseUrl}/api/v2/conversations/messages/nope`, { token })).status).toBe(404)

      // routing by metadata.queueId, and the older shape on the deprecated route
      yield* inbound(sim.baseUrl, token, message("u-2", { metadata: { queueId: "q-2" } }))
      expect(sim.conversationOf("u-2")!.queueId).toBe("q-2")
      // custom attributes from both places, channel.metadata's first; the SDK's channel.metadata.subType is taken
      const both = message("u-5", { metadata: { queueId: "q-1", plan: "basic" } })
      const sent = {
        ...both,
        channel: { ...both.channel, metadata: { subType: "web", customAttributes: { queueId: "q-2", hbf: "x" } } }
      }
      expect((yield* inbound(sim.baseUrl, token, sent)).status).toBe(202)
      const attributed = sim.conversationOf("u-5")!
      expect(attributed.queueId).toBe("q-2")
      expect(attributed.participants[0]!.attributes).toStrictEqual({ queueId: "q-2", plan: "basic", hbf: "x" })
      expect(attributed.inbound[0]!.sent).toStrictEqual(sent)
      const old = yield* call(`${sim.baseUrl}/api/v2/conversations/messages/inbound/open`, {
        token,
        body: {
          channel: {
            platform: "Open",
            type: "Private",
            to: { id: "int-1" },
            from: { id: "u-3", idType: "Email" },
            time: new Date().toISOString()
          },
          type: "Text",
          direction: "Inbound",
          text: "old style"
        }
      })
      expect(old.status).toBe(202)
      expect(sim.conversationOf("u-3")!.inbound[0]).toMatchObject({ text: "old style", route: "deprecated" })
      const oldBad = yield* call(`${sim.baseUrl}/api/v2/conversations/messages/inbound/open`, {
        token,
        body: message("u-4")
      })
      expect(oldBad.status).toBe(400)
      expect(oldBad.body.message).toContain("channel.platform")

      // ended: the next message opens a new conversation
      yield* sim.endConversation(conversationId)
      const third = yield* inbound(sim.baseUrl, token, message("u-1"), "?prefetchConversationId=true")
      expect(third.body.conversationId).not.toBe(conversationId)
      expect(sim.conversationOf("u-1")!.conversationId).toBe(third.body.conversationId)
    }))

  it.scopedLive("typing events and receipts are validated and recorded", () =>
    Effect.gen(function*() {
      const receiver = yield* webhookReceiver()
      const { sim, token, conversationId } = yield* startConversation(simOptions(receiver.url))
      const from = { id: "u-1", idType: "Opaque" }
      const time = new Date().toISOString()
      const typing = yield* call(`${sim.baseUrl}/api/v2/conversations/messages/int-1/inbound/open/event`, {
        token,
        body: { channel: { from, time }, events: [{ eventType: "Typing", typing: { type: "On", duration: 5000 } }] }
      })
      expect(typing.status).toBe(202)
      const badTyping = yield* call(`${sim.baseUrl}/api/v2/conversations/messages/int-1/inbound/open/event`, {
        token,
        body: { channel: { from, time }, events: [{ eventType: "Typing", typing: { type: "Off" } }] }
      })
      expect(badTyping.status).toBe(400)
      expect(badTyping.body.message).toContain("events.0.typing.type")

      yield* sim.agentJoin(conversationId)
      const { webhookId } = yield* sim.agentSay(conversationId, { text: "hi" })
      const receipt = yield* call(`${sim.baseUrl}/api/v2/conversations/messages/int-1/inbound/open/receipt`, {
        token,
        body: {
          id: webhookId,
          channel: { to: from, time },
          status: "Delivered",
          direction: "Outbound",
          isFinalReceipt: true
        }
      })
      expect(receipt.status).toBe(202)
      const unknownReceipt = yield* call(`${sim.baseUrl}/api/v2/conversations/messages/int-1/inbound/open/receipt`, {
        token,
        body: { id: "nope", channel: { to: from, time }, status: "Failed", direction: "Outbound", isFinalReceipt: true }
      })
      expect(unknownReceipt.status).toBe(404)
      // The endpoint takes Delivered and Failed only (docs/PROVIDERS.md#inbound-user-to-agent): a read receipt is refused.
      const readReceipt = yield* call(`${sim.baseUrl}/api/v2/conversations/messages/int-1/inbound/open/receipt`, {
        token,
        body: { id: webhookId, channel: { to: from, time }, status: "Read" }
      })
      expect(readReceipt.status).toBe(400)
      expect(readReceipt.body.message).toContain("status")
      const c = sim.conversationOf("u-1")!
      expect(c.typingEvents).toBe(1)
      expect(c.receipts).toEqual([{ id: webhookId, status: "Delivered", isFinalReceipt: true, time }])
    }))
})

describe("Genesys simulator: conversation resource and notifications", () => {
  it.scopedLive("agentJoin: user.start's eventTime is the participant's connectedTime; queue topic; users", () =>
    Effect.gen(function*() {
      const { sim, token, conversationId, socket } = yield* watchConversation((id) => [
        detailTopic(id, "user.start"),
        detailTopic(id, "acd.end"),
        "v2.routing.queues.q-1.conversations.messages"
      ])

      const joined = yield* sim.agentJoin(conversationId, { userId: "agent-7", name: "Maria" })
      expect(joined.userId).toBe("agent-7")
      yield* waitFor("user.start", () => socket.frames.some((f) => f.topicName.endsWith(".user.start")))

      const conversation = yield* call(`${sim.baseUrl}/api/v2/conversations/messages/${conversationId}`, { token })
      const agent = conversation.body.participants.find((p: any) => p.purpose === "agent")
      expect(agent).toMatchObject({
        id: joined.participantId,
        state: "connected",
        user: { id: "agent-7" },
        name: "Maria",
        queue: { id: "q-1" }
      })
      const start = socket.frames.find((f) => f.topicName.endsWith(".user.start"))!
      expect(start).toMatchObject({
        version: "2",
        eventBody: {
          conversationId,
          participantId: joined.participantId,
          userId: "agent-7",
          queueId: "q-1",
          mediaType: "MESSAGE"
        }
      })
      expect(typeof start.metadata.CorrelationId).toBe("string")
      expect(start.eventBody.eventTime).toBe(Date.parse(agent.connectedTime))
      expect(socket.frames.find((f) => f.topicName.endsWith(".acd.end"))!.eventBody.disconnectType).toBe("TRANSFER")

      const states = socket.frames
        .filter((f) => f.topicName === "v2.routing.queues.q-1.conversations.messages")
        .map((f) => f.eventBody.participants.find((p: any) => p.purpose === "agent")?.state)
      expect(states).toEqual(["alerting", "connected"])

      const user = yield* call(`${sim.baseUrl}/api/v2/users/agent-7`, { token })
      expect(user.body).toEqual({
        id: "agent-7",
        name: "Maria",
        state: "active",
        version: 1,
        selfUri: "/api/v2/users/agent-7"
      })
    }))

  it.scopedLive("users: the organization's users answer whether or not they ever joined; anybody else is 404", () =>
    Effect.gen(function*() {
      const sim = yield* makeGenesysSim(simOptions(undefined, { users: [{ userId: "agent-9", name: "Nikos" }] }))
      const token = yield* tokenFor(sim.baseUrl)
      const user = (id: string) => call(`${sim.baseUrl}/api/v2/users/${id}`, { token })
      expect((yield* user("agent-9")).body).toMatchObject({ id: "agent-9", name: "Nikos", version: 1 })
      expect((yield* user("genesys-agent-1")).body).toMatchObject({ id: "genesys-agent-1", name: "Sandbox Agent" })
      expect((yield* user("agent-0")).status).toBe(404)
      expect(sim.conversations()).toEqual([])
    }))

  it.scopedLive("notifications without a connected socket are lost; ping gets pong; heartbeats arrive", () =>
    Effect.gen(function*() {
      const { sim, token, conversationId } = yield* startConversation(
        simOptions(undefined, { heartbeatIntervalMs: 100 })
      )
      const topic = detailTopic(conversationId, "user.start")
      const channel = yield* call(`${sim.baseUrl}/api/v2/notifications/channels`, { token, method: "POST" })
      yield* call(`${sim.baseUrl}/api/v2/notifications/channels/${channel.body.id}/subscriptions`, {
        token,
        body: [{ id: topic }]
      })

      yield* sim.agentJoin(conversationId) // nobody listening: lost
      const socket = yield* connect(channel.body.connectUri)
      yield* sim.agentLeave(conversationId, { transfer: true })
      yield* sim.agentJoin(conversationId, { userId: "agent-2" })
      yield* waitFor("user.start", () => socket.frames.some((f) => f.topicName === topic))
      expect(socket.frames.filter((f) => f.topicName === topic).map((f) => f.eventBody.userId)).toEqual(["agent-2"])

      socket.ws.send(JSON.stringify({ message: "ping" }))
      yield* waitFor("pong", () => socket.frames.some((f) => f.eventBody.message === "pong"))
      expect(socket.frames.find((f) => f.eventBody.message === "pong")!.topicName).toBe("channel.metadata")
      yield* waitFor(
        "heartbeat",
        () =>
          socket.frames.some((f) => f.topicName === "channel.metadata" && f.eventBody.message === "WebSocket Heartbeat")
      )
      expect(sim.channels()).toEqual([{
        channelId: channel.body.id,
        clientId: "client-1",
        connected: true,
        topics: [topic],
        rejectedTopics: []
      }])
    }))

  it.scopedLive("a refused topic is answered Rejected with the missing permission and never notified", () =>
    Effect.gen(function*() {
      const { conversationId, sim, token } = yield* startConversation(simOptions())
      const joined = detailTopic(conversationId, "user.start")
      const ended = detailTopic(conversationId, "customer.end")
      // Over HTTP, as curl would.
      expect((yield* call(`${sim.baseUrl}/sim/topics/refuse`, { body: { suffix: "user.start" } })).status).toBe(204)
      expect((yield* call(`${sim.baseUrl}/sim/topics/refuse`, { body: {} })).status).toBe(400)
      const channel = yield* call(`${sim.baseUrl}/api/v2/notifications/channels`, { token, method: "POST" })
      const subscribed = yield* call(`${sim.baseUrl}/api/v2/notifications/channels/${channel.body.id}/subscriptions`, {
        token,
        method: "PUT",
        body: [{ id: joined }, { id: ended }]
      })
      expect(subscribed.body.entities).toEqual([
        { id: ended, state: "Permitted" },
        {
          id: joined,
          state: "Rejected",
          rejectionReason: "MissingPermissions",
          missingPermissions: ["analytics:conversationDetail:view"]
        }
      ])
      const socket = yield* connect(channel.body.connectUri)
      yield* sim.agentJoin(conversationId)
      yield* sim.endConversation(conversationId)
      yield* waitFor("customer.end", () => socket.frames.some((f) => f.topicName === ended))
      expect(socket.frames.some((f) => f.topicName === joined)).toBe(false)
      expect(sim.channels()[0]).toMatchObject({ topics: [ended], rejectedTopics: [joined] })
    }))

  it.scopedLive("PATCH disconnect ends everybody and publishes customer.end and user.end; PUT is not the method", () =>
    Effect.gen(function*() {
      const { sim, token, conversationId, socket } = yield* watchConversation((id) => [
        detailTopic(id, "customer.end"),
        detailTopic(id, "user.end"),
        detailTopic(id, "acw")
      ])
      const agent = yield* sim.agentJoin(conversationId)

      const conversationUrl = `${sim.baseUrl}/api/v2/conversations/messages/${conversationId}`
      const put = yield* call(conversationUrl, { token, method: "PUT", body: { state: "disconnected" } })
      expect(put.status).toBe(404)
      const badState = yield* call(conversationUrl, { token, method: "PATCH", body: { state: "ended" } })
      expect(badState.status).toBe(400)
      expect(badState.body.message).toContain("state")

      const patched = yield* call(conversationUrl, { token, method: "PATCH", body: { state: "disconnected" } })
      expect(patched.status).toBe(200)
      yield* waitFor("customer.end", () => socket.frames.some((f) => f.topicName.endsWith(".customer.end")))
      yield* waitFor("acw", () => socket.frames.some((f) => f.topicName.endsWith(".acw")))

      // answered as the SDK's Conversation: the state on the participant's message communication
      expect(Date.parse(patched.body.startTime)).toBeLessThanOrEqual(Date.now())
      const customer = patched.body.participants.find((p: any) => p.purpose === "customer")
      expect(customer.messages).toEqual([{
        state: "disconnected",
        disconnectType: "client",
        connectedTime: customer.connectedTime,
        disconnectedTime: customer.endTime
      }])
      const customerEnd = socket.frames.find((f) => f.topicName.endsWith(".customer.end"))!
      expect(customerEnd.eventBody).toMatchObject({
        conversationId,
        participantId: customer.id,
        disconnectType: "CLIENT",
        eventTime: Date.parse(customer.endTime)
      })
      expect(socket.frames.find((f) => f.topicName.endsWith(".user.end"))!.eventBody).toMatchObject({
        participantId: agent.participantId,
        userId: agent.userId,
        disconnectType: "PEER"
      })
      expect(sim.conversationOf("u-1")!.participants.every((p) => p.state === "disconnected")).toBe(true)
    }))

  it.scopedLive("participant PATCH, agentLeave (acw) and endConversation (customer gets peer)", () =>
    Effect.gen(function*() {
      const sim = yield* makeGenesysSim(simOptions())
      const token = yield* tokenFor(sim.baseUrl)
      const a = yield* inbound(sim.baseUrl, token, message("u-1"), "?prefetchConversationId=true")
      const first = yield* sim.agentJoin(a.body.conversationId)
      const patched = yield* call(
        `${sim.baseUrl}/api/v2/conversations/messages/${a.body.conversationId}/participants/${first.participantId}`,
        {
          token,
          method: "PATCH",
          body: { state: "disconnected" }
        }
      )
      expect(patched.status).toBe(202)
      expect(sim.conversationOf("u-1")!.participants.find((p) => p.id === first.participantId)).toMatchObject({
        state: "disconnected",
        disconnectType: "client"
      })
      const unknown = yield* call(
        `${sim.baseUrl}/api/v2/conversations/messages/${a.body.conversationId}/participants/nope`,
        {
          token,
          method: "PATCH",
          body: { state: "disconnected" }
        }
      )
      expect(unknown.status).toBe(404)

      const b = yield* inbound(sim.baseUrl, token, message("u-2"), "?prefetchConversationId=true")
      yield* sim.agentJoin(b.body.conversationId)
      yield* sim.agentLeave(b.body.conversationId)
      const left = sim.conversationOf("u-2")!.participants.find((p) => p.purpose === "agent")!
      expect(left).toMatchObject({ state: "disconnected", disconnectType: "client" })
      expect(left.startAcwTime).toBe(left.endTime)

      const c = yield* inbound(sim.baseUrl, token, message("u-3"), "?prefetchConversationId=true")
      yield* sim.agentJoin(c.body.conversationId)
      yield* sim.endConversation(c.body.conversationId)
      expect(sim.conversationOf("u-3")!.participants.map((p) => [p.purpose, p.state, p.disconnectType])).toEqual([
        ["customer", "disconnected", "peer"],
        ["acd", "disconnected", "transfer"],
        ["agent", "disconnected", "client"]
      ])
    }))
})

describe("Genesys simulator: outbound webhooks", () => {
  it.scopedLive("agentSay posts a base64-signed webhook, retries 503 byte-identically, and resends identically", () =>
    Effect.gen(function*() {
      const receiver = yield* webhookReceiver([503, 503])
      const { sim, conversationId } = yield* startConversation(simOptions(receiver.url))
      yield* sim.agentJoin(conversationId, { userId: "agent-7", name: "Maria" })

      const said = yield* sim.agentSay(conversationId, {
        text: "How can I help?",
        attachments: [{ url: "https://cdn.example.com/files/menu.pdf", mime: "application/pdf" }]
      })
      expect(said.status).toBe(200)
      expect(receiver.hits).toHaveLength(3)
      const [hit] = receiver.hits
      const signature = hit!.headers["x-hub-signature-256"]
      expect(receiver.hits.every((h) => h.raw.equals(hit!.raw) && h.headers["x-hub-signature-256"] === signature)).toBe(
        true
      )
      expect(hit!.headers["content-type"]).toBe("application/json")
      expect(hit!.headers["x-hub-signature-256"]).toBe(hmac(WEBHOOK_SECRET, hit!.raw, "base64"))
      expect(JSON.parse(hit!.raw.toString("utf8"))).toMatchObject({
        id: said.webhookId,
        channel: {
          id: "int-1",
          platform: "Open",
          type: "Private",
          to: { id: "u-1", idType: "Opaque" },
          // As at Genesys: the integration sends, not the agent.
          from: { nickname: "Acme Open Messaging", id: "int-1", idType: "Opaque" },
          messageId: said.webhookId
        },
        type: "Text",
        text: "How can I help?",
        content: [
          {
            contentType: "Attachment",
            attachment: {
              mediaType: "File",
              url: "https://cdn.example.com/files/menu.pdf",
              mime: "application/pdf",
              filename: "menu.pdf"
            }
          }
        ],
        direction: "Outbound",
        originatingEntity: "Human"
      })
      // as in the SDK's ConversationNormalizedMessage and the documented examples
      expect(JSON.parse(hit!.raw.toString("utf8")).conversationId).toBeUndefined()

      const typing = yield* sim.agentTyping(conversationId)
      expect(typing.status).toBe(200)
      expect(JSON.parse(receiver.hits[3]!.raw.toString("utf8"))).toMatchObject({
        type: "Event",
        events: [{ eventType: "Typing", typing: { type: "On", duration: 5000 } }]
      })

      expect(yield* sim.resendWebhook(said.webhookId)).toBe(200)
      expect(receiver.hits[4]!.raw.equals(hit!.raw)).toBe(true)
      expect(receiver.hits[4]!.headers["x-hub-signature-256"]).toBe(hit!.headers["x-hub-signature-256"])
    }))

  it.scopedLive("gives up after 5 retries and answers the last status", () =>
    Effect.gen(function*() {
      const receiver = yield* webhookReceiver([500, 500, 500, 500, 500, 500, 500])
      const { sim, conversationId } = yield* startConversation(simOptions(receiver.url, { webhookRetryDelayMs: 10 }))
      yield* sim.agentJoin(conversationId)
      const said = yield* sim.agentSay(conversationId, { text: "hi" })
      expect(said.status).toBe(500)
      expect(receiver.hits).toHaveLength(6)
      const rejected = yield* webhookReceiver([400])
      const second = yield* startConversation(simOptions(rejected.url))
      yield* second.sim.agentJoin(second.conversationId)
      expect((yield* second.sim.agentSay(second.conversationId, { text: "hi" })).status).toBe(400)
      expect(rejected.hits).toHaveLength(1)
    }))
})

describe("Genesys simulator: limits and failures", () => {
  it.scopedLive("failNext answers 429 with Retry-After; the rate limit answers 429 too-many-requests", () =>
    Effect.gen(function*() {
      const sim = yield* makeGenesysSim(simOptions(undefined, { requestsPerMinute: 3 }))
      const token = yield* tokenFor(sim.baseUrl)
      yield* sim.failNext(2, 429, 7)
      const url = `${sim.baseUrl}/api/v2/routing/queues/q-1/mediatypes/message/estimatedwaittime`
      for (let i = 0; i < 2; i++) {
        const scripted = yield* call(url, { token })
        expect(scripted.status).toBe(429)
        expect(scripted.headers.get("retry-after")).toBe("7")
        expect(scripted.body).toMatchObject({ code: "too.many.requests.retry.after", status: 429 })
      }
      yield* sim.failNext(1, 503)
      expect((yield* call(url, { token })).status).toBe(503)

      for (let i = 0; i < 3; i++) {
        const ok = yield* call(url, { token })
        expect(ok.status).toBe(200)
        expect(ok.body).toEqual({ results: [{ formula: "BEST", estimatedWaitTimeSeconds: 42 }] })
      }
      const limited = yield* call(url, { token })
      expect(limited.status).toBe(429)
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
      expect(limited.body).toMatchObject({ code: "too.many.requests.retry.after", status: 429 })
      // per token: a fresh token has its own minute
      expect((yield* call(url, { token: yield* tokenFor(sim.baseUrl) })).status).toBe(200)
      expect(sim.requests().map((r) => r.status)).toEqual([429, 429, 503, 200, 200, 200, 429, 200])
    }))

  it.scopedLive("availability: estimated wait and agents on queue", () =>
    Effect.gen(function*() {
      const sim = yield* makeGenesysSim(simOptions())
      const token = yield* tokenFor(sim.baseUrl)
      const query = (queueIds: ReadonlyArray<string>) => ({
        filter: {
          type: "or",
          predicates: queueIds.map((value) => ({ type: "dimension", dimension: "queueId", operator: "matches", value }))
        },
        metrics: ["oOnQueueUsers"]
      })
      const observed = yield* call(`${sim.baseUrl}/api/v2/analytics/queues/observations/query`, {
        token,
        body: query(["q-1", "q-2"])
      })
      expect(observed.status).toBe(200)
      expect(observed.body).toEqual({
        results: [
          { group: { queueId: "q-1" }, data: [{ metric: "oOnQueueUsers", qualifier: "IDLE", stats: { count: 3 } }] },
          { group: { queueId: "q-2" } }
        ]
      })
      // the SDK's other forms: predicates in clauses, and media type predicates (one group per queue and media type)
      const byMedia = yield* call(`${sim.baseUrl}/api/v2/analytics/queues/observations/query`, {
        token,
        body: {
          filter: {
            type: "and",
            clauses: [
              { type: "or", predicates: [{ dimension: "queueId", value: "q-1" }] },
              {
                type: "or",
                predicates: [
                  { type: "dimension", dimension: "mediaType", operator: "matches", value: "message" },
                  { dimension: "mediaType", value: "voice" }
                ]
              }
            ]
          },
          metrics: ["oOnQueueUsers", "oWaiting"]
        }
      })
      expect(byMedia.status).toBe(200)
      expect(byMedia.body).toEqual({
        results: [
          {
            group: { queueId: "q-1", mediaType: "message" },
            data: [{ metric: "oOnQueueUsers", qualifier: "IDLE", stats: { count: 3 } }]
          },
          { group: { queueId: "q-1", mediaType: "voice" } }
        ]
      })
      const bad = yield* call(`${sim.baseUrl}/api/v2/analytics/queues/observations/query`, {
        token,
        body: { filter: { type: "or", predicates: [] }, metrics: [] }
      })
      expect(bad.status).toBe(400)
      expect(bad.body.message).toContain("filter.predicates")
      expect(bad.body.message).toContain("metrics")
      const noQueue = yield* call(`${sim.baseUrl}/api/v2/analytics/queues/observations/query`, {
        token,
        body: {
          filter: { type: "or", clauses: [{ type: "or", predicates: [{ dimension: "mediaType", value: "message" }] }] },
          metrics: ["oOnQueueUsers"]
        }
      })
      expect(noQueue.status).toBe(400)
      expect(noQueue.body.message).toContain("no queueId")
      expect(
        (yield* call(`${sim.baseUrl}/api/v2/routing/queues/q-9/mediatypes/message/estimatedwaittime`, { token })).status
      ).toBe(404)
    }))

  it.scopedLive("channels: HEAD 200/404, the 21st evicts the least recently used, 1,000 topics at most", () =>
    Effect.gen(function*() {
      const sim = yield* makeGenesysSim(simOptions())
      const token = yield* tokenFor(sim.baseUrl)
      const channelsUrl = `${sim.baseUrl}/api/v2/notifications/channels`
      const ids: Array<string> = []
      let firstUri = ""
      for (let i = 0; i < 20; i++) {
        const created = yield* call(channelsUrl, { token, method: "POST" })
        expect(created.body.connectUri).toBe(`${sim.baseUrl.replace("http", "ws")}/channels/${created.body.id}`)
        expect(Date.parse(created.body.expires)).toBeGreaterThan(Date.now() + 23 * 3_600_000)
        ids.push(created.body.id)
        if (i === 0) firstUri = created.body.connectUri
      }
      const oldest = yield* connect(firstUri)
      // touching channel 0 (socket) and 1 (subscriptions) leaves channel 2 the least recently used
      yield* call(`${channelsUrl}/${ids[1]}/subscriptions`, { token, body: [{ id: "v2.users.x.presence" }] })
      expect((yield* call(`${channelsUrl}/${ids[2]}`, { token, method: "HEAD" })).status).toBe(200)
      const twentyFirst = yield* call(channelsUrl, { token, method: "POST" })
      expect(twentyFirst.status).toBe(200)
      expect((yield* call(`${channelsUrl}/${ids[2]}`, { token, method: "HEAD" })).status).toBe(404)
      expect((yield* call(`${channelsUrl}/${ids[0]}`, { token, method: "HEAD" })).status).toBe(200)
      expect(oldest.closed()).toBe(false)
      expect(sim.channels()).toHaveLength(20)

      // another client does not see (or evict) client-1's channels
      const other = yield* tokenFor(sim.baseUrl, "client-2", "secret-2")
      expect((yield* call(`${channelsUrl}/${ids[0]}`, { token: other, method: "HEAD" })).status).toBe(404)

      const subs = `${channelsUrl}/${ids[0]}/subscriptions`
      const many = Array.from({ length: 1000 }, (_, i) => ({ id: `v2.routing.queues.q${i}.conversations.messages` }))
      expect((yield* call(subs, { token, method: "PUT", body: many })).body.entities).toHaveLength(1000)
      const tooMany = yield* call(subs, { token, body: [{ id: "one.more" }] })
      expect(tooMany.status).toBe(400)
      expect(tooMany.body.code).toBe("bad.request")
      expect((yield* call(subs, { token, method: "PUT", body: [{ id: "a" }, { id: "b" }] })).body).toEqual({
        entities: [{ id: "a", state: "Permitted" }, { id: "b", state: "Permitted" }]
      })
      expect((yield* call(subs, { token, body: [{ id: "b" }, { id: "c" }] })).body.entities).toEqual([
        { id: "a", state: "Permitted" },
        { id: "b", state: "Permitted" },
        { id: "c", state: "Permitted" }
      ])
      expect((yield* call(subs, { token, method: "DELETE" })).status).toBe(204)
      expect((yield* call(subs, { token })).body).toEqual({ entities: [] })
      expect((yield* call(subs, { token, body: [{}] })).body.message).toContain("0.id")
      expect((yield* call(`${channelsUrl}/nope/subscriptions`, { token })).status).toBe(404)
    }))

  it.scopedLive("closeSockets announces socket_closing; dropSockets cuts without a close frame; a second socket replaces the first", () =>
    Effect.gen(function*() {
      const sim = yield* makeGenesysSim(simOptions())
      const token = yield* tokenFor(sim.baseUrl)
      const channel = yield* call(`${sim.baseUrl}/api/v2/notifications/channels`, { token, method: "POST" })
      const first = yield* connect(channel.body.connectUri)
      const second = yield* connect(channel.body.connectUri)
      yield* waitFor("the first socket to close", first.closed)
      expect(sim.channels()[0]!.connected).toBe(true)

      yield* sim.closeSockets()
      yield* waitFor("the second socket to close", second.closed)
      expect(second.frames.map((f) => f.topicName)).toEqual(["v2.system.socket_closing"])

      const third = yield* connect(channel.body.connectUri)
      const codes: Array<number> = []
      third.ws.on("close", (code) => codes.push(code))
      yield* sim.dropSockets()
      yield* waitFor("the third socket to drop", third.closed)
      expect(codes).toEqual([1006]) // abnormal closure: no close frame
      yield* waitFor("the channel to show no socket", () => sim.channels()[0]!.connected === false)

      const unknown = yield* Effect.promise(
        () =>
          new Promise<string>((resolve) => {
            const ws = new WebSocket(`${sim.baseUrl.replace("http", "ws")}/channels/nope`)
            ws.on("unexpected-response", (_req, res) => resolve(String(res.statusCode)))
            ws.on("error", (e) => resolve(e.message))
          })
      )
      expect(unknown).toBe("404")
    }))
})

describe("Genesys simulator: sandbox routes", () => {
  it.scopedLive("drives the agent over HTTP without auth", () =>
    Effect.gen(function*() {
      const receiver = yield* webhookReceiver()
      const { sim, conversationId } = yield* startConversation(simOptions(receiver.url))
      const base = `${sim.baseUrl}/sim/conversations/${conversationId}`
      expect((yield* call(`${base}/join`, { body: { userId: "agent-3", name: "Bo" } })).body).toMatchObject({
        userId: "agent-3"
      })
      const said = yield* call(`${base}/say`, { body: { text: "hello from Bo" } })
      expect(said.body).toMatchObject({ status: 200 })
      expect((yield* call(`${sim.baseUrl}/sim/webhooks/${said.body.webhookId}/resend`, { method: "POST" })).body.status)
        .toBe(200)
      // Attachments in the gateway's shape, { url, contentType, name? }, sent as Genesys attachments.
      const attached = yield* call(`${base}/say`, {
        body: {
          attachments: [
            { url: "https://cdn.example.com/menu.pdf", contentType: "application/pdf", name: "Menu.pdf" },
            { url: "https://cdn.example.com/a%20b.png", contentType: "image/png" }
          ]
        }
      })
      expect(attached.body).toMatchObject({ status: 200 })
      expect(JSON.parse(receiver.hits.at(-1)!.raw.toString("utf8")).content).toMatchObject([
        {
          contentType: "Attachment",
          attachment: {
            mediaType: "File",
            url: "https://cdn.example.com/menu.pdf",
            mime: "application/pdf",
            filename: "Menu.pdf"
          }
        },
        {
          contentType: "Attachment",
          attachment: {
            mediaType: "Image",
            url: "https://cdn.example.com/a%20b.png",
            mime: "image/png",
            filename: "a b.png"
          }
        }
      ])
      const genesysShape = yield* call(`${base}/say`, {
        body: { attachments: [{ url: "https://cdn.example.com/menu.pdf", mime: "application/pdf" }] }
      })
      expect(genesysShape.status).toBe(400)
      expect(JSON.stringify(genesysShape.body)).toContain("attachments.0.contentType")
      expect((yield* call(`${base}/leave`, { method: "POST" })).status).toBe(204)
      expect((yield* call(`${base}/say`, { body: { text: "gone" } })).status).toBe(409)
      expect((yield* call(`${sim.baseUrl}/sim/conversations/nope/join`, { method: "POST" })).status).toBe(404)
      expect((yield* call(`${sim.baseUrl}/sim/fail`, { body: { n: 1, status: 418 } })).status).toBe(400)
      expect((yield* call(`${sim.baseUrl}/sim/conversations`)).body[0].participants.map((p: any) => p.purpose)).toEqual(
        ["customer", "acd", "agent"]
      )
      expect(receiver.hits).toHaveLength(3)
    }))

  it.scopedLive("a queue's estimated wait is set over HTTP: the estimated wait time call answers it, or no estimate", () =>
    Effect.gen(function*() {
      const sim = yield* makeGenesysSim(simOptions())
      const token = yield* tokenFor(sim.baseUrl)
      const estimate = () =>
        Effect.map(
          call(`${sim.baseUrl}/api/v2/routing/queues/q-1/mediatypes/message/estimatedwaittime`, { token }),
          (a) => a.body
        )
      expect(yield* estimate()).toEqual({ results: [{ formula: "BEST", estimatedWaitTimeSeconds: 42 }] })
      expect((yield* call(`${sim.baseUrl}/sim/queues/q-1/estimated-wait`, { body: { seconds: 120 } })).status).toBe(204)
      expect(yield* estimate()).toEqual({ results: [{ formula: "BEST", estimatedWaitTimeSeconds: 120 }] })
      expect((yield* call(`${sim.baseUrl}/sim/queues/q-1/estimated-wait`, { body: { seconds: null } })).status).toBe(
        204
      )
      expect(yield* estimate()).toEqual({ results: [{ formula: "BEST" }] })
      expect((yield* call(`${sim.baseUrl}/sim/queues/q-1/estimated-wait`, { body: { seconds: -1 } })).status).toBe(400)
      expect((yield* call(`${sim.baseUrl}/sim/queues/q-9/estimated-wait`, { body: { seconds: 5 } })).status).toBe(404)
    }))
})

import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { makeEventPublisherSim } from "../../sandbox/eventPublisherSim.js"
import { makeHbfBotSim } from "../../sandbox/hbfBotSim.js"
import { makeHbfCoreSim } from "../../sandbox/hbfCoreSim.js"
import { makeHbfLcmSim } from "../../sandbox/hbfLcm/index.js"
import { call, hmac, makeReceiver } from "./httpHelpers.js"

// ---------------------------------------------------------------------------------------
// hbf-core

const CORE_TOKEN = "core-token"
const tenant = {
  id: "t1",
  displayName: "Acme bot",
  timezone: "Europe/Athens",
  image: "https://example.com/bot.png",
  organization: "org1",
  plugins: [
    {
      category: "LIVECHAT",
      integrationId: "int1",
      integration: {
        id: "int1",
        enabled: true,
        category: "LIVECHAT",
        type: "HELVIA_LIVECHAT",
        helvia: { webhookSecret: "s1" }
      }
    }
  ]
}
const coreSim = makeHbfCoreSim({
  token: CORE_TOKEN,
  tenants: [tenant],
  organizations: [{ id: "org1", displayName: "Acme", timezone: "Europe/Athens" }]
})

describe("hbf-core simulator", () => {
  it.scopedLive("serves tenants with and without plugins and counts calls", () =>
    Effect.gen(function*() {
      const sim = yield* coreSim
      expect(sim.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      const full = yield* call(`${sim.baseUrl}/tenants/t1?includePlugins=true`, { token: CORE_TOKEN })
      expect(full.status).toBe(200)
      expect(full.body).toEqual(tenant)
      const bare = yield* call(`${sim.baseUrl}/tenants/t1`, { token: CORE_TOKEN })
      expect(bare.status).toBe(200)
      expect(bare.body.plugins).toBeUndefined()
      expect(bare.body.organization).toBe("org1")
      expect(sim.tenantCalls("t1")).toBe(2)
      expect(sim.tenantCalls("t2")).toBe(0)

      const org = yield* call(`${sim.baseUrl}/organizations/org1`, { token: CORE_TOKEN })
      expect(org).toMatchObject({ status: 200, body: { id: "org1", displayName: "Acme", timezone: "Europe/Athens" } })
    }))

  it.scopedLive("rejects a missing or wrong token with 401 JSON, unknown ids with 404 { message }", () =>
    Effect.gen(function*() {
      const sim = yield* coreSim
      const none = yield* call(`${sim.baseUrl}/tenants/t1`)
      expect(none.status).toBe(401)
      expect(none.headers.get("content-type")).toContain("application/json")
      expect(none.body.message).toBeTypeOf("string")
      expect((yield* call(`${sim.baseUrl}/tenants/t1`, { token: "nope" })).status).toBe(401)
      expect((yield* call(`${sim.baseUrl}/organizations/org1`, { token: "nope" })).status).toBe(401)

      const unknown = yield* call(`${sim.baseUrl}/tenants/zz?includePlugins=true`, { token: CORE_TOKEN })
      expect(unknown.status).toBe(404)
      expect(unknown.body.message).toContain("zz")
      expect((yield* call(`${sim.baseUrl}/organizations/zz`, { token: CORE_TOKEN })).status).toBe(404)
      expect((yield* call(`${sim.baseUrl}/nowhere`, { token: CORE_TOKEN })).status).toBe(404)
    }))

  it.scopedLive("setTenant / removeTenant / failNext", () =>
    Effect.gen(function*() {
      const sim = yield* coreSim
      sim.setTenant({ id: "t2", displayName: "Second", organization: { id: "org1" } })
      expect((yield* call(`${sim.baseUrl}/tenants/t2`, { token: CORE_TOKEN })).body.displayName).toBe("Second")
      sim.removeTenant("t2")
      expect((yield* call(`${sim.baseUrl}/tenants/t2`, { token: CORE_TOKEN })).status).toBe(404)

      sim.failNext(2, 503)
      expect((yield* call(`${sim.baseUrl}/tenants/t1`, { token: CORE_TOKEN })).status).toBe(503)
      expect((yield* call(`${sim.baseUrl}/organizations/org1`, { token: CORE_TOKEN })).status).toBe(503)
      expect((yield* call(`${sim.baseUrl}/tenants/t1`, { token: CORE_TOKEN })).status).toBe(200)
      expect(sim.tenantCalls("t1")).toBe(2)
    }))

  it.live("closes its server with the Scope", () =>
    Effect.gen(function*() {
      const baseUrl = yield* Effect.scoped(Effect.map(coreSim, (sim) => sim.baseUrl))
      const after = yield* Effect.either(Effect.tryPromise(() => fetch(`${baseUrl}/tenants/t1`)))
      expect(Either.isLeft(after)).toBe(true)
    }))
})

// ---------------------------------------------------------------------------------------
// hbf-lcm

const LCM_TOKEN = "lcm-token"
const SECRET = "helvia-secret"
const lcmSim = makeHbfLcmSim({
  token: LCM_TOKEN,
  webhookSecretFor: (tenantId) => (tenantId === "t1" ? SECRET : undefined)
})

const createBody = (callbackUrl: string, platformSessionId = "sess-1") => ({
  type: "external",
  status: "new",
  requestedDate: new Date().toISOString(),
  platformSessionId,
  platformUserId: "sub-1",
  platformUserName: "Jane",
  platformUserEmail: "jane@example.com",
  platformType: "LIVECHAT",
  platformOrigin: "hbf-lcg",
  organizationId: "org1",
  tenantId: "t1",
  tenantName: "Acme bot",
  tenantImageUrl: "https://example.com/bot.png",
  extras: {
    callbackUrl,
    transcript: [{ author: "user", text: "hi", at: new Date().toISOString() }],
    metadata: { plan: "gold", vip: true }
  }
})

const messageBody = (platformSessionId = "sess-1") => ({
  platformSessionId,
  platformUserId: "sub-1",
  messageId: "m-1",
  text: "hello agent",
  sentDate: new Date().toISOString()
})

describe("hbf-lcm simulator", () => {
  it.scopedLive("creates requests idempotently on platformSessionId", () =>
    Effect.gen(function*() {
      const sim = yield* lcmSim
      const first = yield* call(`${sim.baseUrl}/livechat-requests`, {
        token: LCM_TOKEN,
        body: createBody("http://127.0.0.1:1/events/helvia-livechat")
      })
      expect(first.status).toBe(204)
      const again = yield* call(`${sim.baseUrl}/livechat-requests`, {
        token: LCM_TOKEN,
        body: createBody("http://127.0.0.1:1/events/helvia-livechat")
      })
      expect(again.status).toBe(204)
      expect(sim.requests()).toHaveLength(1)
      expect(sim.requests()[0]).toMatchObject({
        platformSessionId: "sess-1",
        status: "open",
        tenantId: "t1",
        createCalls: 2
      })
      expect(sim.requests()[0]!.body.extras.metadata).toEqual({ plan: "gold", vip: true })
    }))

  it.scopedLive("rejects bad tokens, bad bodies (naming the field) and unknown tenants", () =>
    Effect.gen(function*() {
      const sim = yield* lcmSim
      const url = `${sim.baseUrl}/livechat-requests`
      const good = createBody("http://127.0.0.1:1/cb")
      expect((yield* call(url, { body: good })).status).toBe(401)
      expect((yield* call(url, { token: "wrong", body: good })).status).toBe(401)

      const { platformUserName: _omitted, ...missingName } = good
      const missing = yield* call(url, { token: LCM_TOKEN, body: missingName })
      expect(missing.status).toBe(400)
      expect(missing.body.message).toContain("platformUserName")
      expect(missing.body.fields).toContainEqual({ path: "platformUserName", message: "is missing" })

      const wrongLiteral = yield* call(url, {
        token: LCM_TOKEN,
        body: { ...good, type: "internal", platformType: "WEB" }
      })
      expect(wrongLiteral.status).toBe(400)
      expect(wrongLiteral.body.fields.map((f: { path: string }) => f.path)).toEqual(
        expect.arrayContaining(["type", "platformType"])
      )

      const badUrl = yield* call(url, { token: LCM_TOKEN, body: { ...good, extras: { callbackUrl: "not a url" } } })
      expect(badUrl.status).toBe(400)
      expect(badUrl.body.message).toContain("extras.callbackUrl")

      const badDate = yield* call(url, { token: LCM_TOKEN, body: { ...good, requestedDate: "yesterday" } })
      expect(badDate.status).toBe(400)
      expect(badDate.body.message).toContain("requestedDate")
      const wrongType = yield* call(url, { token: LCM_TOKEN, body: { ...good, requestedDate: 12 } })
      expect(wrongType.status).toBe(400)
      expect(wrongType.body.message).toContain("requestedDate")

      const malformed = yield* call(url, {
        token: LCM_TOKEN,
        body: "{not json",
        headers: { "content-type": "application/json" }
      })
      expect(malformed.status).toBe(400)
      expect(malformed.body.error).toBe("BadRequest")

      const notJson = yield* call(url, {
        token: LCM_TOKEN,
        body: JSON.stringify(good),
        headers: { "content-type": "text/plain" }
      })
      expect(notJson.status).toBe(415)

      const otherTenant = yield* call(url, { token: LCM_TOKEN, body: { ...good, tenantId: "t9" } })
      expect(otherTenant.status).toBe(404)
      expect(sim.requests()).toHaveLength(0)
    }))

  it.scopedLive("records user messages; 404 for unknown, other-org or ended requests; DELETE ends", () =>
    Effect.gen(function*() {
      const sim = yield* lcmSim
      yield* call(`${sim.baseUrl}/livechat-requests`, { token: LCM_TOKEN, body: createBody("http://127.0.0.1:1/cb") })
      const messages = `${sim.baseUrl}/organizations/org1/livechat-messages`

      expect((yield* call(messages, { body: messageBody() })).status).toBe(401)
      expect((yield* call(messages, { token: LCM_TOKEN, body: messageBody() })).status).toBe(204)
      const attachment = { url: "https://example.com/a.png", contentType: "image/png", name: "a.png", size: 10 }
      const { text: _t, ...withoutText } = messageBody()
      expect(
        (yield* call(messages, {
          token: LCM_TOKEN,
          body: { ...withoutText, messageId: "m-2", attachments: [attachment] }
        })).status
      ).toBe(204)
      expect(sim.messages("sess-1").map((m) => m.messageId)).toEqual(["m-1", "m-2"])
      expect(sim.messages("sess-1")[0]).toMatchObject({ organizationId: "org1", text: "hello agent" })

      const empty = yield* call(messages, { token: LCM_TOKEN, body: withoutText })
      expect(empty.status).toBe(400)
      expect(empty.body.fields[0].path).toBe("text")
      const noId = yield* call(messages, { token: LCM_TOKEN, body: { ...messageBody(), messageId: undefined } })
      expect(noId.status).toBe(400)
      expect(noId.body.message).toContain("messageId")

      expect((yield* call(messages, { token: LCM_TOKEN, body: messageBody("sess-unknown") })).status).toBe(404)
      expect(
        (yield* call(`${sim.baseUrl}/organizations/org2/livechat-messages`, { token: LCM_TOKEN, body: messageBody() }))
          .status
      ).toBe(404)

      expect((yield* call(`${sim.baseUrl}/livechat-requests/sess-1`, { method: "DELETE" })).status).toBe(401)
      expect((yield* call(`${sim.baseUrl}/livechat-requests/sess-1`, { method: "DELETE", token: LCM_TOKEN })).status)
        .toBe(204)
      expect(sim.request("sess-1")).toMatchObject({ status: "ended", endedBy: "user" })
      expect((yield* call(messages, { token: LCM_TOKEN, body: { ...messageBody(), messageId: "m-3" } })).status).toBe(
        404
      )
      expect((yield* call(`${sim.baseUrl}/livechat-requests/nope`, { method: "DELETE", token: LCM_TOKEN })).status)
        .toBe(404)
    }))

  it.scopedLive("agent actions post signed webhooks; resend is byte-identical", () =>
    Effect.gen(function*() {
      const gateway = yield* makeReceiver()
      const sim = yield* lcmSim
      const callbackUrl = `${gateway.url}/events/helvia-livechat`
      yield* call(`${sim.baseUrl}/livechat-requests`, { token: LCM_TOKEN, body: createBody(callbackUrl) })

      const joined = yield* sim.join("sess-1", { id: "a7", fullName: "Maria", image: "https://example.com/m.png" })
      expect(joined).toMatchObject({ status: 200, body: { accepted: 1 } })
      expect(joined.eventId).toMatch(/^lcm-evt-/)
      const said = yield* sim.say("sess-1", "How can I help?", [{
        name: "f.pdf",
        path: "https://example.com/f.pdf",
        mimetype: "application/pdf"
      }])
      const typed = yield* sim.typing("sess-1", true)
      const transferred = yield* sim.transfer("sess-1")
      expect(sim.request("sess-1")?.agent).toBeUndefined()
      yield* sim.join("sess-1")
      const ended = yield* sim.end("sess-1")
      expect(sim.request("sess-1")).toMatchObject({ status: "ended", endedBy: "agent" })

      expect(gateway.hits).toHaveLength(6)
      for (const hit of gateway.hits) {
        expect(hit.url).toBe("/events/helvia-livechat")
        expect(hit.headers["content-type"]).toBe("application/json")
        expect(hit.headers["x-helvia-signature"]).toBe(hmac(SECRET, hit.raw))
      }
      const bodies = gateway.hits.map((h) => JSON.parse(h.raw.toString("utf8")))
      expect(bodies.map((b) => b.type)).toEqual([
        "CONVERSATION_BEGIN",
        "MESSAGE",
        "CONVERSATION_TYPING",
        "TRANSFER_REQUEST",
        "CONVERSATION_BEGIN",
        "CONVERSATION_END"
      ])
      expect(new Set(bodies.map((b) => b.id)).size).toBe(6)
      expect(bodies[0]).toMatchObject({
        id: joined.eventId,
        platformSessionId: "sess-1",
        platformUserId: "sub-1",
        agent: { id: "a7", fullName: "Maria", image: "https://example.com/m.png" }
      })
      expect(Date.parse(bodies[0].occurredAt)).not.toBeNaN()
      expect(bodies[1]).toMatchObject({
        id: said.eventId,
        agent: { fullName: "Maria" },
        message: {
          text: "How can I help?",
          attachments: [{ name: "f.pdf", path: "https://example.com/f.pdf", mimetype: "application/pdf" }]
        }
      })
      expect(bodies[2]).toMatchObject({ id: typed.eventId, typing: true })
      expect(bodies[3]).toMatchObject({ id: transferred.eventId, type: "TRANSFER_REQUEST" })
      expect(bodies[4].agent).toEqual({ id: "lcm-agent-1", fullName: "Sandbox Agent" })
      expect(bodies[5]).toMatchObject({ id: ended.eventId })

      const again = yield* sim.resend(said.eventId)
      expect(again).toMatchObject({ eventId: said.eventId, status: 200 })
      const resent = gateway.hits[6]!
      expect(resent.raw.equals(gateway.hits[1]!.raw)).toBe(true)
      expect(resent.headers["x-helvia-signature"]).toBe(gateway.hits[1]!.headers["x-helvia-signature"])
      expect(sim.webhooks().find((w) => w.eventId === said.eventId)?.responses).toHaveLength(2)

      const unknown = yield* Effect.flip(sim.say("nope", "x"))
      expect(unknown).toMatchObject({ _tag: "LcmSimError", status: 404 })
      expect((yield* Effect.flip(sim.resend("lcm-evt-unknown"))).status).toBe(404)
    }))

  it.scopedLive("missed ends the request; an unreachable callback is a 502 LcmSimError", () =>
    Effect.gen(function*() {
      const gateway = yield* makeReceiver()
      const sim = yield* lcmSim
      yield* call(`${sim.baseUrl}/livechat-requests`, {
        token: LCM_TOKEN,
        body: createBody(`${gateway.url}/events/helvia-livechat`)
      })
      yield* sim.missed("sess-1")
      expect(sim.request("sess-1")).toMatchObject({ status: "ended", endedBy: "missed" })
      const body = JSON.parse(gateway.hits[0]!.raw.toString("utf8"))
      expect(body.type).toBe("REQUEST_MISSED")
      expect(body.agent).toBeUndefined()

      yield* call(`${sim.baseUrl}/livechat-requests`, {
        token: LCM_TOKEN,
        body: createBody("http://127.0.0.1:1/cb", "sess-2")
      })
      const failed = yield* Effect.flip(sim.join("sess-2"))
      expect(failed.status).toBe(502)
    }))

  it.scopedLive("sandbox agent routes drive the agent over HTTP without auth", () =>
    Effect.gen(function*() {
      const gateway = yield* makeReceiver()
      const sim = yield* lcmSim
      yield* call(`${sim.baseUrl}/livechat-requests`, {
        token: LCM_TOKEN,
        body: createBody(`${gateway.url}/events/helvia-livechat`)
      })
      const agent = `${sim.baseUrl}/sandbox/agent/sess-1`

      const join = yield* call(`${agent}/join`, { method: "POST", body: { fullName: "Nick" } })
      expect(join).toMatchObject({ status: 200, body: { status: 200, body: { accepted: 1 } } })
      // curl -d sends application/x-www-form-urlencoded: still read as JSON
      const say = yield* call(`${agent}/say`, {
        body: JSON.stringify({ text: "hi there" }),
        headers: { "content-type": "application/x-www-form-urlencoded" }
      })
      expect(say.status).toBe(200)
      expect(say.body.eventId).toMatch(/^lcm-evt-/)
      expect((yield* call(`${agent}/typing`, { body: { on: false } })).status).toBe(200)
      expect((yield* call(`${agent}/end`, { method: "POST" })).status).toBe(200)
      expect(gateway.hits.map((h) => JSON.parse(h.raw.toString("utf8")).type)).toEqual([
        "CONVERSATION_BEGIN",
        "MESSAGE",
        "CONVERSATION_TYPING",
        "CONVERSATION_END"
      ])
      expect(JSON.parse(gateway.hits[0]!.raw.toString("utf8")).agent.fullName).toBe("Nick")
      expect(JSON.parse(gateway.hits[2]!.raw.toString("utf8")).typing).toBe(false)

      const resend = yield* call(`${sim.baseUrl}/sandbox/events/${say.body.eventId}/resend`, { method: "POST" })
      expect(resend.status).toBe(200)
      expect(gateway.hits[4]!.raw.equals(gateway.hits[1]!.raw)).toBe(true)

      // Attachments in the gateway's shape, { url, contentType, name? }, sent as hbf-lcm's { name, path, mimetype }.
      const attached = yield* call(`${agent}/say`, {
        body: {
          text: "files",
          attachments: [
            { url: "https://example.com/f.pdf", contentType: "application/pdf", name: "Terms.pdf" },
            { url: "https://example.com/docs/menu%20v2.png", contentType: "image/png" }
          ]
        }
      })
      expect(attached.status).toBe(200)
      expect(JSON.parse(gateway.hits.at(-1)!.raw.toString("utf8")).message.attachments).toEqual([
        { name: "Terms.pdf", path: "https://example.com/f.pdf", mimetype: "application/pdf" },
        { name: "menu v2.png", path: "https://example.com/docs/menu%20v2.png", mimetype: "image/png" }
      ])
      const lcmShape = yield* call(`${agent}/say`, {
        body: {
          text: "x",
          attachments: [{ name: "f.pdf", path: "https://example.com/f.pdf", mimetype: "application/pdf" }]
        }
      })
      expect(lcmShape.status).toBe(400)
      expect(lcmShape.body.message).toContain("attachments.0.url")

      const noText = yield* call(`${agent}/say`, { body: {} })
      expect(noText.status).toBe(400)
      expect(noText.body.message).toContain("text")
      expect((yield* call(`${sim.baseUrl}/sandbox/agent/nope/join`, { method: "POST" })).status).toBe(404)
      expect((yield* call(`${agent}/dance`, { method: "POST" })).status).toBe(404)
      const listed = yield* call(`${sim.baseUrl}/sandbox/requests`)
      expect(listed.body[0]).toMatchObject({ platformSessionId: "sess-1", status: "ended" })
    }))
})

// ---------------------------------------------------------------------------------------
// hbf-bot

const event = (over: Record<string, unknown> = {}) => ({
  id: "evt-1",
  type: "agent.message",
  sessionId: "s-1",
  tenantId: "t1",
  organizationId: "org1",
  subHandle: "sub-1",
  provider: "helvia-livechat",
  seq: 1,
  occurredAt: new Date().toISOString(),
  data: { text: "hi", attachments: [], agent: { name: "Maria" } },
  ...over
})

describe("hbf-bot simulator", () => {
  it.scopedLive("records valid events in order and serves them to curl", () =>
    Effect.gen(function*() {
      const sim = yield* makeHbfBotSim()
      const url = `${sim.baseUrl}/livechat-events`
      const waiting = yield* Effect.fork(sim.waitFor((events) => events.length === 3, "2 seconds"))
      expect((yield* call(url, { body: event() })).status).toBe(200)
      expect(
        (yield* call(url, { body: event({ id: "evt-2", seq: 2, type: "agent.typing", data: { typing: true } }) }))
          .status
      ).toBe(200)
      expect(
        (yield* call(url, {
          body: event({ id: "evt-3", seq: 1, sessionId: "s-2", type: "session.ended", data: { reason: "agent" } })
        })).status
      ).toBe(200)
      const seen = yield* waiting
      expect(seen.map((e) => e.id)).toEqual(["evt-1", "evt-2", "evt-3"])
      expect(sim.eventsOf("s-1").map((e) => e.seq)).toEqual([1, 2])
      const listed = yield* call(`${sim.baseUrl}/sandbox/events?sessionId=s-2`)
      expect(listed.body).toHaveLength(1)
      expect(listed.body[0].type).toBe("session.ended")
    }))

  it.scopedLive("rejects malformed envelopes with 400 naming the field", () =>
    Effect.gen(function*() {
      const sim = yield* makeHbfBotSim()
      const url = `${sim.baseUrl}/livechat-events`
      const { seq: _s, ...noSeq } = event()
      const missing = yield* call(url, { body: noSeq })
      expect(missing.status).toBe(400)
      expect(missing.body.fields).toContainEqual({ path: "seq", message: "is missing" })
      const fractional = yield* call(url, { body: event({ seq: 1.5 }) })
      expect(fractional.status).toBe(400)
      expect(fractional.body.message).toContain("seq")
      const badType = yield* call(url, { body: event({ type: "agent.dancing" }) })
      expect(badType.body.message).toContain("type")
      const notObject = yield* call(url, { body: event({ data: "x" }) })
      expect(notObject.body.message).toContain("data")
      const badData = yield* call(url, { body: event({ type: "session.ended", data: { reason: "bored" } }) })
      expect(badData.status).toBe(400)
      expect(badData.body.message).toContain("data.reason")
      expect((yield* call(url, { body: "{", headers: { "content-type": "application/json" } })).status).toBe(400)
      expect(sim.events()).toHaveLength(0)
      expect(sim.attempts().map((a) => a.status)).toEqual([400, 400, 400, 400, 400, 400])
    }))

  it.scopedLive("checks X-LCG-Signature over X-LCG-Timestamp and the raw body, and refuses a timestamp 5 minutes off", () =>
    Effect.gen(function*() {
      const sim = yield* makeHbfBotSim({ signingSecret: "bot-secret" })
      const url = `${sim.baseUrl}/livechat-events`
      const raw = JSON.stringify(event())
      const now = Math.floor(Date.now() / 1000)
      const signed = (timestamp: number, secret = "bot-secret", body = raw) => ({
        "content-type": "application/json",
        "x-lcg-timestamp": String(timestamp),
        "x-lcg-signature": hmac(secret, `${timestamp}.${body}`)
      })
      const unsigned = { "content-type": "application/json" }
      expect((yield* call(url, { body: raw, headers: unsigned })).status).toBe(401)
      expect(
        (yield* call(url, { body: raw, headers: { ...unsigned, "x-lcg-signature": hmac("bot-secret", raw) } })).status
      ).toBe(401)
      expect((yield* call(url, { body: raw, headers: signed(now, "other") })).status).toBe(401)
      // the timestamp is signed: a fresh one on an old signature does not pass
      expect(
        (yield* call(url, { body: raw, headers: { ...signed(now - 600), "x-lcg-timestamp": String(now) } })).status
      ).toBe(401)
      // a correctly signed but old (replayed) event does not pass either
      expect((yield* call(url, { body: raw, headers: signed(now - 301) })).status).toBe(401)
      // same JSON value, different bytes: the signature is over the bytes
      expect((yield* call(url, { body: ` ${raw}`, headers: signed(now) })).status).toBe(401)
      expect((yield* call(url, { body: raw, headers: signed(now) })).status).toBe(200)
      expect(sim.events()).toHaveLength(1)
    }))

  it.scopedLive("failNext and failWhile script failures", () =>
    Effect.gen(function*() {
      const sim = yield* makeHbfBotSim()
      const url = `${sim.baseUrl}/livechat-events`
      sim.failNext(2, 503, 2)
      const first = yield* call(url, { body: event() })
      expect(first.status).toBe(503)
      expect(first.headers.get("retry-after")).toBe("2")
      expect((yield* call(url, { body: event() })).status).toBe(503)
      expect((yield* call(url, { body: event() })).status).toBe(200)

      const stop = sim.failWhile((e) => e.type === "agent.typing", 500)
      expect((yield* call(url, { body: event({ id: "evt-t", type: "agent.typing", data: { typing: true } }) })).status)
        .toBe(500)
      expect((yield* call(url, { body: event({ id: "evt-m", seq: 3 }) })).status).toBe(200)
      stop()
      expect((yield* call(url, { body: event({ id: "evt-t", type: "agent.typing", data: { typing: true } }) })).status)
        .toBe(200)
      expect(sim.events().map((e) => e.id)).toEqual(["evt-1", "evt-m", "evt-t"])
      expect(sim.attempts().map((a) => a.status)).toEqual([503, 503, 200, 500, 200, 200])
    }))

  it.scopedLive("waitFor fails with BotWaitTimeout when the condition never holds", () =>
    Effect.gen(function*() {
      const sim = yield* makeHbfBotSim()
      const error = yield* Effect.flip(sim.waitFor((events) => events.length > 0, "50 millis"))
      expect(error._tag).toBe("BotWaitTimeout")
      expect(error.message).toContain("none")
    }))
})

// ---------------------------------------------------------------------------------------
// hbf-event-publisher

const PUB_TOKEN = "core-token"
const trigger = {
  tenantId: "t1",
  flowId: "flow-survey",
  subHandle: "sub-1",
  event: { type: "session.ended", sessionId: "s-1", data: { reason: "agent" } }
}

describe("hbf-event-publisher simulator", () => {
  it.scopedLive("accepts flow triggers at the literal /connectors/flows:trigger path", () =>
    Effect.gen(function*() {
      const sim = yield* makeEventPublisherSim({ token: PUB_TOKEN })
      const accepted = yield* call(`${sim.baseUrl}/connectors/flows:trigger`, { token: PUB_TOKEN, body: trigger })
      expect(accepted.status).toBe(202)
      expect(sim.triggers()).toEqual([trigger])
      expect((yield* call(`${sim.baseUrl}/connectors/flows:other`, { token: PUB_TOKEN, body: trigger })).status).toBe(
        404
      )
      expect((yield* call(`${sim.baseUrl}/sandbox/triggers`)).body).toEqual([trigger])
    }))

  it.scopedLive("rejects bad tokens and bodies; failNext", () =>
    Effect.gen(function*() {
      const sim = yield* makeEventPublisherSim({ token: PUB_TOKEN })
      const url = `${sim.baseUrl}/connectors/flows:trigger`
      expect((yield* call(url, { body: trigger })).status).toBe(401)
      expect((yield* call(url, { token: "x", body: trigger })).status).toBe(401)
      const { flowId: _f, ...noFlow } = trigger
      const missing = yield* call(url, { token: PUB_TOKEN, body: noFlow })
      expect(missing.status).toBe(400)
      expect(missing.body.fields).toContainEqual({ path: "flowId", message: "is missing" })
      const badType = yield* call(url, {
        token: PUB_TOKEN,
        body: { ...trigger, event: { ...trigger.event, type: "nope" } }
      })
      expect(badType.status).toBe(400)
      expect(badType.body.message).toContain("event.type")
      const noData = yield* call(url, {
        token: PUB_TOKEN,
        body: { ...trigger, event: { type: "session.ended", sessionId: "s-1" } }
      })
      expect(noData.body.message).toContain("event.data")
      sim.failNext(1, 500)
      expect((yield* call(url, { token: PUB_TOKEN, body: trigger })).status).toBe(500)
      expect((yield* call(url, { token: PUB_TOKEN, body: trigger })).status).toBe(202)
      expect(sim.triggers()).toHaveLength(1)
    }))
})

import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { agentsNamed, metricValue, startGateway, stores } from "./harness.js"

const request = {
  tenantId: "demo-helvia",
  subHandle: "alice",
  user: { name: "Alice" },
  transcript: [{ author: "bot" as const, text: "How can I help?", at: "2026-11-25T10:00:00Z" }]
}

/** A counter's value in Prometheus text (0 when absent). */
// The same livechats on the in-memory store and on Redis.
describe.each(stores)("%s store", (store) => {
  describe("a whole helvia livechat through the HTTP API", () => {
    it.live("request, agent joins, messages both ways, agent ends; hbf-bot gets every event once, in order", () =>
      Effect.gen(function*() {
        const gw = yield* startGateway({ store })
        const metrics0 = (yield* gw.call("GET", "/metrics")).body as string
        const ingestedBefore = metricValue(
          metrics0,
          "lcg_events_ingested_total",
          "provider=\"helvia-livechat\",type=\"agent.message\""
        )
        const publishedBefore = metricValue(
          metrics0,
          "lcg_events_delivered_total",
          "target=\"event-publisher\",type=\"session.ended\""
        )
        // Through the typed client, as hbf-bot calls it.
        const [created, createdAnswer] = yield* gw.lcg.createRequest({ payload: request, withResponse: true })
        expect(createdAnswer.status).toBe(201)
        expect(created).toMatchObject({
          tenantId: "demo-helvia",
          organizationId: "demo-org",
          status: "pending",
          provider: "helvia-livechat"
        })
        const sessionId = created.sessionId

        // hbf-lcm got the request as its contract says, with our callback.
        const lcmRequest = gw.lcm.request(sessionId)
        expect(lcmRequest?.body.extras.callbackUrl).toBe(`${gw.url}/events/helvia-livechat`)
        expect(lcmRequest?.body.platformUserName).toBe("Alice")

        // A retry of the same request gets the open session back.
        const [again, againAnswer] = yield* gw.lcg.createRequest({ payload: request, withResponse: true })
        expect(againAnswer.status).toBe(200)
        expect(again.sessionId).toBe(sessionId)

        expect((yield* gw.lcm.join(sessionId, { id: "a1", fullName: "Maria" })).status).toBe(200)
        const sent = yield* gw.lcg.forwardMessage({
          payload: { tenantId: "demo-helvia", subHandle: "alice", messageId: "m1", text: "Hello" }
        })
        expect(sent).toEqual({ messageId: "m1", sessionId, delivery: { parts: 1 } })
        expect(gw.lcm.messages(sessionId).map((m) => m.text)).toEqual(["Hello"])
        yield* gw.lcm.typing(sessionId, true)
        yield* gw.lcm.say(sessionId, "Hi Alice")
        const state = yield* gw.lcg.livechatState({ path: { subHandle: "alice" }, urlParams: {} })
        expect(state).toMatchObject({ state: "active", session: { agent: { name: "Maria" } } })
        yield* gw.lcm.end(sessionId)

        const events = yield* gw.bot.waitFor((es) => es.some((e) => e.type === "session.ended"))
        expect(events.map((e) => [e.type, e.seq])).toEqual([
          // The request's place in the queue, as hbf-lcm accepted it.
          ["request.queued", 1],
          ["agent.joined", 2],
          ["agent.typing", 3],
          ["agent.message", 4],
          ["session.ended", 5]
        ])
        expect(events[0]!.data).toEqual({ position: 1, source: "gateway" })
        expect(events[3]!.data).toMatchObject({ text: "Hi Alice", agent: { name: "Maria" } })
        expect(events[4]!.data).toEqual({ reason: "agent" })

        const agent = events[1]!.data.agent
        expect(agentsNamed(events)).toEqual([agent, agent, agent])
        const ended = yield* gw.call("GET", "/subscribers/alice/livechat-state")
        expect(ended.body).toMatchObject({ state: "ended", session: { endReason: "agent", agent } })
        const count = yield* gw.call("HEAD", "/organizations/demo-org/requests?status=ended")
        expect(count.headers.get("x-total-count")).toBe("1")
        const metrics = yield* gw.call("HEAD", "/organizations/demo-org/tenants/demo-helvia/metrics?windowSeconds=3600")
        expect(metrics.status).toBe(200)
        expect(metrics.headers.get("x-waiting-count")).toBe("0")
        expect(Number(metrics.headers.get("x-average-waiting-time"))).toBeGreaterThanOrEqual(0)

        // The tenant's flow trigger for session.ended reached event-publisher.
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 200)))
        expect(gw.publisher.triggers()).toEqual([
          expect.objectContaining({
            tenantId: "demo-helvia",
            flowId: "flow-survey",
            subHandle: "alice",
            event: expect.objectContaining({ type: "session.ended", sessionId })
          })
        ])

        // Counters are per process (both store variants run here), so compare with the start.
        const metrics2 = (yield* gw.call("GET", "/metrics")).body as string
        expect(
          metricValue(metrics2, "lcg_events_ingested_total", "provider=\"helvia-livechat\",type=\"agent.message\"") -
            ingestedBefore
        ).toBe(1)
        expect(
          metricValue(metrics2, "lcg_events_delivered_total", "target=\"event-publisher\",type=\"session.ended\"") -
            publishedBefore
        ).toBe(1)

        // A second handover after the first ended works like the first.
        const second = yield* gw.call("POST", "/requests", request)
        expect(second.status).toBe(201)
        expect(second.body.sessionId).not.toBe(sessionId)
      }).pipe(Effect.scoped))

    it.live("the user ends the session: hbf-lcm is told and hbf-bot gets session.ended (user)", () =>
      Effect.gen(function*() {
        const gw = yield* startGateway({ store })
        const created = yield* gw.call("POST", "/requests", request)
        const sessionId: string = created.body.sessionId
        const deleted = yield* gw.call("DELETE", "/sessions/tenants/demo-helvia/subscribers/alice")
        expect(deleted.status).toBe(204)
        expect(gw.lcm.request(sessionId)?.status).toBe("ended")
        const events = yield* gw.bot.waitFor((es) => es.length === 2)
        expect(events[1]).toMatchObject({ type: "session.ended", seq: 2, data: { reason: "user" } })
        const again = yield* gw.call("DELETE", "/sessions/tenants/demo-helvia/subscribers/alice")
        expect(again.status).toBe(404)
        expect(again.body.error).toBe("SessionNotFound")
        const message = yield* gw.call("POST", "/messages", {
          tenantId: "demo-helvia",
          subHandle: "alice",
          messageId: "late",
          text: "x"
        })
        expect(message.status).toBe(409)
        expect(message.body.error).toBe("SessionEnded")
      }).pipe(Effect.scoped))

    it.live("the same webhook twice makes one event; a forged signature is refused", () =>
      Effect.gen(function*() {
        const gw = yield* startGateway({ store })
        const sessionId: string = (yield* gw.call("POST", "/requests", request)).body.sessionId
        const joined = yield* gw.lcm.join(sessionId)
        expect(joined.body).toEqual({ accepted: 1 })
        const resent = yield* gw.lcm.resend(joined.eventId)
        expect(resent.status).toBe(200)
        expect(resent.body).toEqual({ accepted: 0 })
        const forged = yield* gw.call(
          "POST",
          "/events/helvia-livechat",
          {
            id: "forged-1",
            type: "CONVERSATION_END",
            platformSessionId: sessionId,
            platformUserId: "alice",
            occurredAt: new Date().toISOString()
          },
          { "x-helvia-signature": "sha256=" + "0".repeat(64) }
        )
        expect(forged.status).toBe(401)
        expect(forged.body.error).toBe("InvalidSignature")
        yield* gw.bot.waitFor((es) => es.length > 1)
        yield* Effect.sleep("200 millis")
        expect(gw.bot.events().map((e) => e.type)).toEqual(["request.queued", "agent.joined"])
        // A session nobody can verify for is answered exactly as a forged signature.
        const unknown = yield* gw.call(
          "POST",
          "/events/helvia-livechat",
          {
            id: "x",
            type: "MESSAGE",
            platformSessionId: "no-such-session",
            platformUserId: "u",
            occurredAt: new Date().toISOString()
          },
          { "x-helvia-signature": "sha256=" + "0".repeat(64) }
        )
        expect(unknown).toMatchObject({ status: 401, body: forged.body })
      }).pipe(Effect.scoped))

    it.live("a transfer requeues the request and a missed request ends it", () =>
      Effect.gen(function*() {
        const gw = yield* startGateway({ store })
        const sessionId: string = (yield* gw.call("POST", "/requests", request)).body.sessionId
        yield* gw.lcm.join(sessionId)
        yield* gw.lcm.transfer(sessionId)
        expect((yield* gw.call("GET", "/subscribers/alice/livechat-state")).body.state).toBe("pending")
        yield* gw.lcm.missed(sessionId)
        const events = yield* gw.bot.waitFor((es) => es.length === 5)
        expect(events.map((e) => e.type)).toEqual([
          "request.queued",
          "agent.joined",
          "agent.left",
          "request.queued",
          "request.failed"
        ])
        expect((yield* gw.call("GET", "/subscribers/alice/livechat-state")).body.state).toBe("ended")
      }).pipe(Effect.scoped))

    it.live("forwarding the same messageId twice reaches hbf-lcm once", () =>
      Effect.gen(function*() {
        const gw = yield* startGateway({ store })
        const sessionId: string = (yield* gw.call("POST", "/requests", request)).body.sessionId
        const body = { tenantId: "demo-helvia", subHandle: "alice", messageId: "m-1", text: "once" }
        expect((yield* gw.call("POST", "/messages", body)).status).toBe(202)
        expect((yield* gw.call("POST", "/messages", body)).status).toBe(202)
        expect(gw.lcm.messages(sessionId)).toHaveLength(1)
        // Another text under the same id would be lost as a retry: refused, saying why.
        const reused = yield* gw.call("POST", "/messages", { ...body, text: "twice?" })
        expect(reused.status).toBe(409)
        expect(reused.body).toMatchObject({ error: "MessageIdReused", messageId: "m-1" })
        expect(reused.body.message).toContain("new messageId")
        expect(gw.lcm.messages(sessionId)).toHaveLength(1)
      }).pipe(Effect.scoped))

    it.live("a retry while the first attempt is still forwarding waits for it: when that attempt fails, the retry sends the message (never a 202 for a message not sent)", () =>
      Effect.gen(function*() {
        const gw = yield* startGateway({ store })
        const sessionId: string = (yield* gw.call("POST", "/requests", request)).body.sessionId
        const body = { tenantId: "demo-helvia", subHandle: "alice", messageId: "m-slow", text: "are you there?" }
        // hbf-lcm fails the first attempt's call and its three retries (about 0.7 s of backoff).
        gw.lcm.failNext(4, 503)
        const first = yield* Effect.fork(gw.call("POST", "/messages", body))
        yield* Effect.sleep("150 millis")
        const retry = yield* gw.call("POST", "/messages", body)
        const firstAnswer = yield* first.await.pipe(Effect.flatten)
        expect(firstAnswer.status).toBe(502)
        expect(retry.status).toBe(202)
        expect(gw.lcm.messages(sessionId).map((m) => m.messageId)).toContain("m-slow")
      }).pipe(Effect.scoped))
  })

  describe("delivery to hbf-bot", () => {
    it.live("retries while hbf-bot fails a few times, then delivers every event once, in order", () =>
      Effect.gen(function*() {
        const gw = yield* startGateway({ store })
        const sessionId: string = (yield* gw.call("POST", "/requests", request)).body.sessionId
        gw.bot.failNext(3, 503, 0)
        yield* gw.lcm.join(sessionId)
        yield* gw.lcm.say(sessionId, "one")
        yield* gw.lcm.say(sessionId, "two")
        const events = yield* gw.bot.waitFor((es) => es.length >= 4, "5 seconds")
        expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4])
        expect(gw.bot.attempts().filter((a) => a.status === 503)).toHaveLength(3)
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 200)))
        expect(gw.bot.events()).toHaveLength(4)
      }).pipe(Effect.scoped))

    it.live("an event hbf-bot keeps refusing with 503 is tried maxAttempts times, then dead-lettered, and later events go on", () =>
      Effect.gen(function*() {
        const gw = yield* startGateway({ store })
        const sessionId: string = (yield* gw.call("POST", "/requests", request)).body.sessionId
        gw.bot.failWhile((e) => e.type === "agent.joined", 503)
        yield* gw.lcm.join(sessionId)
        yield* gw.lcm.say(sessionId, "after")
        yield* gw.bot.waitFor((es) => es.some((e) => e.type === "agent.message"))
        // The harness allows 4 attempts, 20 ms apart and doubling.
        expect(gw.bot.attempts().filter((a) => a.status === 503)).toHaveLength(4)
        const admin = yield* gw.token({ scope: "admin" })
        const letters = yield* gw.call("GET", "/admin/dead-letters", undefined, { authorization: `Bearer ${admin}` })
        expect(letters.body).toHaveLength(1)
        expect(letters.body[0]).toMatchObject({
          target: "hbf-bot",
          attempts: 4,
          reason: "hbf-bot answered 503",
          event: { type: "agent.joined", seq: 2 }
        })
      }).pipe(Effect.scoped))

    it.live("a permanent refusal is dead-lettered at once, later events go on, and replay delivers it", () =>
      Effect.gen(function*() {
        const gw = yield* startGateway({ store })
        const sessionId: string = (yield* gw.call("POST", "/requests", request)).body.sessionId
        const stop = gw.bot.failWhile((e) => e.type === "agent.joined", 400)
        yield* gw.lcm.join(sessionId)
        yield* gw.lcm.say(sessionId, "after")
        yield* gw.bot.waitFor((es) => es.some((e) => e.type === "agent.message"))
        const admin = yield* gw.token({ scope: "admin" })
        const letters = yield* gw.call("GET", "/admin/dead-letters", undefined, { authorization: `Bearer ${admin}` })
        expect(letters.status).toBe(200)
        expect(letters.body).toHaveLength(1)
        expect(letters.body[0]).toMatchObject({
          target: "hbf-bot",
          attempts: 1,
          event: { type: "agent.joined", seq: 2 }
        })
        stop()
        const replayed = yield* gw.call(
          "POST",
          `/admin/dead-letters/${encodeURIComponent(letters.body[0].id)}/replay`,
          undefined,
          {
            authorization: `Bearer ${admin}`
          }
        )
        expect(replayed.status).toBe(200)
        const events = yield* gw.bot.waitFor((es) => es.some((e) => e.type === "agent.joined"))
        expect(events.map((e) => e.type)).toEqual(["request.queued", "agent.message", "agent.joined"])
        const none = yield* gw.call("GET", "/admin/dead-letters", undefined, { authorization: `Bearer ${admin}` })
        expect(none.body).toEqual([])
      }).pipe(Effect.scoped))
  })

  describe("timeouts", () => {
    it.live("a request pending longer than the tenant's pendingSeconds ends with reason timeout", () =>
      Effect.gen(function*() {
        const gw = yield* startGateway({ store })
        const tenant = {
          id: "quick",
          displayName: "Quick",
          organization: { id: "demo-org" },
          plugins: [
            {
              category: "LIVECHAT",
              integrationId: "int-q",
              integration: {
                type: "HELVIA_LIVECHAT",
                timeouts: { pendingSeconds: 1, inactivitySeconds: 60 },
                helvia: { webhookSecret: "s" }
              }
            }
          ]
        }
        gw.setTenant(tenant)
        const sessionId: string =
          (yield* gw.call("POST", "/requests", { tenantId: "quick", subHandle: "bob" })).body.sessionId
        const events = yield* gw.bot.waitFor((es) => es.some((e) => e.type === "session.ended"), "5 seconds")
        expect(events.at(-1)).toMatchObject({ sessionId, type: "session.ended", data: { reason: "timeout" } })
        expect(gw.lcm.request(sessionId)?.status).toBe("ended")
      }).pipe(Effect.scoped))
  })

  describe("updates and signed delivery", () => {
    it.live("PATCH updates the user, cancels a pending request, and refuses to cancel an active one", () =>
      Effect.gen(function*() {
        const gw = yield* startGateway({ store })
        yield* gw.call("POST", "/requests", request)
        const updated = yield* gw.call("PATCH", "/requests/subscribers/alice", {
          user: { email: "alice@example.com" },
          metadata: { vip: true }
        })
        expect(updated.status).toBe(200)
        expect(updated.body).toMatchObject({ status: "pending", subHandle: "alice" })
        const cancelled = yield* gw.call("PATCH", "/requests/subscribers/alice", { status: "cancelled" })
        expect(cancelled.status).toBe(200)
        expect(cancelled.body).toMatchObject({ status: "ended", endReason: "user" })
        const events = yield* gw.bot.waitFor((es) => es.length === 2)
        expect(events[1]).toMatchObject({ type: "session.ended", data: { reason: "user" } })

        const second: string = (yield* gw.call("POST", "/requests", request)).body.sessionId
        yield* gw.lcm.join(second)
        const refused = yield* gw.call("PATCH", "/requests/subscribers/alice", { status: "cancelled" })
        expect(refused.status).toBe(409)
        expect(refused.body).toMatchObject({ error: "InvalidTransition", status: "active" })
      }).pipe(Effect.scoped))

    it.live("with HBF_BOT_SIGNING_SECRET, hbf-bot gets events it can verify", () =>
      Effect.gen(function*() {
        const gw = yield* startGateway({ store, botSigningSecret: "bot-secret" })
        const sessionId: string = (yield* gw.call("POST", "/requests", request)).body.sessionId
        yield* gw.lcm.join(sessionId)
        const events = yield* gw.bot.waitFor((es) => es.length === 2)
        expect(events[1]).toMatchObject({ type: "agent.joined", sessionId })
        expect(gw.bot.attempts().every((a) => a.status === 200)).toBe(true)
      }).pipe(Effect.scoped))
  })
})

/**
 * Redis goes away under traffic: the gateway says so (readiness 503, upstream 503 at once,
 * webhooks 503 so the provider retries) and, once Redis is back, delivers every event the
 * provider sent exactly once, in order, without a restart.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { createServer } from "node:http"
import { startGateway } from "../e2e/harness.js"
import { startRedisServer } from "./redisServer.js"

const MESSAGES = 30

describe("Redis outage", () => {
  it.live(
    "while Redis is stopped: ready 503, requests 503 at once, webhooks 503; after: every event once, in order",
    () =>
      Effect.gen(function*() {
        const redis = yield* startRedisServer
        const gw = yield* startGateway({ store: "redis", redisUrl: redis.url })

        const sessions: Array<string> = []
        for (const subHandle of ["outage-a", "outage-b"]) {
          const created = yield* gw.call("POST", "/requests", { tenantId: "demo-helvia", subHandle })
          expect(created.status).toBe(201)
          sessions.push(created.body.sessionId)
          expect((yield* gw.lcm.join(created.body.sessionId)).status).toBe(200)
        }

        // hbf-lcm as a provider behaves: a webhook not answered 2xx is sent again until it is.
        const refused: Array<number> = []
        const sayUntilAccepted = (sessionId: string, text: string) =>
          Effect.gen(function*() {
            let result = yield* gw.lcm.say(sessionId, text)
            while (result.status !== 200) {
              refused.push(result.status)
              yield* Effect.sleep(Duration.millis(100))
              result = yield* gw.lcm.resend(result.eventId)
            }
          })
        const traffic = yield* Effect.forEach(
          sessions,
          (sessionId) =>
            Effect.forEach(
              Array.from({ length: MESSAGES }, (_, i) => `message ${i + 1}`),
              (text) => Effect.zipRight(sayUntilAccepted(sessionId, text), Effect.sleep(Duration.millis(40))),
              { discard: true }
            ),
          { concurrency: "unbounded", discard: true }
        ).pipe(Effect.fork)

        yield* Effect.sleep(Duration.millis(300))
        yield* redis.stop

        const ready = yield* gw.call("GET", "/health/ready")
        expect(ready.status).toBe(503)
        const started = Date.now()
        const forward = yield* gw.call("POST", "/messages", {
          tenantId: "demo-helvia",
          subHandle: "outage-a",
          messageId: "u1",
          text: "hi"
        })
        expect(forward.status).toBe(503)
        expect(forward.body.error).toBe("StoreUnavailable")
        expect(Date.now() - started).toBeLessThan(3_000)

        yield* Effect.sleep(Duration.seconds(2))
        yield* redis.start
        yield* traffic.await

        const expected = Array.from({ length: MESSAGES }, (_, i) => `message ${i + 1}`)
        yield* gw.bot.waitFor(
          () =>
            sessions.every((id) => gw.bot.eventsOf(id).filter((e) => e.type === "agent.message").length >= MESSAGES),
          Duration.seconds(20)
        )
        // Let anything that would be a redelivery arrive before counting.
        yield* Effect.sleep(Duration.millis(500))
        expect(refused.length).toBeGreaterThan(0)
        expect(refused.every((status) => status === 503)).toBe(true)
        for (const sessionId of sessions) {
          const events = gw.bot.eventsOf(sessionId)
          expect(events.filter((e) => e.type === "agent.message").map((e) => (e.data as { text: string }).text))
            .toEqual(expected)
          expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
          expect(new Set(events.map((e) => e.id)).size).toBe(events.length)
        }
        expect((yield* gw.call("GET", "/health/ready")).status).toBe(200)
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "an event hbf-bot took just as Redis went away is acked once Redis is back, not delivered again (down past the leases and the hand-over grace)",
    () =>
      Effect.gen(function*() {
        const redis = yield* startRedisServer
        // hbf-bot, answering 200 to everything; the event "held" it answers only once Redis is down.
        const received: Array<{ readonly id: string; readonly text?: string }> = []
        const bot = createServer((req, res) => {
          const chunks: Array<Buffer> = []
          req.on("data", (chunk: Buffer) => chunks.push(chunk))
          req.on("end", () => {
            const event = JSON.parse(Buffer.concat(chunks).toString()) as { id: string; data: { text?: string } }
            const first = !received.some((r) => r.id === event.id)
            received.push({ id: event.id, ...(event.data.text !== undefined ? { text: event.data.text } : {}) })
            const answer = () =>
              res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ received: event.id }))
            if (event.data.text === "held" && first) void Effect.runPromise(redis.stop).then(answer)
            else answer()
          })
        })
        yield* Effect.acquireRelease(
          Effect.async<void>((resume) => void bot.listen(0, "127.0.0.1", () => resume(Effect.void))),
          () => Effect.sync(() => (bot.closeAllConnections(), bot.close()))
        )
        const botUrl = `http://127.0.0.1:${(bot.address() as { port: number }).port}`
        const gw = yield* startGateway({
          store: "redis",
          redisUrl: redis.url,
          configure: (c) => ({ ...c, hbfBot: { url: botUrl } })
        })
        const created = yield* gw.call("POST", "/requests", { tenantId: "demo-helvia", subHandle: "held-ack" })
        const sessionId: string = created.body.sessionId
        expect((yield* gw.lcm.join(sessionId)).status).toBe(200)
        expect((yield* gw.lcm.say(sessionId, "held")).status).toBe(200)

        // Delivered, then Redis stops before the ack; it stays away well past the partition leases (3 s) and the hand-over grace (5 s).
        while (!received.some((r) => r.text === "held")) yield* Effect.sleep(Duration.millis(20))
        yield* Effect.sleep(Duration.seconds(9))
        yield* redis.start
        let after = yield* gw.lcm.say(sessionId, "after")
        while (after.status !== 200) {
          yield* Effect.sleep(Duration.millis(200))
          after = yield* gw.lcm.resend(after.eventId)
        }
        while (!received.some((r) => r.text === "after")) yield* Effect.sleep(Duration.millis(50))
        // Time for the partition to be worked afresh, and for a redelivery to show.
        yield* Effect.sleep(Duration.seconds(6))
        expect(received.filter((r) => r.text === "held")).toHaveLength(1)
        expect(new Set(received.map((r) => r.id)).size).toBe(received.length)
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "a gateway that boots while Redis is down starts unready, then serves once Redis is up",
    () =>
      Effect.gen(function*() {
        const redis = yield* startRedisServer
        yield* redis.stop
        const gw = yield* startGateway({ store: "redis", redisUrl: redis.url })
        expect((yield* gw.call("GET", "/health/ready")).status).toBe(503)
        // A load balancer's HEAD: no body, and no error code in it either, so the status's reason says it.
        const unready = yield* gw.call("HEAD", "/health/ready")
        expect([unready.status, unready.headers.get("x-error")]).toEqual([503, "ServiceUnavailable"])
        expect((yield* gw.call("POST", "/requests", { tenantId: "demo-helvia", subHandle: "late" })).status).toBe(503)

        yield* redis.start
        let ready = 503
        for (let i = 0; i < 50 && ready !== 200; i++) {
          yield* Effect.sleep(Duration.millis(100))
          ready = (yield* gw.call("GET", "/health/ready")).status
        }
        expect(ready).toBe(200)
        const created = yield* gw.call("POST", "/requests", { tenantId: "demo-helvia", subHandle: "late" })
        expect(created.status).toBe(201)
        expect((yield* gw.lcm.join(created.body.sessionId)).status).toBe(200)
        const events = yield* gw.bot.waitFor(
          (es) => es.some((e) => e.sessionId === created.body.sessionId && e.type === "agent.joined"),
          Duration.seconds(10)
        )
        expect(events.filter((e) => e.sessionId === created.body.sessionId).map((e) => e.type)).toEqual([
          "request.queued",
          "agent.joined"
        ])
      }).pipe(Effect.scoped),
    30_000
  )
})

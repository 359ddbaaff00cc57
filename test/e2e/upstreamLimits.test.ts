/**
 * What the gateway takes from upstream, end to end on the real HTTP server: answers longer
 * than LCG_UPSTREAM_MAX_BODY_BYTES are cut and told as the call's error, Retry-After of the
 * hbf-* services is honoured only up to its cap, and a call to an hbf-* service that never
 * answers is over at LCG_UPSTREAM_DEADLINE_MS.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { ciscoTenant, demoTenants, genesysTenant, zendeskTenant } from "../../sandbox/demoTenants.js"
import { eventually } from "../eventually.js"
import { livechatRequest, startGateway } from "./harness.js"

const MiB = 1024 * 1024

/** A node:http server on loopback answering every request with `handler`, closed (and its connections) with the scope. */
const serve = (handler: (req: IncomingMessage, res: ServerResponse) => void) =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly close: () => void }>((resume) => {
      const server = createServer(handler)
      server.listen(0, "127.0.0.1", () =>
        resume(
          Effect.succeed({
            url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
            close: () => {
              server.closeAllConnections()
              server.close()
            }
          })
        ))
    }),
    (server) => Effect.sync(server.close)
  )

/**
 * A provider that answers 200 and then streams its body forever (64 KiB at a time, as fast as
 * the connection takes it): it stops only when the client goes away. Counts the answers it
 * started and those the client cut.
 */
const endlessProvider = Effect.gen(function*() {
  const counts = { started: 0, cut: 0 }
  const chunk = Buffer.alloc(64 * 1024, "a")
  const server = yield* serve((_req, res) => {
    counts.started++
    res.writeHead(200, { "content-type": "application/json" })
    res.on("close", () => counts.cut++)
    const pump = () => {
      while (!res.destroyed && res.write(chunk));
      if (!res.destroyed) res.once("drain", pump)
    }
    pump()
  })
  return { ...server, counts }
})

/** Takes every request and never answers it. */
const silentService = Effect.gen(function*() {
  let requests = 0
  const server = yield* serve(() => void requests++)
  return { ...server, requests: () => requests }
})

describe("answers over LCG_UPSTREAM_MAX_BODY_BYTES", () => {
  it.live("a provider streaming its answer forever is cut at 1 MiB: the request is a 502 ProviderError saying so, and the gateway goes on serving", () =>
    Effect.gen(function*() {
      const endless = yield* endlessProvider
      const gw = yield* startGateway({
        tenants: (
          urls
        ) => [
          ...demoTenants(urls),
          genesysTenant("endless-genesys", endless.url),
          ciscoTenant("endless-cisco", endless.url),
          zendeskTenant("endless-zendesk", endless.url)
        ]
      })
      for (
        const [tenantId, call] of [
          ["endless-genesys", "Genesys login"],
          ["endless-cisco", "CCP POST /ccp/rest/chat"],
          ["endless-zendesk", "Sunshine POST /users"]
        ] as const
      ) {
        const started = Date.now()
        const answer = yield* gw.call("POST", "/requests", livechatRequest(tenantId, `alice-${tenantId}`))
        expect(answer.status).toBe(502)
        expect(answer.body).toMatchObject({ error: "ProviderError" })
        expect(answer.body.message).toContain(`${call} answered more than ${MiB} bytes`)
        // Cut at the cap, not read for as long as the provider sends.
        expect(Date.now() - started).toBeLessThan(5_000)
      }
      yield* eventually(
        "the provider's connections are closed",
        Effect.sync(() => endless.counts),
        (c) => c.cut === c.started
      )
      expect((yield* gw.call("POST", "/requests", livechatRequest("demo-helvia", "bob"))).status).toBe(201)
    }).pipe(Effect.scoped))

  it.live("the cap is LCG_UPSTREAM_MAX_BODY_BYTES: an hbf-core tenant of 2 MiB is a 503 UpstreamUnavailable at a 1 MiB cap, and read at a 4 MiB one", () =>
    Effect.gen(function*() {
      const large = (cap: number) =>
        Effect.gen(function*() {
          const gw = yield* startGateway({
            configure: (c) => ({ ...c, upstream: { ...c.upstream, maxBodyBytes: cap } })
          })
          const helvia = demoTenants({
            genesys: gw.genesys.baseUrl,
            cisco: gw.cisco.baseUrl,
            zendesk: gw.zendesk.baseUrl
          })[0]!
          // A tenant padded past 2 MiB with a field the gateway ignores.
          gw.setTenant({ ...helvia, padding: "x".repeat(2 * MiB) })
          return yield* gw.call("POST", "/requests", livechatRequest("demo-helvia", "alice"))
        })
      const refused = yield* large(MiB)
      expect(refused.status).toBe(503)
      expect(refused.body).toEqual({
        error: "UpstreamUnavailable",
        service: "hbf-core",
        message: `hbf-core failed to return tenant demo-helvia: answered more than ${MiB} bytes`
      })
      expect((yield* large(4 * MiB)).status).toBe(201)
    }).pipe(Effect.scoped))

  it.live("hbf-bot accepting an event with a 200 and a 2 MiB body: the event is delivered once, the status is what counts", () =>
    Effect.gen(function*() {
      const received: Array<string> = []
      const bot = yield* serve((req, res) => {
        let body = ""
        req.on("data", (chunk) => (body += chunk))
        req.on("end", () => {
          received.push((JSON.parse(body) as { type: string }).type)
          res.writeHead(200, { "content-type": "application/json" }).end("x".repeat(2 * MiB))
        })
      })
      const gw = yield* startGateway({ configure: (c) => ({ ...c, hbfBot: { url: bot.url } }) })
      const created = yield* gw.call("POST", "/requests", livechatRequest("demo-helvia", "alice"))
      expect((yield* gw.lcm.join(created.body.sessionId as string, { id: "a1", fullName: "Maria" })).status).toBe(200)
      yield* eventually("hbf-bot has the join", Effect.sync(() => received), (types) => types.includes("agent.joined"))
      // A failed delivery would be retried within this (20 ms backoff in the tests).
      yield* Effect.sleep(Duration.millis(500))
      // The request's first queue figures, then the join.
      expect(received).toEqual(["request.queued", "agent.joined"])
    }).pipe(Effect.scoped))
})

describe("Retry-After and the deadline of hbf-* calls", () => {
  it.live("Retry-After: 3600 from hbf-core, hbf-lcm, hbf-bot and event-publisher is waited only up to the cap", () =>
    Effect.gen(function*() {
      const cap = Duration.millis(400)
      const gw = yield* startGateway({
        configure: (c) => ({
          ...c,
          hbfCore: { ...c.hbfCore, cacheSeconds: 0 },
          upstream: { ...c.upstream, maxRetryAfter: cap }
        })
      })
      gw.core.failNext(1, 503, 3600)
      gw.lcm.failNext(1, 429, 3600)
      const started = Date.now()
      const created = yield* gw.call("POST", "/requests", livechatRequest("demo-helvia", "alice"))
      expect(created.status).toBe(201)
      // One capped wait for hbf-core's answer, one for hbf-lcm's: not an hour, and not less than asked, up to the cap.
      expect(Date.now() - started).toBeGreaterThanOrEqual(2 * Duration.toMillis(cap) - 20)
      expect(Date.now() - started).toBeLessThan(5_000)
      const sessionId = created.body.sessionId as string
      yield* eventually(
        "hbf-bot has the request's first queue figures",
        Effect.sync(() => gw.bot.eventsOf(sessionId).length),
        (n) => n >= 1
      )

      gw.bot.failNext(1, 503, 3600)
      const joining = Date.now()
      expect((yield* gw.lcm.join(sessionId, { id: "a1", fullName: "Maria" })).status).toBe(200)
      yield* eventually(
        "hbf-bot has the join, after its 503",
        Effect.sync(() => gw.bot.eventsOf(sessionId).map((e) => e.type)),
        (types) => types.includes("agent.joined")
      )
      expect(Date.now() - joining).toBeGreaterThanOrEqual(Duration.toMillis(cap) - 20)

      // The session's end triggers the tenant's flow at event-publisher.
      gw.publisher.failNext(1, 503, 3600)
      const ending = Date.now()
      expect((yield* gw.call("DELETE", "/sessions/tenants/demo-helvia/subscribers/alice")).status).toBe(204)
      yield* eventually(
        "event-publisher has the end's flow, after its 503",
        Effect.sync(() => gw.publisher.triggers().map((t) => t.flowId)),
        (flows) => flows.includes("flow-survey")
      )
      expect(Date.now() - ending).toBeGreaterThanOrEqual(Duration.toMillis(cap) - 20)
    }).pipe(Effect.scoped))

  it.live("an hbf-core that never answers: the request is a 503 UpstreamUnavailable at the deadline, not after HTTP timeouts and retries", () =>
    Effect.gen(function*() {
      const silent = yield* silentService
      const gw = yield* startGateway({
        configure: (c) => ({
          ...c,
          hbfCore: { ...c.hbfCore, url: silent.url },
          upstream: { ...c.upstream, deadline: Duration.millis(800) }
        })
      })
      const started = Date.now()
      const answer = yield* gw.call("POST", "/requests", livechatRequest("demo-helvia", "alice"))
      expect(answer.status).toBe(503)
      expect(answer.body).toEqual({
        error: "UpstreamUnavailable",
        service: "hbf-core",
        message: "hbf-core failed to return tenant demo-helvia: did not answer within 800 ms"
      })
      // HTTP timeout is 10 s: only the deadline ends the call this soon.
      expect(Date.now() - started).toBeGreaterThanOrEqual(780)
      expect(Date.now() - started).toBeLessThan(2_000)
      expect(silent.requests()).toBe(1)
    }).pipe(Effect.scoped))

  it.live("an hbf-lcm that never answers: the livechat request is a 502 ProviderError at the deadline, and its session ends as an error", () =>
    Effect.gen(function*() {
      const silent = yield* silentService
      const gw = yield* startGateway({
        configure: (c) => ({
          ...c,
          hbfLcm: { ...c.hbfLcm, url: silent.url },
          upstream: { ...c.upstream, deadline: Duration.millis(800) }
        })
      })
      const started = Date.now()
      const answer = yield* gw.call("POST", "/requests", livechatRequest("demo-helvia", "alice"))
      expect(answer.status).toBe(502)
      expect(answer.body).toMatchObject({ error: "ProviderError", provider: "helvia-livechat" })
      expect(answer.body.message).toContain("hbf-lcm POST /livechat-requests did not answer within 800 ms")
      expect(Date.now() - started).toBeLessThan(2_000)
      const state = yield* gw.call("GET", "/subscribers/alice/livechat-state?tenantId=demo-helvia")
      expect(state.body).toMatchObject({ state: "ended", session: { endReason: "error" } })
    }).pipe(Effect.scoped))
})

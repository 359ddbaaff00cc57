import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Layer, Redacted, TestClock } from "effect"
import { createServer } from "node:http"
import { demoOrganization, demoTenants } from "../../sandbox/demoTenants.js"
import { makeSandbox } from "../../sandbox/environment.js"
import { HbfCoreHttp } from "../../src/hbf/HbfCoreHttp.js"
import { OutboundHttpLive } from "../../src/infra/outbound.js"
import { ProviderEgressGuardLive } from "../../src/infra/ProviderEgressGuardLive.js"
import { AppConfig, type AppConfigValues } from "../../src/services/AppConfig.js"
import { HbfCore } from "../../src/services/HbfCore.js"

/** Waits in real time (the test's clock may be the TestClock) until `done` holds. */
const untilReal = (done: () => boolean): Effect.Effect<void> =>
  Effect.suspend(() => (done() ? Effect.void : Effect.zipRight(realPause(10), untilReal(done))))

const realPause = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

const coreWith = (config: AppConfigValues) =>
  HbfCoreHttp.pipe(
    Layer.provide(OutboundHttpLive),
    Layer.provide(ProviderEgressGuardLive),
    Layer.provide(Layer.succeed(AppConfig, config))
  )

describe("HbfCore over HTTP", () => {
  it.live("a burst of look-ups for one tenant makes one call, and the result is cached", () =>
    Effect.gen(function*() {
      const sandbox = yield* makeSandbox()
      const tenants = yield* Effect.forEach(Array.from({ length: 50 }), () =>
        Effect.flatMap(HbfCore, (c) => c.tenant("demo-helvia")), {
        concurrency: "unbounded"
      }).pipe(Effect.provide(coreWith(sandbox.config)))
      expect(tenants.every((t) =>
        t.organizationId === demoOrganization.id
      )).toBe(true)
      expect(sandbox.core.tenantCalls("demo-helvia")).toBe(1)
    }).pipe(Effect.scoped))

  it.effect("a cached tenant is asked for again once HBF_CORE_CACHE_SECONDS have passed since it was loaded, not before", () =>
    Effect.gen(function*() {
      const sandbox = yield* makeSandbox({ configure: (c) => ({ ...c, hbfCore: { ...c.hbfCore, cacheSeconds: 60 } }) })
      yield* Effect.gen(function*() {
        const core = yield* HbfCore
        yield* core.tenant("demo-helvia")
        yield* TestClock.adjust(Duration.seconds(59))
        yield* core.tenant("demo-helvia")
        expect(sandbox.core.tenantCalls("demo-helvia")).toBe(1)
        yield* TestClock.adjust(Duration.seconds(2))
        expect((yield* core.tenant("demo-helvia")).id).toBe("demo-helvia")
        yield* core.tenant("demo-helvia")
        expect(sandbox.core.tenantCalls("demo-helvia")).toBe(2)
      }).pipe(Effect.provide(coreWith(sandbox.config)))
    }).pipe(Effect.scoped))

  it.live("with the cache on, a failed look-up is not kept", () =>
    Effect.gen(function*() {
      const sandbox = yield* makeSandbox()
      yield* Effect.gen(function*() {
        const core = yield* HbfCore
        expect(Exit.isFailure(yield* Effect.exit(core.tenant("late")))).toBe(true)
        sandbox.setTenant({
          ...demoTenants({
            genesys: sandbox.genesys.baseUrl,
            cisco: sandbox.cisco.baseUrl,
            zendesk: sandbox.zendesk.baseUrl
          })[0]!,
          id: "late"
        })
        expect((yield* core.tenant("late")).id).toBe("late")
        expect(sandbox.core.tenantCalls("late")).toBe(2)
      }).pipe(Effect.provide(coreWith(sandbox.config)))
    }).pipe(Effect.scoped))

  it.live("transient failures are retried; an unknown tenant is TenantNotFound and not cached", () =>
    Effect.gen(function*() {
      const sandbox = yield* makeSandbox({ configure: (c) => ({ ...c, hbfCore: { ...c.hbfCore, cacheSeconds: 0 } }) })
      yield* Effect.gen(function*() {
        const core = yield* HbfCore
        sandbox.core.failNext(2, 503)
        const tenant = yield* core.tenant("demo-helvia")
        expect(tenant.id).toBe("demo-helvia")
        expect(sandbox.core.tenantCalls("demo-helvia")).toBe(3)
        const missing = yield* Effect.exit(core.tenant("ghost"))
        expect(Exit.isFailure(missing) && JSON.stringify(missing.cause)).toContain("TenantNotFound")
        sandbox.setTenant({
          ...demoTenants({
            genesys: sandbox.genesys.baseUrl,
            cisco: sandbox.cisco.baseUrl,
            zendesk: sandbox.zendesk.baseUrl
          })[0]!,
          id: "ghost"
        })
        expect((yield* core.tenant("ghost")).id).toBe("ghost")
      }).pipe(Effect.provide(coreWith(sandbox.config)))
    }).pipe(Effect.scoped))

  it.live("a 429 with Retry-After is waited out before the retry", () =>
    Effect.gen(function*() {
      let calls = 0
      const server = createServer((_req, res) => {
        calls++
        if (calls === 1) {
          res.writeHead(429, { "retry-after": "1", "content-type": "application/json" }).end("{}")
          return
        }
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id: "t", organization: "o" }))
      })
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () => Effect.sync(() => server.close())
      )
      const port = (server.address() as { port: number }).port
      const sandbox = yield* makeSandbox()
      const config = {
        ...sandbox.config,
        hbfCore: { url: `http://127.0.0.1:${port}`, token: Redacted.make("t"), cacheSeconds: 0 }
      }
      const started = Date.now()
      const tenant = yield* Effect.flatMap(HbfCore, (c) => c.tenant("t")).pipe(Effect.provide(coreWith(config)))
      expect(tenant.id).toBe("t")
      expect(calls).toBe(2)
      expect(Date.now() - started).toBeGreaterThanOrEqual(950)
    }).pipe(Effect.scoped))

  it.effect("Retry-After: 3600 is waited 60 s, not an hour (when the call's deadline leaves that much)", () =>
    Effect.gen(function*() {
      const sandbox = yield* makeSandbox({
        configure: (c) => ({
          ...c,
          hbfCore: { ...c.hbfCore, cacheSeconds: 0 },
          upstream: { ...c.upstream, deadline: Duration.minutes(5) }
        })
      })
      yield* Effect.gen(function*() {
        const core = yield* HbfCore
        sandbox.core.failNext(1, 503, 3600)
        const call = yield* Effect.fork(core.tenant("demo-helvia"))
        yield* untilReal(() => sandbox.core.tenantCalls("demo-helvia") === 1)
        yield* TestClock.adjust(Duration.seconds(59))
        yield* realPause(200)
        expect(sandbox.core.tenantCalls("demo-helvia")).toBe(1)
        yield* TestClock.adjust(Duration.seconds(1))
        expect((yield* Fiber.join(call)).id).toBe("demo-helvia")
        expect(sandbox.core.tenantCalls("demo-helvia")).toBe(2)
      }).pipe(Effect.provide(coreWith(sandbox.config)))
    }).pipe(Effect.scoped))

  it.live("a Retry-After that would end past the call's deadline (30 s by default) is not waited: the call fails at once with hbf-core's answer", () =>
    Effect.gen(function*() {
      const sandbox = yield* makeSandbox({ configure: (c) => ({ ...c, hbfCore: { ...c.hbfCore, cacheSeconds: 0 } }) })
      sandbox.core.failNext(1, 503, 3600)
      const started = Date.now()
      const result = yield* Effect.flatMap(HbfCore, (c) => Effect.flip(c.tenant("demo-helvia"))).pipe(
        Effect.provide(coreWith(sandbox.config))
      )
      expect(result).toMatchObject({
        _tag: "UpstreamUnavailable",
        message: "hbf-core failed to return tenant demo-helvia: answered 503"
      })
      expect(Date.now() - started).toBeLessThan(1_000)
      expect(sandbox.core.tenantCalls("demo-helvia")).toBe(1)
    }).pipe(Effect.scoped))

  it.live("the deadline holds across retries: an hbf-core answering 503 slowly is retried while the deadline lasts, and the attempt in flight is cut at it", () =>
    Effect.gen(function*() {
      const sandbox = yield* makeSandbox()
      let attempts = 0
      // Every answer is a 503, 250 ms after the request.
      const slow = createServer((_req, res) => {
        attempts++
        setTimeout(() => res.writeHead(503, { "content-type": "application/json" }).end("{}"), 250)
      })
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void slow.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () => Effect.sync(() => (slow.closeAllConnections(), slow.close()))
      )
      const url = `http://127.0.0.1:${(slow.address() as { port: number }).port}`
      const config = {
        ...sandbox.config,
        upstream: { ...sandbox.config.upstream, deadline: Duration.seconds(1) },
        hbfCore: { ...sandbox.config.hbfCore, url }
      }
      const startedAt = Date.now()
      const result = yield* Effect.flatMap(HbfCore, (c) => Effect.flip(c.tenant("demo-helvia"))).pipe(
        Effect.provide(coreWith(config))
      )
      const elapsed = Date.now() - startedAt
      // 503 at 250 ms, a retry at ~350 ms answered at ~600 ms, a retry at ~800 ms cut at 1000 ms (a fourth was due without the deadline).
      expect(result.message).toBe("hbf-core failed to return tenant demo-helvia: did not answer within 1000 ms")
      expect(attempts).toBe(3)
      expect(elapsed).toBeGreaterThanOrEqual(980)
      expect(elapsed).toBeLessThan(1_300)
    }).pipe(Effect.scoped))

  it.live("an hbf-core that never answers times out after HTTP_TIMEOUT, each attempt, and says so", () =>
    Effect.gen(function*() {
      const sandbox = yield* makeSandbox()
      let attempts = 0
      // Takes the request and never answers it.
      const silent = createServer(() => void attempts++)
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void silent.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () => Effect.sync(() => (silent.closeAllConnections(), silent.close()))
      )
      const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`
      const startedAt = Date.now()
      const result = yield* Effect.flatMap(HbfCore, (c) => Effect.exit(c.tenant("demo-helvia"))).pipe(
        Effect.provide(
          coreWith({
            ...sandbox.config,
            httpTimeout: Duration.millis(300),
            hbfCore: { ...sandbox.config.hbfCore, url }
          })
        )
      )
      expect(Exit.isFailure(result) && JSON.stringify(result.cause)).toContain("timed out")
      // The first attempt and three retries, each given up after 300 ms.
      expect(attempts).toBe(4)
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(4 * 300)
    }).pipe(Effect.scoped))

  it.live("an interrupted call aborts its request: the connection is closed at once, not left to the timeout", () =>
    Effect.gen(function*() {
      const sandbox = yield* makeSandbox()
      const received = yield* Deferred.make<void>()
      const closed = yield* Deferred.make<void>()
      // Takes the request and never answers it; tells when the client goes away.
      const silent = createServer((req) => {
        Deferred.unsafeDone(received, Exit.void)
        req.socket.once("close", () => Deferred.unsafeDone(closed, Exit.void))
      })
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void silent.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () => Effect.sync(() => (silent.closeAllConnections(), silent.close()))
      )
      const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`
      const config = {
        ...sandbox.config,
        httpTimeout: Duration.seconds(30),
        hbfCore: { ...sandbox.config.hbfCore, url, cacheSeconds: 0 }
      }
      yield* Effect.gen(function*() {
        const core = yield* HbfCore
        const call = yield* Effect.fork(core.tenant("demo-helvia"))
        yield* Deferred.await(received)
        yield* Fiber.interrupt(call)
        yield* Deferred.await(closed).pipe(
          Effect.timeoutFail({ duration: "2 seconds", onTimeout: () => new Error("the request was not aborted") })
        )
      }).pipe(Effect.provide(coreWith(config)))
    }).pipe(Effect.scoped))
})

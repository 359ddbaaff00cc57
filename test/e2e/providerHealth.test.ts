/**
 * One availability verdict for every provider (docs/ARCHITECTURE.md#provider-health): a
 * provider made unreachable (its simulator's switch: 503 to every API call) turns availability
 * to `unreachable` / `provider-unreachable` once the breaker of the tenant's credential opens on
 * the failures of real creates (502); a create then answers 503 at once, without calling the
 * provider; once the provider is back, availability's own probe (after the cool-down) brings
 * the verdict back, without user traffic. Look-alike tenants with other credentials are judged
 * apart.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { demoTenants, zendeskTenant } from "../../sandbox/demoTenants.js"
import { freePort, type SandboxOptions } from "../../sandbox/environment.js"
import type { UnreachableControls } from "../../sandbox/http/unreachable.js"
import { eventually } from "../eventually.js"
import { type Gateway, livechatRequest, startGateway, type StoreKind } from "./harness.js"

/** Short figures: 3 failures within 5 s open a breaker, a probe after 3 s. */
const breaker = { failures: 3, window: Duration.seconds(5), coolDown: Duration.seconds(3) }

const start = (store: StoreKind, tenants?: SandboxOptions["tenants"]) =>
  startGateway({
    store,
    ...(tenants !== undefined ? { tenants } : {}),
    configure: (config) => ({ ...config, providerBreaker: breaker })
  })

const availabilityOf = (gw: Gateway, tenantId: string) =>
  Effect.map(gw.call("GET", `/tenants/${tenantId}/availability`), (answer) => {
    expect(answer.status).toBe(200)
    return answer.body as { available: boolean; reason?: string; health?: string; sources?: unknown }
  })

/** Creates for new subscribers until one answers 503 (the breaker opened): every one before it failed at the provider, 502. */
const createUntilRefused = (gw: Gateway, tenantId: string) =>
  Effect.gen(function*() {
    for (let n = 1; n <= 2 * breaker.failures; n++) {
      const answer = yield* gw.call("POST", "/requests", livechatRequest(tenantId, `${tenantId}-user-${n}`))
      if (answer.status === 503) return answer
      expect(answer.body).toMatchObject({ error: "ProviderError" })
      expect(answer.status).toBe(502)
    }
    return yield* Effect.dieMessage(`no 503 after ${2 * breaker.failures} failed creates`)
  })

const providers: ReadonlyArray<{
  readonly provider: string
  readonly tenantId: string
  readonly simulator: (gw: Gateway) => UnreachableControls
  readonly stores: ReadonlyArray<StoreKind>
}> = [
  { provider: "hbf-lcm", tenantId: "demo-helvia", simulator: (gw) => gw.lcm, stores: ["memory", "redis"] },
  { provider: "Genesys", tenantId: "demo-genesys", simulator: (gw) => gw.genesys, stores: ["memory"] },
  { provider: "CCP", tenantId: "demo-cisco", simulator: (gw) => gw.cisco, stores: ["memory"] },
  { provider: "Sunshine", tenantId: "demo-zendesk", simulator: (gw) => gw.zendesk, stores: ["memory"] }
]

describe("provider health", () => {
  for (const { provider, simulator, stores, tenantId } of providers) {
    for (const store of stores) {
      it.live(
        `${provider} (${store}): unreachable after failed creates, a create then refused at once without calling it, available again after it recovers`,
        () =>
          Effect.gen(function*() {
            const gw = yield* start(store)
            const sim = simulator(gw)
            expect(yield* availabilityOf(gw, tenantId)).toMatchObject({ available: true, health: "ok" })

            yield* sim.unreachable(true)
            const refused = yield* createUntilRefused(gw, tenantId)
            expect(refused.body).toMatchObject({ error: "LivechatUnavailable", reason: "provider-unreachable" })
            expect(yield* availabilityOf(gw, tenantId)).toMatchObject({
              available: false,
              reason: "provider-unreachable",
              health: "unreachable"
            })

            // Refused at once: the provider hears nothing of it.
            const callsBefore = sim.refusedWhileUnreachable()
            const fast = yield* gw.call("POST", "/requests", livechatRequest(tenantId, "fast"))
            expect(fast).toMatchObject({
              status: 503,
              body: { error: "LivechatUnavailable", reason: "provider-unreachable" }
            })
            expect(sim.refusedWhileUnreachable()).toBe(callsBefore)
            expect((yield* gw.call("GET", "/subscribers/fast/livechat-state")).body).toMatchObject({ state: "none" })

            // Back: availability probes it after the cool-down, and says so without any create.
            yield* sim.unreachable(false)
            const back = yield* eventually(
              "availability is back",
              availabilityOf(gw, tenantId),
              (body) => body.available,
              Duration.seconds(15)
            )
            expect(back.health).not.toBe("unreachable")
            yield* eventually(
              "health is ok once the failures left the window",
              availabilityOf(gw, tenantId),
              (body) => body.health === "ok",
              Duration.seconds(15)
            )
            const created = yield* gw.call("POST", "/requests", livechatRequest(tenantId, "after"))
            expect(created.status).toBe(201)
          }).pipe(Effect.scoped),
        60_000
      )
    }
  }

  it.live("Genesys availability names where its figures came from", () =>
    Effect.gen(function*() {
      const gw = yield* start("memory")
      expect(yield* availabilityOf(gw, "demo-genesys")).toMatchObject({
        available: true,
        health: "ok",
        agentsOnline: 3,
        estimatedWaitSeconds: 45,
        sources: { agentsOnline: "provider", estimatedWaitSeconds: "provider" }
      })
      const helvia = yield* availabilityOf(gw, "demo-helvia")
      expect(helvia.health).toBe("ok")
      expect(helvia.sources).toBeUndefined()
    }).pipe(Effect.scoped))

  it.live(
    "a look-alike tenant (the same Sunshine app and key, another secret, a host that is down) opens its own breaker, never the other's",
    () =>
      Effect.gen(function*() {
        const downPort = yield* freePort
        const gw = yield* start("memory", (urls) => {
          const lookalike = zendeskTenant("lookalike", `http://127.0.0.1:${downPort}/sc`)
          const integration = (lookalike.plugins[0] as { integration: { zendesk: Record<string, unknown> } })
            .integration
          integration.zendesk = { ...integration.zendesk, keySecret: "another-secret" }
          return [...demoTenants(urls), lookalike]
        })
        yield* createUntilRefused(gw, "lookalike")
        expect(yield* availabilityOf(gw, "lookalike")).toMatchObject({
          available: false,
          reason: "provider-unreachable",
          health: "unreachable"
        })
        expect(yield* availabilityOf(gw, "demo-zendesk")).toMatchObject({ available: true, health: "ok" })
        const created = yield* gw.call("POST", "/requests", livechatRequest("demo-zendesk", "victim"))
        expect(created.status).toBe(201)
      }).pipe(Effect.scoped),
    60_000
  )
})

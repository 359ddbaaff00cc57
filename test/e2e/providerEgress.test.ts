/**
 * Tenant-configured provider URLs end to end: confined to https and public addresses (unless
 * LCG_PROVIDER_* relax it), refused as "not configured" before anything is sent, and a
 * provider that does not answer is answered without its address.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { ciscoTenant, demoGenesys, genesysTenant, zendeskTenant } from "../../sandbox/demoTenants.js"
import { freePort } from "../../sandbox/environment.js"
import { defaultAppConfig, type ProviderEgress } from "../../src/services/AppConfig.js"
import { connectionTrap, recordingLogs } from "../egressProbes.js"
import { type GatewayOptions, livechatRequest, startGateway } from "./harness.js"

const startWith = (providerEgress: ProviderEgress, options: GatewayOptions = {}) =>
  startGateway({ ...options, configure: (config) => ({ ...config, providerEgress }) })

const ciscoApiKey = "ccp-gateway-api-key-1234"

type TenantJson = ReturnType<typeof ciscoTenant>

/** The tenant with fields of its livechat plugin's `block` ("cisco", "genesys", ...) replaced. */
const withFields = (tenant: TenantJson, block: string, fields: Record<string, unknown>): TenantJson => ({
  ...tenant,
  plugins: (tenant.plugins as ReadonlyArray<{ readonly integration: Record<string, object> }>).map((plugin) => ({
    ...plugin,
    integration: { ...plugin.integration, [block]: { ...plugin.integration[block], ...fields } }
  }))
})

/** Checks that an answer has nothing of a URL (scheme, host; `revealing` adds ports) or of the tenant's key. */
const expectNothingRevealed = (body: unknown, ...revealing: ReadonlyArray<string>) => {
  const text = JSON.stringify(body)
  for (const value of ["://", "127.0.0.1", "localhost", ciscoApiKey, ...revealing]) expect(text).not.toContain(value)
}

describe("confined provider URLs", () => {
  it.live("outside the sandbox's relaxations, the simulators' http://127.0.0.1 URLs are refused: 422 naming the field, availability not-configured, nothing sent", () =>
    Effect.gen(function*() {
      const gw = yield* startWith(defaultAppConfig.providerEgress)
      const ports = [gw.cisco.baseUrl, gw.zendesk.baseUrl, gw.genesys.baseUrl].map((url) => new URL(url).port)
      for (
        const [tenantId, field] of [
          ["demo-cisco", "cisco.baseUrl"],
          ["demo-zendesk", "zendesk.apiBaseUrl"],
          ["demo-genesys", "genesys.apiBaseUrl"]
        ] as const
      ) {
        const refused = yield* gw.call("POST", "/requests", livechatRequest(tenantId, `alice-${tenantId}`))
        expect(refused.status).toBe(422)
        expect(refused.body).toMatchObject({ error: "LivechatNotConfigured", tenantId })
        expect(refused.body.message).toContain(`${field}: must use https`)
        expectNothingRevealed(refused.body, ...ports)
        const availability = yield* gw.call("GET", `/tenants/${tenantId}/availability`)
        expect(availability.body).toMatchObject({ tenantId, available: false, reason: "not-configured" })
      }
      expect(gw.cisco.requests()).toEqual([])
      expect(gw.zendesk.requests()).toEqual([])
      expect(gw.genesys.requests()).toEqual([])
      expect(gw.genesys.tokensIssued(demoGenesys.clientId)).toBe(0)
      // hbf-lcm is the operator's, on loopback here: not a provider URL, not confined.
      expect((yield* gw.call("POST", "/requests", livechatRequest("demo-helvia", "bob"))).status).toBe(201)
    }).pipe(Effect.scoped))

  it.live("with http allowed, a loopback address or a name resolving to one is refused just the same, and the tenant's API key never leaves", () =>
    Effect.gen(function*() {
      const trap = yield* connectionTrap
      const trapUrl = `https://localhost:${trap.port}`
      const gw = yield* startWith(
        { ...defaultAppConfig.providerEgress, allowInsecure: true },
        {
          tenants: (urls) => [
            withFields(ciscoTenant("cisco-loopback", urls.cisco), "cisco", { apiKey: ciscoApiKey }),
            withFields(ciscoTenant("cisco-by-name", trapUrl), "cisco", { apiKey: ciscoApiKey }),
            zendeskTenant("zendesk-by-name", `${trapUrl}/sc`),
            // The API is public; only the login is the tenant's loopback.
            withFields(genesysTenant("genesys-login", urls.genesys), "genesys", { apiBaseUrl: "https://93.184.216.34" })
          ]
        }
      )
      for (
        const [tenantId, expected] of [
          ["cisco-loopback", "cisco.baseUrl: is a private address"],
          ["cisco-by-name", "cisco.baseUrl: resolves to a private address"],
          ["zendesk-by-name", "zendesk.apiBaseUrl: resolves to a private address"],
          ["genesys-login", "genesys.loginBaseUrl: is a private address"]
        ] as const
      ) {
        const refused = yield* gw.call("POST", "/requests", livechatRequest(tenantId, `alice-${tenantId}`))
        expect(refused.status).toBe(422)
        expect(refused.body).toMatchObject({
          error: "LivechatNotConfigured",
          message: `tenant ${tenantId}: ${expected}`
        })
        expectNothingRevealed(
          refused.body,
          String(trap.port),
          new URL(gw.cisco.baseUrl).port,
          new URL(gw.genesys.baseUrl).port
        )
      }
      expect(trap.connections()).toBe(0)
      expect(gw.cisco.requests()).toEqual([])
      expect(gw.genesys.tokensIssued(demoGenesys.clientId)).toBe(0)
    }).pipe(Effect.scoped))

  it.live("the same tenant works once its host is on LCG_PROVIDER_HOSTS, or private addresses are allowed", () =>
    Effect.gen(function*() {
      const listed = yield* startWith({ allowInsecure: true, allowPrivate: false, hosts: ["127.0.0.1"] })
      expect((yield* listed.call("POST", "/requests", livechatRequest("demo-cisco", "alice"))).status).toBe(201)
      expect((yield* listed.call("POST", "/requests", livechatRequest("demo-zendesk", "bob"))).status).toBe(201)
      expect(listed.cisco.chatWith("hbfSubscriber", "alice")).toBeDefined()
      const onPrem = yield* startWith({ allowInsecure: true, allowPrivate: true, hosts: [] })
      expect((yield* onPrem.call("POST", "/requests", livechatRequest("demo-cisco", "carol"))).status).toBe(201)
    }).pipe(Effect.scoped))
})

describe("a provider that does not answer", () => {
  it.live("is a 502 saying it is unreachable, without its address; the log says why", () =>
    recordingLogs((logs) =>
      Effect.gen(function*() {
        const closed = String(yield* freePort)
        const down = `http://127.0.0.1:${closed}`
        const gw = yield* startGateway({
          tenants: () => [
            ciscoTenant("cisco-down", down),
            zendeskTenant("zendesk-down", down),
            genesysTenant("genesys-down", down)
          ]
        })
        for (
          const [tenantId, expected] of [
            ["cisco-down", "CCP POST /ccp/rest/chat is unreachable"],
            ["zendesk-down", "Sunshine POST /users is unreachable"],
            ["genesys-down", "Genesys login is unreachable"]
          ] as const
        ) {
          const failed = yield* gw.call("POST", "/requests", livechatRequest(tenantId, `alice-${tenantId}`))
          expect(failed.status).toBe(502)
          expect(failed.body).toMatchObject({ error: "ProviderError", message: expected })
          expectNothingRevealed(failed.body, closed, "ECONNREFUSED")
        }
        const reasons = logs.filter((line) =>
          line.includes("a provider call got no answer") && line.includes(`ECONNREFUSED 127.0.0.1:${closed}`)
        )
        for (const provider of ["cisco-livechat", "zendesk", "genesys-livechat"]) {
          expect(reasons.some((line) => line.includes(`"provider":"${provider}"`))).toBe(true)
        }
      }).pipe(Effect.scoped)
    ))

  it.live("hbf-lcm unreachable is a 502 without its address, the reason logged", () =>
    recordingLogs((logs) =>
      Effect.gen(function*() {
        const closed = String(yield* freePort)
        const gw = yield* startGateway({
          configure: (config) => ({ ...config, hbfLcm: { ...config.hbfLcm, url: `http://127.0.0.1:${closed}` } })
        })
        const failed = yield* gw.call("POST", "/requests", livechatRequest("demo-helvia", "alice"))
        expect(failed.status).toBe(502)
        expect(failed.body).toMatchObject({
          error: "ProviderError",
          message: "hbf-lcm POST /livechat-requests is unreachable"
        })
        expectNothingRevealed(failed.body, closed, "ECONNREFUSED")
        expect(logs.some((line) =>
          line.includes("hbf-lcm is unreachable") && line.includes(`ECONNREFUSED 127.0.0.1:${closed}`)
        )).toBe(true)
      }).pipe(Effect.scoped)
    ))
})

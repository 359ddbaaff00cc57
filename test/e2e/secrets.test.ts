/**
 * No tenant configuration value and no secret in any answer or log line (docs/SECURITY.md):
 * a LIVECHAT block that does not decode, a tenant hbf-core returns malformed, and a provider
 * that refuses a call are answered by paths, statuses and codes only. Every value below that
 * holds "CONFIDENTIAL" is one that must never come back.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { demoGenesys, demoTenants, genesysTenant } from "../../sandbox/demoTenants.js"
import { freePort } from "../../sandbox/environment.js"
import { startGateway } from "./harness.js"

const genesysBlock = (tenant: ReturnType<typeof genesysTenant>) =>
  (tenant.plugins[0] as { integration: { genesys: Record<string, unknown> } }).integration

describe("secrets and configuration values stay out of answers and logs", () => {
  it.live("a mistyped region, a malformed hbf-core tenant and a provider's refusal name paths, statuses and codes only", () =>
    Effect.gen(function*() {
      const logs: Array<string> = []
      const gw = yield* startGateway({
        logs,
        tenants: (urls) => {
          // One typo in region: the block does not decode; its secrets must not be echoed.
          const typo = genesysTenant("typo", urls.genesys, {
            clientId: "client-CONFIDENTIAL-1",
            clientSecret: "secret-CONFIDENTIAL-2"
          })
          genesysBlock(typo).genesys = {
            ...genesysBlock(typo).genesys,
            region: "mypurecloud.dee",
            webhookSecret: "hook-CONFIDENTIAL-3"
          }
          // A valid block whose integration Genesys does not know: Genesys' 404 repeats the id.
          const unknownIntegration = genesysTenant("unknown-integration", urls.genesys)
          genesysBlock(unknownIntegration).genesys = {
            ...genesysBlock(unknownIntegration).genesys,
            integrationId: "integration-CONFIDENTIAL-4"
          }
          // hbf-core returns a tenant that is not one (no organization), with a plugin full of secrets.
          const malformed = {
            id: "malformed",
            plugins: { LIVECHAT: { helvia: { webhookSecret: "hook-CONFIDENTIAL-5" } } }
          }
          return [...demoTenants(urls), typo, unknownIntegration, malformed as never]
        }
      })

      const typo = yield* gw.call("POST", "/requests", { tenantId: "typo", subHandle: "a" })
      expect(typo.status).toBe(422)
      expect(typo.body).toEqual({
        error: "LivechatNotConfigured",
        tenantId: "typo",
        message: "tenant typo: the LIVECHAT plugin is invalid: genesys.region: not a known Genesys Cloud region"
      })
      const availability = yield* gw.call("GET", "/tenants/typo/availability")
      expect(availability.body).toMatchObject({ available: false, reason: "not-configured" })

      const malformed = yield* gw.call("POST", "/requests", { tenantId: "malformed", subHandle: "b" })
      expect(malformed.status).toBe(503)
      expect(malformed.body.message).toContain("organization")

      const refused = yield* gw.call("POST", "/requests", { tenantId: "unknown-integration", subHandle: "c" })
      expect(refused.status).toBe(502)
      expect(refused.body.message).toBe(
        "Genesys POST /api/v2/conversations/messages/{id}/inbound/open/message answered 404 not.found"
      )

      // The provider's own words are in the log for on-call; values of the configuration nowhere.
      expect(logs.some((line) => line.includes("Genesys refused a call"))).toBe(true)
      for (const text of [JSON.stringify([typo.body, availability.body, malformed.body, refused.body]), ...logs]) {
        expect(text).not.toContain("CONFIDENTIAL")
        expect(text).not.toContain(demoGenesys.clientSecret)
      }
    }).pipe(Effect.scoped))
})

describe("hbf-core failing, as callers see it", () => {
  it.live("unreachable: the answer says so without its address; a webhook it cannot verify is a 503 that names nothing", () =>
    Effect.gen(function*() {
      const logs: Array<string> = []
      const closed = String(yield* freePort)
      const down = yield* startGateway({
        logs,
        configure: (config) => ({ ...config, hbfCore: { ...config.hbfCore, url: `http://127.0.0.1:${closed}` } })
      })
      const availability = yield* down.call("GET", "/tenants/demo-helvia/availability")
      expect(availability).toMatchObject({
        status: 503,
        body: { error: "UpstreamUnavailable", message: "hbf-core failed to return tenant demo-helvia: is unreachable" }
      })
      expect(JSON.stringify(availability.body)).not.toContain(closed)
      expect(logs.some((line) => line.includes("hbf-core is unreachable") && line.includes(closed))).toBe(true)

      // A session exists; hbf-core then fails while a webhook for it comes, signed or not by its tenant.
      const gw = yield* startGateway({
        configure: (config) => ({ ...config, hbfCore: { ...config.hbfCore, cacheSeconds: 0 } })
      })
      const sessionId: string =
        (yield* gw.call("POST", "/requests", { tenantId: "demo-helvia", subHandle: "alice" })).body.sessionId
      gw.core.failNext(20, 500)
      const body = JSON.stringify({
        id: "e1",
        type: "CONVERSATION_BEGIN",
        platformSessionId: sessionId,
        platformUserId: "alice",
        occurredAt: new Date().toISOString()
      })
      const hook = yield* gw.call("POST", "/events/helvia-livechat", body, {
        "x-helvia-signature": "sha256=" + "ab".repeat(32)
      })
      expect(hook).toMatchObject({
        status: 503,
        body: { error: "UpstreamUnavailable", message: "the webhook cannot be verified now; try again" }
      })
      expect(JSON.stringify(hook.body)).not.toContain("demo-helvia")
    }).pipe(Effect.scoped))
})

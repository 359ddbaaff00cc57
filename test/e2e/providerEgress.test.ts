/** A provider that does not answer, end to end: answered without its address, the reason logged. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { ciscoTenant, genesysTenant, zendeskTenant } from "../../src/sandbox/demoTenants.js"
import { freePort } from "../../src/sandbox/environment.js"
import { recordingLogs } from "../egressProbes.js"
import { livechatRequest, startGateway } from "./harness.js"

/** Checks that an answer has nothing of a URL (scheme, host; `revealing` adds ports and the like). */
const expectNothingRevealed = (body: unknown, ...revealing: ReadonlyArray<string>) => {
  const text = JSON.stringify(body)
  for (const value of ["://", "127.0.0.1", "localhost", ...revealing]) expect(text).not.toContain(value)
}

describe("a provider that does not answer", () => {
  it.live("is a 502 saying it is unreachable, without its address; the log says why", () =>
    recordingLogs((logs) =>
      Effect.gen(function* () {
        const closed = String(yield* freePort)
        const down = `http://127.0.0.1:${closed}`
        const gw = yield* startGateway({
          tenants: () => [ciscoTenant("cisco-down", down), zendeskTenant("zendesk-down", down), genesysTenant("genesys-down", down)]
        })
        for (const [tenantId, expected] of [
          ["cisco-down", "CCP POST /ccp/rest/chat is unreachable"],
          ["zendesk-down", "Sunshine POST /users is unreachable"],
          ["genesys-down", "Genesys login is unreachable"]
        ] as const) {
          const failed = yield* gw.call("POST", "/requests", livechatRequest(tenantId, `alice-${tenantId}`))
          expect(failed.status).toBe(502)
          expect(failed.body).toMatchObject({ error: "ProviderError", message: expected })
          expectNothingRevealed(failed.body, closed, "ECONNREFUSED")
        }
        const reasons = logs.filter((line) => line.includes("a provider call got no answer") && line.includes(`ECONNREFUSED 127.0.0.1:${closed}`))
        for (const provider of ["cisco-livechat", "zendesk", "genesys-livechat"]) {
          expect(reasons.some((line) => line.includes(`"provider":"${provider}"`))).toBe(true)
        }
      }).pipe(Effect.scoped)
    )
  )

  it.live("hbf-lcm unreachable is a 502 without its address, the reason logged", () =>
    recordingLogs((logs) =>
      Effect.gen(function* () {
        const closed = String(yield* freePort)
        const gw = yield* startGateway({
          configure: (config) => ({ ...config, hbfLcm: { ...config.hbfLcm, url: `http://127.0.0.1:${closed}` } })
        })
        const failed = yield* gw.call("POST", "/requests", livechatRequest("demo-helvia", "alice"))
        expect(failed.status).toBe(502)
        expect(failed.body).toMatchObject({ error: "ProviderError", message: "hbf-lcm POST /livechat-requests is unreachable" })
        expectNothingRevealed(failed.body, closed, "ECONNREFUSED")
        expect(logs.some((line) => line.includes("hbf-lcm is unreachable") && line.includes(`ECONNREFUSED 127.0.0.1:${closed}`))).toBe(true)
      }).pipe(Effect.scoped)
    )
  )
})

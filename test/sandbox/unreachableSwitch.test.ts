/**
 * Every provider simulator's unreachable switch (sandbox/http/unreachable.ts), through its sim
 * route: while on, a call to the provider's API answers 503 with an empty body, the
 * simulator's own routes still answer and `GET /sim` lists the switch; off, the API answers as
 * before. Sunshine's switchboard list (the gateway's probe) answers as the SDK's model has it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { demoZendesk } from "../../sandbox/demoTenants.js"
import { makeSandbox } from "../../sandbox/environment.js"

const send = (url: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, init)
    return { status: response.status, text: await response.text() }
  })

const turn = (base: string, unreachable: boolean) =>
  Effect.map(
    send(`${base}/sim/unreachable`, { method: "POST", body: JSON.stringify({ unreachable }) }),
    ({ status, text }) => ({ status, body: JSON.parse(text) as unknown })
  )

const basic = `Basic ${Buffer.from(`${demoZendesk.keyId}:${demoZendesk.keySecret}`).toString("base64")}`

describe("the simulators' unreachable switch", () => {
  it.scopedLive("hbf-lcm, Genesys, CCP and Sunshine answer every API call 503 while it is on, and as before once it is off", () =>
    Effect.gen(function*() {
      const sandbox = yield* makeSandbox()
      const simulators = [
        { base: sandbox.lcm.baseUrl, api: `${sandbox.lcm.baseUrl}/livechat-requests`, init: { method: "HEAD" } },
        { base: sandbox.genesys.baseUrl, api: `${sandbox.genesys.baseUrl}/oauth/token`, init: { method: "POST" } },
        { base: sandbox.cisco.baseUrl, api: `${sandbox.cisco.baseUrl}/ccp/rest/chat?eventid=0&all=false`, init: {} },
        {
          base: sandbox.zendesk.baseUrl.replace(/\/sc$/, ""),
          api: `${sandbox.zendesk.baseUrl}/v2/apps/${demoZendesk.appId}/switchboards`,
          init: { headers: { authorization: basic } }
        }
      ]
      for (const { api, base, init } of simulators) {
        const before = yield* send(api, init)
        expect(before.status, api).not.toBe(503)
        expect(yield* turn(base, true)).toEqual({ status: 200, body: { unreachable: true, refused: 0 } })
        expect(yield* send(api, init)).toEqual({ status: 503, text: "" })
        const listing = JSON.parse((yield* send(`${base}/sim`)).text) as { actions: Array<{ action: string }> }
        expect(listing.actions.map((a) => a.action)).toContain("unreachable")
        expect(yield* turn(base, false)).toEqual({ status: 200, body: { unreachable: false, refused: 1 } })
        expect((yield* send(api, init)).status, api).toBe(before.status)
      }
      const switchboards = yield* send(simulators[3]!.api, simulators[3]!.init)
      expect(JSON.parse(switchboards.text)).toEqual({
        switchboards: [{ id: expect.any(String), enabled: true, defaultSwitchboardIntegrationId: expect.any(String) }]
      })
    }))
})

import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { startGateway } from "./harness.js"

describe("bad input gets a clear 4xx, never a 500", () => {
  it.live("authentication: no token, expired, wrong audience, wrong key, admin scope", () =>
    Effect.gen(function* () {
      const gw = yield* startGateway({ configure: (c) => ({ ...c, jwt: { ...c.jwt, audience: "hbf-lcg" } }) })
      const good = yield* gw.token({ audience: "hbf-lcg" })
      const expired = yield* gw.token({ audience: "hbf-lcg", expiresInSeconds: -120 })
      const wrongAudience = yield* gw.token({ audience: "someone-else" })
      const noExp = yield* gw.token({ audience: "hbf-lcg", withoutExpiry: true })
      const state = (auth?: string) =>
        gw.call("GET", "/subscribers/x/livechat-state", undefined, auth === undefined ? { authorization: "" } : { authorization: auth })

      const missing = yield* state()
      expect(missing.status).toBe(401)
      expect(missing.body).toMatchObject({ error: "Unauthorized", message: expect.stringContaining("missing") })
      expect((yield* state(`Bearer ${expired}`)).body.message).toContain("expired")
      expect((yield* state(`Bearer ${wrongAudience}`)).body.message).toContain("aud")
      expect((yield* state(`Bearer ${noExp}`)).status).toBe(401)
      expect((yield* state("Bearer not.a.jwt")).status).toBe(401)
      expect((yield* state(`Bearer ${good}`)).status).toBe(200)
      // Within the 30 s clock skew an expired token still passes.
      const justExpired = yield* gw.token({ audience: "hbf-lcg", expiresInSeconds: -10 })
      expect((yield* state(`Bearer ${justExpired}`)).status).toBe(200)

      const admin = yield* gw.call("GET", "/admin/dead-letters", undefined, { authorization: `Bearer ${good}` })
      expect(admin.status).toBe(403)
      expect(admin.body.error).toBe("Forbidden")
    }).pipe(Effect.scoped)
  )

  it.live("bodies: malformed JSON, missing and mistyped fields, oversized", () =>
    Effect.gen(function* () {
      const gw = yield* startGateway()
      const malformed = yield* gw.call("POST", "/requests", "{not json")
      expect(malformed.status).toBe(400)
      expect(malformed.body.error).toBe("BadRequest")

      const missing = yield* gw.call("POST", "/requests", { tenantId: "demo-helvia" })
      expect(missing.status).toBe(400)
      expect(missing.body.fields).toEqual([{ path: "subHandle", message: "is missing" }])

      const mistyped = yield* gw.call("POST", "/messages", { tenantId: "demo-helvia", subHandle: "a", messageId: 7, text: "x" })
      expect(mistyped.status).toBe(400)
      expect(mistyped.body.message).toContain("messageId")

      const empty = yield* gw.call("POST", "/messages", { tenantId: "demo-helvia", subHandle: "a", messageId: "m" })
      expect(empty.status).toBe(400)
      expect(empty.body.message).toContain("text or attachments")

      const badPatch = yield* gw.call("PATCH", "/requests/subscribers/a", { status: "paused" })
      expect(badPatch.status).toBe(400)
      expect(badPatch.body.message).toContain("status")

      const big = yield* gw.call("POST", "/requests", JSON.stringify({ tenantId: "demo-helvia", subHandle: "a", metadata: { blob: "x".repeat(1_100_000) } }))
      expect(big.status).toBe(413)
      expect(big.body.error).toBe("PayloadTooLarge")

      const badStatus = yield* gw.call("HEAD", "/organizations/demo-org/requests?status=bogus")
      expect(badStatus.status).toBe(400)
      const badWindow = yield* gw.call("HEAD", "/organizations/demo-org/tenants/demo-helvia/metrics?windowSeconds=99999999")
      expect(badWindow.status).toBe(400)
    }).pipe(Effect.scoped)
  )

  it.live("unknown things: tenant, alias, route, session", () =>
    Effect.gen(function* () {
      const gw = yield* startGateway()
      const tenant = yield* gw.call("POST", "/requests", { tenantId: "nope", subHandle: "a" })
      expect(tenant.status).toBe(404)
      expect(tenant.body).toMatchObject({ error: "TenantNotFound", tenantId: "nope" })
      expect((yield* gw.call("GET", "/tenants/nope/availability")).status).toBe(404)

      const alias = yield* gw.call("POST", "/events/nope", { x: 1 })
      expect(alias.status).toBe(404)
      expect(alias.body.error).toBe("UnknownProvider")
      expect((yield* gw.call("HEAD", "/events/nope")).status).toBe(404)
      expect((yield* gw.call("HEAD", "/events/helvia-livechat")).status).toBe(200)

      // CCP pushes nothing (it is polled): no body posted for it can be genuine.
      for (const body of ["{not json", "{}", JSON.stringify({ chatId: "1", events: [] })]) {
        const ccp = yield* gw.call("POST", "/events/cisco-livechat", body)
        expect(ccp.status).toBe(401)
        expect(ccp.body).toEqual({ error: "InvalidSignature", message: "the webhook could not be verified" })
      }

      // Unsigned: refused before the body is looked at (test/e2e/webhookAuth.test.ts has the rest).
      const malformedHook = yield* gw.call("POST", "/events/helvia-livechat", { id: "1" })
      expect(malformedHook).toMatchObject({ status: 401, body: { error: "InvalidSignature" } })

      const route = yield* gw.call("GET", "/no/such/route")
      expect(route.status).toBe(404)
      expect(route.body.error).toBe("NotFound")

      const patch = yield* gw.call("PATCH", "/requests/subscribers/ghost", { status: "cancelled" })
      expect(patch.status).toBe(404)
      expect(patch.body.error).toBe("SessionNotFound")
      expect((yield* gw.call("GET", "/subscribers/ghost/livechat-state")).body).toEqual({ subHandle: "ghost", state: "none" })
    }).pipe(Effect.scoped)
  )

  it.live("ops: health, OpenAPI, docs", () =>
    Effect.gen(function* () {
      const gw = yield* startGateway()
      expect((yield* gw.call("GET", "/health/live")).status).toBe(200)
      expect((yield* gw.call("GET", "/health/ready")).body).toEqual({ status: "ok", checks: { store: true, accepting: true } })
      const openapi = yield* gw.call("GET", "/openapi.json")
      expect(Object.keys(openapi.body.paths)).toEqual(
        expect.arrayContaining(["/requests", "/messages", "/events/{alias}", "/tenants/{tenantId}/availability"])
      )
      expect((yield* gw.call("GET", "/docs")).status).toBe(200)
      const availability = yield* gw.call("GET", "/tenants/demo-helvia/availability")
      expect(availability.body).toMatchObject({ tenantId: "demo-helvia", available: true, businessHours: { openNow: true } })
    }).pipe(Effect.scoped)
  )
})

/**
 * The admin routes (JWT with `scope: admin`): a session by id or by subscriber, as on-call
 * reads it (the gateway's bookkeeping, never the adapter's chat cookie), and ordinary
 * tokens refused with 403.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { livechatRequest, startGateway } from "./harness.js"

describe("admin routes", () => {
  it.live(
    "sessions by id and by subscriber, without provider state; ordinary tokens get 403, none 401",
    () =>
      Effect.gen(function*() {
        const gw = yield* startGateway()
        const admin = `Bearer ${yield* gw.token({ scope: "admin" })}`
        const created = yield* gw.call("POST", "/requests", livechatRequest("demo-cisco", "olga"))
        const sessionId: string = created.body.sessionId

        const byId = yield* gw.call("GET", `/admin/sessions/${sessionId}`, undefined, { authorization: admin })
        expect(byId.status).toBe(200)
        expect(byId.body).toMatchObject({
          sessionId,
          tenantId: "demo-cisco",
          subHandle: "olga",
          provider: "cisco-livechat",
          status: "pending",
          version: expect.any(Number),
          // The request's first queue figures.
          lastSeq: 1,
          channel: "webchat",
          user: { name: "Alice", email: "alice@example.com" },
          metadata: { plan: "basic" }
        })
        // The CCP chat's cookie (a credential to the chat) stays inside the gateway.
        expect(byId.body.providerState).toBeUndefined()
        const cookie = gw.cisco.chatWith("hbfSessionId", sessionId)!.cookie
        expect(JSON.stringify(byId.body)).not.toContain(cookie)

        const bySubscriber = yield* gw.call("GET", "/admin/subscribers/olga/session", undefined, {
          authorization: admin
        })
        // The CCP poller may store its cursor between the two reads: a later version of the same session.
        expect(bySubscriber.body).toEqual({ ...byId.body, version: expect.any(Number) })

        const unknown = yield* gw.call("GET", "/admin/sessions/nope", undefined, { authorization: admin })
        expect(unknown.status).toBe(404)
        expect(unknown.body).toMatchObject({ error: "SessionNotFound", message: "session nope does not exist" })
        expect((yield* gw.call("GET", "/admin/subscribers/nobody/session", undefined, { authorization: admin })).status)
          .toBe(404)

        // The ordinary token of hbf-bot: authenticated, not allowed.
        const ordinary = yield* gw.call("GET", `/admin/sessions/${sessionId}`)
        expect(ordinary.status).toBe(403)
        expect(ordinary.body.error).toBe("Forbidden")
        for (const path of ["/admin/cluster", "/admin/dead-letters", "/admin/subscribers/olga/session"]) {
          expect((yield* gw.call("GET", path)).status).toBe(403)
          expect((yield* gw.call("GET", path, undefined, { authorization: "" })).status).toBe(401)
        }
        expect((yield* gw.call("POST", "/admin/dead-letters/x/replay")).status).toBe(403)
      }).pipe(Effect.scoped),
    30_000
  )

  it.live(
    "timelines and the open-session list: 401 without a token, 403 for an ordinary or a tenant-confined admin token, 404 naming only the id asked for",
    () =>
      Effect.gen(function*() {
        const gw = yield* startGateway()
        const sessionId: string = (yield* gw.call("POST", "/requests", livechatRequest("demo-helvia", "tess"))).body
          .sessionId
        const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
        const paths = [
          `/admin/sessions/${sessionId}/timeline`,
          "/admin/subscribers/tess/timeline?tenantId=demo-helvia",
          "/admin/sessions?tenantId=demo-helvia"
        ]
        // A tenant's own admin token sees every tenant on these routes, so it is refused even for its own tenant.
        const confined = bearer(yield* gw.token({ scope: "admin", tenants: "demo-helvia" }))
        const confinedMany = bearer(yield* gw.token({ scope: "admin", tenants: ["demo-helvia", "demo-cisco"] }))
        const ordinary = bearer(yield* gw.token())
        for (const path of paths) {
          const none = yield* gw.call("GET", path, undefined, { authorization: "" })
          expect([path, none.status, none.body.error]).toEqual([path, 401, "Unauthorized"])
          for (const headers of [ordinary, confined, confinedMany]) {
            const refused = yield* gw.call("GET", path, undefined, headers)
            expect([path, refused.status, refused.body.error]).toEqual([path, 403, "Forbidden"])
            // A refusal tells nothing of the session it would have shown.
            expect(JSON.stringify(refused.body)).not.toContain(sessionId)
          }
        }

        const admin = bearer(yield* gw.token({ scope: "admin" }))
        for (const path of paths) {
          expect([path, (yield* gw.call("GET", path, undefined, admin)).status]).toEqual([path, 200])
        }
        const unknownId = "00000000-0000-4000-8000-000000000000"
        const unknown = yield* gw.call("GET", `/admin/sessions/${unknownId}/timeline`, undefined, admin)
        expect(unknown.status).toBe(404)
        expect(unknown.body).toEqual({ error: "SessionNotFound", message: `session ${unknownId} does not exist` })
        const nobody = yield* gw.call(
          "GET",
          "/admin/subscribers/nobody/timeline?tenantId=demo-helvia",
          undefined,
          admin
        )
        expect(nobody.status).toBe(404)
        expect(JSON.stringify(nobody.body)).not.toContain(sessionId)
      }).pipe(Effect.scoped),
    30_000
  )
})

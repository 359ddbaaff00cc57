/**
 * A token with a `tenants` claim, against every upstream route: it acts inside its tenants
 * only, another tenant's session is to it a session that does not exist, and nothing it is
 * answered tells that another tenant's data exists (docs/SECURITY.md).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { demoHelviaSecret, demoOrganization, demoTenants } from "../../sandbox/demoTenants.js"
import { type Gateway, readAnswer, startGateway, stores } from "./harness.js"

/** A second hbf-lcm tenant of the demo organization, and one of another organization. */
const helviaTenant = (id: string, organization: string, webhookSecret: string) => ({
  id,
  displayName: id,
  organization,
  plugins: [{ category: "LIVECHAT", integration: { type: "HELVIA_LIVECHAT", helvia: { webhookSecret } } }]
})

const tenants = (urls: Parameters<typeof demoTenants>[0]) => [
  ...demoTenants(urls),
  helviaTenant("acme", demoOrganization.id, "acme-webhook-secret"),
  helviaTenant("elsewhere", "other-org", "elsewhere-webhook-secret")
]

/** Calls the gateway with `token` as the bearer. */
const callerWith = (gw: Gateway, token: string) => (method: string, path: string, body?: unknown) =>
  Effect.promise(() =>
    fetch(`${gw.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {})
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {})
    }).then(readAnswer)
  )

describe.each(stores)("a token confined to tenants (%s store)", (store) => {
  it.live("acts only in its tenants; another tenant's livechat is answered as if it did not exist", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway({ store, tenants })
      const acmeToken = yield* gw.token({ subject: "acme-integration", tenants: ["acme"] })
      const as = (token: string) => callerWith(gw, token)
      const acme = as(acmeToken)

      // The victim: a demo-helvia livechat opened by hbf-bot's platform token.
      const victim = yield* gw.call("POST", "/requests", {
        tenantId: "demo-helvia",
        subHandle: "victim",
        metadata: { plan: "gold" }
      })
      expect(victim.status).toBe(201)
      const victimSession: string = victim.body.sessionId

      // Another tenant's configuration: Forbidden, before anything is looked up.
      const forbidden = { error: "Forbidden", message: "this token cannot act in tenant demo-helvia" }
      expect(yield* acme("POST", "/requests", { tenantId: "demo-helvia", subHandle: "new-user" })).toMatchObject({
        status: 403,
        body: forbidden
      })
      expect(yield* acme("GET", "/tenants/demo-helvia/availability")).toMatchObject({ status: 403, body: forbidden })
      expect(yield* acme("GET", "/tenants/demo-helvia/capabilities")).toMatchObject({ status: 403, body: forbidden })
      const metrics = yield* acme("HEAD", `/organizations/${demoOrganization.id}/tenants/demo-helvia/metrics`)
      expect(metrics.status).toBe(403)
      expect(metrics.headers.get("x-waiting-count")).toBeNull()

      // Another tenant's session: exactly what a subscriber without any session gets.
      const asIfNone = (answer: { status: number; body: unknown }, ghost: { status: number; body: unknown }) =>
        expect(JSON.parse(JSON.stringify({ status: answer.status, body: answer.body }).replaceAll("victim", "ghost")))
          .toEqual({
            status: ghost.status,
            body: ghost.body
          })
      for (
        const [method, path, body] of [
          ["PATCH", "/requests/subscribers/victim", { metadata: { plan: "free" } }],
          ["PATCH", "/requests/subscribers/victim?tenantId=demo-helvia", { status: "cancelled" }],
          ["PATCH", "/requests/subscribers/victim?tenantId=acme", { status: "cancelled" }],
          ["DELETE", "/sessions/tenants/demo-helvia/subscribers/victim", undefined],
          ["DELETE", "/sessions/tenants/acme/subscribers/victim", undefined],
          ["POST", "/messages", { tenantId: "demo-helvia", subHandle: "victim", messageId: "m1", text: "let me in" }],
          ["POST", "/messages", { tenantId: "acme", subHandle: "victim", messageId: "m2", text: "let me in" }],
          ["POST", "/typing", { tenantId: "demo-helvia", subHandle: "victim" }],
          ["POST", "/read", { tenantId: "demo-helvia", subHandle: "victim" }],
          ["GET", "/subscribers/victim/livechat-state", undefined],
          ["GET", "/subscribers/victim/livechat-state?tenantId=demo-helvia", undefined]
        ] as const
      ) {
        const answer = yield* acme(method, path, body)
        const ghost = yield* acme(
          method,
          path.replace("victim", "ghost"),
          body === undefined ? undefined : JSON.parse(JSON.stringify(body).replace("victim", "ghost"))
        )
        expect([method, path, answer.status]).toEqual([method, path, method === "GET" ? 200 : 404])
        asIfNone(answer, ghost)
      }
      // The victim's livechat is untouched: still pending, its metadata as it was, no message reached hbf-lcm.
      const admin = yield* gw.token({ scope: "admin" })
      expect((yield* as(admin)("GET", `/admin/sessions/${victimSession}`)).body).toMatchObject({
        status: "pending",
        metadata: { plan: "gold" }
      })
      expect(gw.lcm.messages(victimSession)).toEqual([])

      // Counts: only its own tenants.
      const count = (token: string) =>
        Effect.map(
          as(token)("HEAD", `/organizations/${demoOrganization.id}/requests`),
          (a) => a.headers.get("x-total-count")
        )
      const platform = yield* gw.token()
      expect(yield* count(acmeToken)).toBe("0")
      expect(yield* count(platform)).toBe("1")

      // The same subscriber at its own tenant: as if the other tenant's livechat did not exist, it opens one.
      const ownForVictim = yield* acme("POST", "/requests", { tenantId: "acme", subHandle: "victim" })
      expect(ownForVictim).toMatchObject({
        status: 201,
        body: { tenantId: "acme", subHandle: "victim", status: "pending" }
      })
      expect((yield* acme("GET", "/subscribers/victim/livechat-state")).body.session.sessionId).toBe(
        ownForVictim.body.sessionId
      )
      // hbf-bot's view of the subscriber is its own livechat still.
      expect((yield* gw.call("GET", "/subscribers/victim/livechat-state")).body.session.sessionId).toBe(victimSession)
      expect((yield* acme("DELETE", "/sessions/tenants/acme/subscribers/victim")).status).toBe(204)
      expect((yield* as(admin)("GET", `/admin/sessions/${victimSession}`)).body.status).toBe("pending")

      // Inside its own tenant it works like any token.
      const own = yield* acme("POST", "/requests", { tenantId: "acme", subHandle: "acme-user" })
      expect(own.status).toBe(201)
      expect(yield* count(acmeToken)).toBe("1")
      expect(yield* count(platform)).toBe("2")
      expect(
        (yield* acme("PATCH", "/requests/subscribers/acme-user?tenantId=acme", { metadata: { vip: true } })).status
      ).toBe(200)
      expect((yield* acme("GET", "/subscribers/acme-user/livechat-state")).body).toMatchObject({ state: "pending" })
      expect((yield* acme("GET", "/subscribers/acme-user/livechat-state?tenantId=demo-helvia")).body).toEqual({
        subHandle: "acme-user",
        state: "none"
      })
      expect(
        (yield* acme("POST", "/messages", { tenantId: "acme", subHandle: "acme-user", messageId: "m3", text: "hi" }))
          .status
      ).toBe(202)
      expect((yield* acme("GET", "/tenants/acme/availability")).status).toBe(200)
      expect(
        (yield* acme("HEAD", `/organizations/${demoOrganization.id}/tenants/acme/metrics`)).headers.get(
          "x-waiting-count"
        )
      ).toBe("1")
      expect((yield* acme("DELETE", "/sessions/tenants/acme/subscribers/acme-user")).status).toBe(204)
      // The platform token still sees the victim, and SessionOpenElsewhere is its answer.
      expect((yield* gw.call("POST", "/requests", { tenantId: "acme", subHandle: "victim" })).body.error).toBe(
        "SessionOpenElsewhere"
      )
    }).pipe(Effect.scoped))
})

describe("what other tenants do with a subscriber never shows to a confined token", () => {
  it.live("its own ended livechat stays what it sees when another tenant opens one; and its livechat holds no other tenant's request", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway({ tenants })
      const acme = callerWith(gw, yield* gw.token({ tenants: ["acme"] }))
      const opened = yield* acme("POST", "/requests", { tenantId: "acme", subHandle: "sam" })
      expect(opened.status).toBe(201)
      expect((yield* acme("DELETE", "/sessions/tenants/acme/subscribers/sam")).status).toBe(204)
      const view = Effect.all([
        acme("GET", "/subscribers/sam/livechat-state"),
        acme("POST", "/messages", { tenantId: "acme", subHandle: "sam", messageId: "m1", text: "hi" }),
        acme("POST", "/typing", { tenantId: "acme", subHandle: "sam" }),
        acme("PATCH", "/requests/subscribers/sam", { metadata: { x: 1 } })
      ]).pipe(Effect.map((answers) => answers.map((a) => ({ status: a.status, body: a.body }))))
      const before = yield* view
      expect(before.map((a) => a.status)).toEqual([200, 409, 409, 404])
      expect(before[0]!.body).toMatchObject({ state: "ended", session: { sessionId: opened.body.sessionId } })

      // Another tenant opens a livechat for the same subscriber (hbf-bot's platform token), and ends it.
      expect((yield* gw.call("POST", "/requests", { tenantId: "demo-helvia", subHandle: "sam" })).status).toBe(201)
      expect(yield* view).toEqual(before)
      expect((yield* gw.call("DELETE", "/sessions/tenants/demo-helvia/subscribers/sam")).status).toBe(204)
      expect(yield* view).toEqual(before)

      // A confined token's livechat does not hold the subscriber for hbf-bot's requests at other tenants.
      expect((yield* acme("POST", "/requests", { tenantId: "acme", subHandle: "whatsapp:+306900000001" })).status).toBe(
        201
      )
      expect(
        (yield* gw.call("POST", "/requests", { tenantId: "demo-helvia", subHandle: "whatsapp:+306900000001" })).status
      ).toBe(201)
    }).pipe(Effect.scoped))
})

describe("tenant-confined tokens, other edges", () => {
  it.live("a single tenant id works as the claim; an admin token with tenants is refused on admin routes", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway({ tenants })
      const single = yield* gw.token({ tenants: "acme" })
      const call = (token: string, method: string, path: string) => callerWith(gw, token)(method, path)
      expect((yield* call(single, "GET", "/tenants/acme/availability")).status).toBe(200)
      expect((yield* call(single, "GET", "/tenants/demo-helvia/availability")).status).toBe(403)
      // Counts of a tenant of another organization are not this organization's.
      const elsewhere = yield* gw.token({ tenants: ["elsewhere"] })
      yield* gw.call("POST", "/requests", { tenantId: "elsewhere", subHandle: "far-away" })
      expect(
        (yield* call(elsewhere, "HEAD", `/organizations/${demoOrganization.id}/requests`)).headers.get("x-total-count")
      ).toBe("0")
      expect((yield* call(elsewhere, "HEAD", "/organizations/other-org/requests")).headers.get("x-total-count")).toBe(
        "1"
      )

      const confinedAdmin = yield* gw.token({ scope: "admin", tenants: ["acme"] })
      const refused = yield* call(confinedAdmin, "GET", "/admin/dead-letters")
      expect(refused).toMatchObject({ status: 403, body: { error: "Forbidden" } })
      expect((yield* call(yield* gw.token({ scope: "admin" }), "GET", "/admin/dead-letters")).status).toBe(200)
      // A claim that names no tenant is no token of ours.
      expect((yield* call(yield* gw.token({ tenants: [] }), "GET", "/tenants/acme/availability")).status).toBe(401)
    }).pipe(Effect.scoped))

  it.live("a webhook's events for one tenant's session never reach another's (the helvia secret is per tenant)", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway({ tenants })
      const session: string =
        (yield* gw.call("POST", "/requests", { tenantId: "demo-helvia", subHandle: "victim" })).body.sessionId
      // acme knows its own webhook secret, not demo-helvia's: a webhook it signs for the victim's session is refused.
      const body = JSON.stringify({
        id: "e1",
        type: "CONVERSATION_END",
        platformSessionId: session,
        platformUserId: "victim",
        occurredAt: new Date().toISOString()
      })
      const { createHmac } = yield* Effect.promise(() => import("node:crypto"))
      const signed = (secret: string) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`
      const post = (signature: string) =>
        Effect.promise(() =>
          fetch(`${gw.url}/events/helvia-livechat`, {
            method: "POST",
            headers: { "x-helvia-signature": signature },
            body
          }).then(readAnswer)
        )
      expect((yield* post(signed("acme-webhook-secret"))).status).toBe(401)
      expect((yield* gw.call("GET", "/subscribers/victim/livechat-state")).body.state).toBe("pending")
      expect((yield* post(signed(demoHelviaSecret))).status).toBe(200)
    }).pipe(Effect.scoped))
})

/**
 * Provider credentials are the tenant's own: a tenant that copies another's Genesys client id
 * (not a secret) with a wrong secret and an API host of its choosing gets no token of the
 * other's, sends nothing there, and cannot slow the other tenant down (docs/SECURITY.md).
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Redacted } from "effect"
import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"
import { demoGenesys, demoTenants, genesysTenant, zendeskTenant } from "../../sandbox/demoTenants.js"
import { credentialsOf } from "../../src/providers/genesys/client.js"
import { eventually } from "../eventually.js"
import { startGateway } from "./harness.js"

/** An API host of the attacker's: it records what reaches it and holds every caller back with 429s. */
const capturingHost = Effect.gen(function*() {
  const received: Array<{ readonly url: string; readonly headers: IncomingHttpHeaders }> = []
  const server = createServer((request, response) => {
    received.push({ url: request.url ?? "", headers: request.headers })
    request.resume()
    response
      .writeHead(429, { "content-type": "application/json", "retry-after": "30" })
      .end(JSON.stringify({ message: "slow down", code: "too.many.requests.retry.after", status: 429 }))
  })
  yield* Effect.acquireRelease(
    Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
    () => Effect.sync(() => server.close())
  )
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received }
})

describe("provider credentials of look-alike tenants", () => {
  it.live("a copied client id with a wrong secret and its own API host gets no token of the victim's and cannot hold the victim back", () =>
    Effect.gen(function*() {
      const attacker = yield* capturingHost
      const gw = yield* startGateway({
        tenants: (urls) => {
          const lookalike = genesysTenant("lookalike", urls.genesys, {
            clientId: demoGenesys.clientId,
            clientSecret: "a-guess"
          })
          const integration =
            (lookalike.plugins[0] as { integration: { genesys: Record<string, unknown> } }).integration
          integration.genesys = { ...integration.genesys, apiBaseUrl: attacker.url }
          return [...demoTenants(urls), lookalike]
        }
      })
      // The victim's token is granted and cached.
      const victim = yield* gw.call("POST", "/requests", { tenantId: "demo-genesys", subHandle: "victim" })
      expect(victim.status).toBe(201)
      const grantsBefore = gw.genesys.tokensIssued(demoGenesys.clientId)

      for (const subHandle of ["mallory-1", "mallory-2", "mallory-3"]) {
        const attempt = yield* gw.call("POST", "/requests", { tenantId: "lookalike", subHandle })
        expect(attempt).toMatchObject({ status: 502, body: { error: "ProviderError" } })
        expect(JSON.stringify(attempt.body)).not.toContain(demoGenesys.clientSecret)
      }
      // Its login failed at Genesys (wrong secret): nothing reached its own host, no token of anyone's.
      expect(attacker.received).toEqual([])
      expect(gw.genesys.tokensIssued(demoGenesys.clientId)).toBe(grantsBefore)

      // The victim's calls go on at once: nothing held its credentials back.
      const started = Date.now()
      const message = yield* gw.call("POST", "/messages", {
        tenantId: "demo-genesys",
        subHandle: "victim",
        messageId: "m1",
        text: "still here"
      })
      expect(message.status).toBe(202)
      expect(Date.now() - started).toBeLessThan(5_000)
    }).pipe(Effect.scoped))

  it.live("Sunshine: a 429 one tenant's call got holds that tenant back only, not another tenant on the same app", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway({
        tenants: (urls) => [...demoTenants(urls), zendeskTenant("second-on-the-app", urls.zendesk)]
      })
      // Opened, and the backstop's first look at the conversation done (it must not take the scripted 429 below).
      const open = (tenantId: string, subHandle: string) =>
        Effect.gen(function*() {
          const created = yield* gw.call("POST", "/requests", { tenantId, subHandle })
          expect(created.status).toBe(201)
          yield* eventually(
            "the backstop's first poll",
            Effect.sync(() => gw.zendesk.requests()),
            (requests) =>
              requests.some((r) =>
                r.method === "GET" && r.path.endsWith(`/conversations/${created.body.providerConversationId}`)
              )
          )
        })
      yield* open("demo-zendesk", "ann")
      yield* open("second-on-the-app", "ben")
      const send = (tenantId: string, subHandle: string) =>
        Effect.timed(gw.call("POST", "/messages", { tenantId, subHandle, messageId: `m-${subHandle}`, text: "hi" }))
      // The next call Sunshine gets is answered 429 with Retry-After: 3; it is ann's, whose app is then held back.
      yield* gw.zendesk.failNext(1, 429, { retryAfterSeconds: 3 })
      const first = yield* Effect.fork(send("demo-zendesk", "ann"))
      yield* Effect.sleep("300 millis")
      const [otherTook, other] = yield* send("second-on-the-app", "ben")
      expect(other.status).toBe(202)
      expect(Duration.toMillis(otherTook)).toBeLessThan(1_500)
      const [heldTook, held] = yield* Fiber.join(first)
      expect(held.status).toBe(202)
      expect(Duration.toMillis(heldTook)).toBeGreaterThanOrEqual(2_900)
    }).pipe(Effect.scoped))

  it("credentials are keyed by tenant, hosts, client id and secret; their label names nothing of the configuration", () => {
    const config = {
      ...demoGenesys,
      clientSecret: Redacted.make("the-secret"),
      webhookSecret: Redacted.make("hook"),
      apiBaseUrl: "https://api.mypurecloud.de",
      loginBaseUrl: "https://login.mypurecloud.de"
    }
    const victim = credentialsOf("victim", config)
    const keys = new Set(
      [
        victim,
        credentialsOf("other-tenant", config),
        credentialsOf("victim", { ...config, clientSecret: Redacted.make("a-guess") }),
        credentialsOf("victim", { ...config, apiBaseUrl: "https://evil.example" }),
        credentialsOf("victim", { ...config, loginBaseUrl: "https://evil.example" })
      ].map((c) => c.id)
    )
    expect(keys.size).toBe(5)
    expect(credentialsOf("victim", config).id).toBe(victim.id)
    // Logs name the tenant and the key's start: nothing of the configuration.
    expect(victim.label).toBe(`tenant victim, credentials ${victim.id.slice(0, 8)}`)
  })
})

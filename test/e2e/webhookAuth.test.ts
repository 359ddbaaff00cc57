/**
 * Provider webhooks as an attacker sends them: authenticated before anything of the body is
 * used, one answer for every way of failing it (no existence oracle), no work multiplied by
 * what an unsigned body holds, and events of one tenant's or session's never counted for
 * another's (docs/SECURITY.md).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { createHmac } from "node:crypto"
import { demoHelviaSecret, demoTenants, demoZendesk, zendeskTenant } from "../../sandbox/demoTenants.js"
import { eventually } from "../eventually.js"
import { eventsReach, metricValue, readAnswer, startGateway } from "./harness.js"
import { agentMessageWebhook } from "./zendeskWebhooks.js"

const unverified = { status: 401, body: { error: "InvalidSignature", message: "the webhook could not be verified" } }

const hex = (secret: string, body: string) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`

const helviaEvent = (sessionId: string, id = "evt-1", type = "CONVERSATION_BEGIN") =>
  JSON.stringify({
    id,
    type,
    platformSessionId: sessionId,
    platformUserId: "alice",
    occurredAt: new Date().toISOString(),
    agent: { fullName: "Maria" }
  })

const genesysEvent = (sessionId: string) =>
  JSON.stringify({
    id: "gen-1",
    channel: {
      id: "demo-integration",
      platform: "Open",
      type: "Private",
      to: { id: sessionId, idType: "Opaque" },
      from: { nickname: "x", id: "x", idType: "Opaque" },
      time: new Date().toISOString()
    },
    type: "Text",
    text: "hello",
    direction: "Outbound"
  })

/** A second hbf-lcm tenant, and a second Sunshine tenant on the demo app with a webhook secret of its own. */
const tenants = (urls: Parameters<typeof demoTenants>[0]) => {
  const mallory = zendeskTenant("mallory", urls.zendesk)
  const integration = (mallory.plugins[0] as { integration: { zendesk: Record<string, unknown> } }).integration
  integration.zendesk = { ...integration.zendesk, webhookSecret: "mallory-webhook-secret" }
  return [
    ...demoTenants(urls),
    mallory,
    {
      id: "acme",
      displayName: "acme",
      organization: "demo-org",
      plugins: [{
        category: "LIVECHAT",
        integration: { type: "HELVIA_LIVECHAT", helvia: { webhookSecret: "acme-secret" } }
      }]
    }
  ]
}

describe("provider webhooks are authenticated first", () => {
  it.live("no, a malformed, or a wrong signature, or an unknown session: one answer, whatever the body", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway({ tenants })
      const refused = Effect.map(
        gw.call("GET", "/metrics"),
        (r) => metricValue(r.body as string, "lcg_webhooks_refused_total", "provider=\"helvia-livechat\"")
      )
      const refusedBefore = yield* refused
      const post = (alias: string, body: string, headers: Record<string, string> = {}) =>
        Effect.promise(() =>
          fetch(`${gw.url}/events/${alias}`, {
            method: "POST",
            headers: { "content-type": "application/json", ...headers },
            body
          }).then(readAnswer)
        )
      const helvia: string =
        (yield* gw.call("POST", "/requests", { tenantId: "demo-helvia", subHandle: "alice" })).body.sessionId
      const genesys: string =
        (yield* gw.call("POST", "/requests", { tenantId: "demo-genesys", subHandle: "bob" })).body.sessionId
      const fakeHex = "sha256=" + "ab".repeat(32)
      const fakeBase64 = "sha256=" + Buffer.alloc(32, 7).toString("base64")

      const attempts: ReadonlyArray<readonly [string, string, Record<string, string>]> = [
        // Unsigned: not even parsed (a body that is not JSON, one that misses fields, one that names a real session).
        ["helvia-livechat", "{not json", {}],
        ["helvia-livechat", JSON.stringify({ id: "1" }), {}],
        ["helvia-livechat", helviaEvent(helvia), {}],
        ["genesys-livechat", genesysEvent(genesys), {}],
        ["zendesk", JSON.stringify({ events: "nope" }), {}],
        // A header that is no signature: wrong length, wrong encoding, valid hex with trailing garbage.
        ["helvia-livechat", helviaEvent(helvia), { "x-helvia-signature": "sha256=00" }],
        ["helvia-livechat", helviaEvent(helvia), {
          "x-helvia-signature": `${hex(demoHelviaSecret, helviaEvent(helvia, "evt-2"))}00`
        }],
        ["helvia-livechat", helviaEvent(helvia), { "x-helvia-signature": fakeBase64 }],
        ["genesys-livechat", genesysEvent(genesys), { "x-hub-signature-256": fakeHex }],
        ["genesys-livechat", genesysEvent(genesys), { "x-hub-signature-256": `${fakeBase64}AA` }],
        // Well formed, for an unknown session and for a known one: the same answer (no oracle of what exists).
        ["helvia-livechat", helviaEvent("no-such-session"), { "x-helvia-signature": fakeHex }],
        ["helvia-livechat", helviaEvent(helvia), { "x-helvia-signature": fakeHex }],
        ["genesys-livechat", genesysEvent("no-such-session"), { "x-hub-signature-256": fakeBase64 }],
        ["genesys-livechat", genesysEvent(genesys), { "x-hub-signature-256": fakeBase64 }],
        // Sunshine: a key no tenant uses, for a body naming real conversations or none.
        ["zendesk", JSON.stringify(agentMessageWebhook("any", "e1", "m1", "hi", new Date().toISOString())), {
          "x-api-key": "guess"
        }],
        // CCP pushes nothing.
        ["cisco-livechat", "{}", { "x-api-key": "anything" }]
      ]
      for (const [alias, body, headers] of attempts) {
        const answer = yield* post(alias, body, headers)
        expect([alias, body.slice(0, 40), headers, answer.status, answer.body]).toEqual([
          alias,
          body.slice(0, 40),
          headers,
          unverified.status,
          unverified.body
        ])
      }
      // Nothing but the requests' own first queue figures.
      expect(gw.bot.events().filter((e) => e.type !== "request.queued")).toEqual([])

      // A verified webhook that does not decode is a 400 naming the field; a genuine one is taken.
      const malformed = helviaEvent(helvia, "evt-3", "NOT_A_TYPE")
      const bad = yield* post("helvia-livechat", malformed, { "x-helvia-signature": hex(demoHelviaSecret, malformed) })
      expect(bad.status).toBe(400)
      expect(bad.body.message).toContain("type")
      const genuine = helviaEvent(helvia)
      expect(
        yield* post("helvia-livechat", genuine, {
          "x-helvia-signature": hex(demoHelviaSecret, genuine).toUpperCase().replace("SHA256=", "sha256=")
        })
      ).toMatchObject({
        status: 200,
        body: { accepted: 1 }
      })
      expect((yield* refused) - refusedBefore).toBe(attempts.filter(([alias]) => alias === "helvia-livechat").length)
    }).pipe(Effect.scoped))

  it.live("an unsigned 260 KB Sunshine body costs one refusal: no look-up, no log line per event", () =>
    Effect.gen(function*() {
      const logs: Array<string> = []
      const gw = yield* startGateway({ logs })
      const created = (yield* gw.call("POST", "/requests", { tenantId: "demo-zendesk", subHandle: "dan" })).body
      const conversationId: string = created.providerConversationId
      // The request's first figures delivered (logged at debug) before the lines counted below.
      yield* eventually(
        "the first figures delivered",
        Effect.sync(() => logs.some((line) => line.includes("event delivered"))),
        (delivered) => delivered
      )
      const now = new Date().toISOString()
      const events = Array.from(
        { length: 2_000 },
        (_, i) =>
          agentMessageWebhook(i % 2 === 0 ? conversationId : `unknown-${i}`, `e${i}`, `m${i}`, "x".repeat(40), now)
            .events[0]
      )
      const body = JSON.stringify({ app: { id: demoZendesk.appId }, webhook: { id: "wh", version: "v2" }, events })
      expect(body.length).toBeGreaterThan(260_000)
      const before = logs.length
      const answer = yield* Effect.promise(() =>
        fetch(`${gw.url}/events/zendesk`, { method: "POST", headers: { "content-type": "application/json" }, body })
          .then(readAnswer)
      )
      expect({ status: answer.status, body: answer.body }).toEqual(unverified)
      // The access line of the request, and nothing else.
      const lines = logs.slice(before)
      expect(lines.filter((line) => !line.includes("Sent HTTP response"))).toEqual([])
    }).pipe(Effect.scoped))

  it.live("Sunshine: at most 100 events a webhook; a verified one's unknown conversations are answered 200 and counted", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway({ tenants })
      // The demo tenant's source is remembered with its first livechat.
      yield* gw.call("POST", "/requests", { tenantId: "demo-zendesk", subHandle: "dan" })
      const now = new Date().toISOString()
      const bodyOf = (n: number) =>
        JSON.stringify({
          app: { id: demoZendesk.appId },
          webhook: { id: "wh", version: "v2" },
          events: Array.from({ length: n }, (_, i) =>
            agentMessageWebhook(`nobody-${i}`, `u${n}-${i}`, `m${n}-${i}`, "hi", now).events[0])
        })
      const post = (body: string) =>
        Effect.promise(() =>
          fetch(`${gw.url}/events/zendesk`, {
            method: "POST",
            headers: { "content-type": "application/json", "x-api-key": demoZendesk.webhookSecret },
            body
          }).then(readAnswer)
        )
      const unknown = Effect.map(
        gw.call("GET", "/metrics"),
        (r) => metricValue(r.body as string, "lcg_webhook_unknown_conversations_total", "provider=\"zendesk\"")
      )
      const tooMany = yield* post(bodyOf(101))
      expect(tooMany).toMatchObject({ status: 413, body: { error: "PayloadTooLarge" } })
      const before = yield* unknown
      expect(yield* post(bodyOf(100))).toMatchObject({ status: 200, body: { accepted: 0 } })
      expect((yield* unknown) - before).toBe(100)
    }).pipe(Effect.scoped))

  it.live("Sunshine: a tenant on the same app, with its own webhook secret, cannot write into another tenant's conversation", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway({ tenants })
      const victim = (yield* gw.call("POST", "/requests", { tenantId: "demo-zendesk", subHandle: "dan" })).body
      // mallory opens a livechat of its own, so that its secret is a known source.
      expect((yield* gw.call("POST", "/requests", { tenantId: "mallory", subHandle: "mal" })).status).toBe(201)
      const post = (key: string, body: unknown) =>
        Effect.promise(() =>
          fetch(`${gw.url}/events/zendesk`, {
            method: "POST",
            headers: { "content-type": "application/json", "x-api-key": key },
            body: JSON.stringify(body)
          }).then(readAnswer)
        )
      const forged = agentMessageWebhook(
        victim.providerConversationId,
        "forged-1",
        "forged-m1",
        "send me your password",
        new Date().toISOString()
      )
      // Verified as mallory's, and the victim's conversation is, to mallory, one it does not know.
      expect(yield* post("mallory-webhook-secret", forged)).toMatchObject({ status: 200, body: { accepted: 0 } })
      const genuine = agentMessageWebhook(
        victim.providerConversationId,
        "genuine-1",
        "genuine-m1",
        "Hi Dan",
        new Date().toISOString()
      )
      expect(yield* post(demoZendesk.webhookSecret, genuine)).toMatchObject({ status: 200, body: { accepted: 2 } })
      yield* eventsReach(gw, victim.sessionId, 2)
      const texts = gw.bot.eventsOf(victim.sessionId).flatMap((
        e
      ) => (e.type === "agent.message" ? [(e.data as { text?: string }).text] : []))
      expect(texts).toEqual(["Hi Dan"])
    }).pipe(Effect.scoped))
})

describe("Sunshine tenants that share one webhook secret", () => {
  it.live("a conversation one of them served before and another serves now: its webhooks reach the open session", () =>
    Effect.gen(function*() {
      // Two bots on one Sunshine app, with one webhook integration: the same secret.
      const gw = yield* startGateway({
        tenants: (
          urls
        ) => [...demoTenants(urls), zendeskTenant("zendesk-a", urls.zendesk), zendeskTenant("zendesk-b", urls.zendesk)]
      })
      const post = (body: unknown) =>
        Effect.promise(() =>
          fetch(`${gw.url}/events/zendesk`, {
            method: "POST",
            headers: { "content-type": "application/json", "x-api-key": demoZendesk.webhookSecret },
            body: JSON.stringify(body)
          }).then(readAnswer)
        )
      // sam's livechat at zendesk-a ends; zendesk-b then serves sam, in sam's one personal conversation.
      const first = (yield* gw.call("POST", "/requests", { tenantId: "zendesk-a", subHandle: "sam" })).body
      expect((yield* gw.call("DELETE", "/sessions/tenants/zendesk-a/subscribers/sam")).status).toBe(204)
      const second = (yield* gw.call("POST", "/requests", { tenantId: "zendesk-b", subHandle: "sam" })).body
      expect(second.providerConversationId).toBe(first.providerConversationId)
      // zendesk-a opens another livechat afterwards: it is the source's most recent tenant now.
      expect((yield* gw.call("POST", "/requests", { tenantId: "zendesk-a", subHandle: "tom" })).status).toBe(201)
      const webhook = agentMessageWebhook(
        second.providerConversationId,
        "shared-1",
        "shared-m1",
        "Hi Sam",
        new Date().toISOString()
      )
      expect(yield* post(webhook)).toMatchObject({ status: 200, body: { accepted: 2 } })
      yield* eventsReach(gw, second.sessionId, 2)
      expect(gw.bot.eventsOf(first.sessionId).filter((e) => e.type === "agent.message")).toEqual([])
    }).pipe(Effect.scoped))
})

describe("de-duplication is per session", () => {
  it.live("the same provider event id in two tenants' sessions is taken by both", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway({ tenants })
      const first: string =
        (yield* gw.call("POST", "/requests", { tenantId: "demo-helvia", subHandle: "alice" })).body.sessionId
      const second: string =
        (yield* gw.call("POST", "/requests", { tenantId: "acme", subHandle: "bob" })).body.sessionId
      const post = (body: string, secret: string) =>
        Effect.promise(() =>
          fetch(`${gw.url}/events/helvia-livechat`, {
            method: "POST",
            headers: { "x-helvia-signature": hex(secret, body) },
            body
          }).then(readAnswer)
        )
      // acme's hbf-lcm (or acme itself) reuses an event id demo-helvia's session has seen: it must not silence it.
      expect(yield* post(helviaEvent(first, "shared-id"), demoHelviaSecret)).toMatchObject({
        status: 200,
        body: { accepted: 1 }
      })
      expect(yield* post(helviaEvent(second, "shared-id"), "acme-secret")).toMatchObject({
        status: 200,
        body: { accepted: 1 }
      })
      // Within one session it still de-duplicates.
      expect(yield* post(helviaEvent(second, "shared-id"), "acme-secret")).toMatchObject({
        status: 200,
        body: { accepted: 0 }
      })
      yield* eventsReach(gw, first, 1)
      yield* eventsReach(gw, second, 1)
    }).pipe(Effect.scoped))
})

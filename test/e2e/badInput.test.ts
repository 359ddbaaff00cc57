import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { readAnswer, startGateway } from "./harness.js"

/** `levels` arrays, one inside the other. */
const nested = (levels: number) => "[".repeat(levels) + "]".repeat(levels)

/** What a 400 body may be at most, and the longest run of one sent character it may quote. */
const MAX_400_BYTES = 4096
const quoted = (text: string, character: string) =>
  Math.max(0, ...(text.match(new RegExp(`[${character}]+`, "g")) ?? []).map((run) => run.length))

describe("bad input gets a clear 4xx, never a 500", () => {
  it.live("authentication: no token, expired, wrong audience, wrong key, admin scope", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway({ configure: (c) => ({ ...c, jwt: { ...c.jwt, audience: "hbf-lcg" } }) })
      const good = yield* gw.token({ audience: "hbf-lcg" })
      const expired = yield* gw.token({ audience: "hbf-lcg", expiresInSeconds: -120 })
      const wrongAudience = yield* gw.token({ audience: "someone-else" })
      const noExp = yield* gw.token({ audience: "hbf-lcg", withoutExpiry: true })
      const state = (auth?: string) =>
        gw.call(
          "GET",
          "/subscribers/x/livechat-state",
          undefined,
          auth === undefined ? { authorization: "" } : { authorization: auth }
        )

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
    }).pipe(Effect.scoped))

  it.live("bodies: malformed JSON, missing and mistyped fields, oversized", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      const malformed = yield* gw.call("POST", "/requests", "{not json")
      expect(malformed.status).toBe(400)
      expect(malformed.body.error).toBe("BadRequest")

      const missing = yield* gw.call("POST", "/requests", { tenantId: "demo-helvia" })
      expect(missing.status).toBe(400)
      expect(missing.body.fields).toEqual([{ path: "subHandle", message: "is missing" }])

      const mistyped = yield* gw.call("POST", "/messages", {
        tenantId: "demo-helvia",
        subHandle: "a",
        messageId: 7,
        text: "x"
      })
      expect(mistyped.status).toBe(400)
      expect(mistyped.body.message).toContain("messageId")

      const empty = yield* gw.call("POST", "/messages", { tenantId: "demo-helvia", subHandle: "a", messageId: "m" })
      expect(empty.status).toBe(400)
      expect(empty.body.message).toContain("text or attachments")

      const badPatch = yield* gw.call("PATCH", "/requests/subscribers/a", { status: "paused" })
      expect(badPatch.status).toBe(400)
      expect(badPatch.body.message).toContain("status")

      const big = yield* gw.call(
        "POST",
        "/requests",
        JSON.stringify({ tenantId: "demo-helvia", subHandle: "a", metadata: { blob: "x".repeat(1_100_000) } })
      )
      expect(big.status).toBe(413)
      expect(big.body.error).toBe("PayloadTooLarge")

      const badStatus = yield* gw.call("HEAD", "/organizations/demo-org/requests?status=bogus")
      expect(badStatus.status).toBe(400)
      const badWindow = yield* gw.call(
        "HEAD",
        "/organizations/demo-org/tenants/demo-helvia/metrics?windowSeconds=99999999"
      )
      expect(badWindow.status).toBe(400)
    }).pipe(Effect.scoped))

  it.live("JSON nested 300k deep, or invalid deep inside: a 400 naming the path, never a 500; past 64 levels refused unread", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      const tooDeep = "nests deeper than 64 levels"
      const zeros = (n: number) => Array.from({ length: n }, () => "0").join(".")

      // The HttpApi server (POST /requests) and the direct routes (POST /messages): the body is 1 level, metadata 2, x 3.
      const request = (x: string) => `{"tenantId":"demo-helvia","subHandle":"deep","metadata":{"x":${x}}}`
      const deepRequest = yield* gw.call("POST", "/requests", request(nested(300_000)))
      expect(deepRequest.status).toBe(400)
      expect(deepRequest.body.fields).toHaveLength(1)
      expect(deepRequest.body.fields[0].path.startsWith("metadata.x.0.0.0")).toBe(true)
      expect(deepRequest.body.fields[0].message).toBe(tooDeep)
      // 64 levels are read, and what is wrong there named; 65 are not.
      expect((yield* gw.call("POST", "/requests", request(nested(62)))).body.fields).toEqual([
        { path: "metadata.x", message: "expected string or number or boolean" }
      ])
      expect((yield* gw.call("POST", "/requests", request(nested(63)))).body.fields).toEqual([{
        path: `metadata.x.${zeros(62)}`,
        message: tooDeep
      }])

      const message = (attachments: string) =>
        `{"tenantId":"demo-helvia","subHandle":"deep","messageId":"m","attachments":${attachments}}`
      const deepMessage = yield* gw.call(
        "POST",
        "/messages",
        message(`[{"url":"u","contentType":"t","name":${nested(300_000)}}]`)
      )
      expect(deepMessage.status).toBe(400)
      expect(deepMessage.body.fields[0].path.startsWith("attachments.0.name.0.0")).toBe(true)
      expect(deepMessage.body.fields[0].message).toBe(tooDeep)
      expect(
        (yield* gw.call("POST", "/messages", message(`[{"url":"u","contentType":"t","name":${nested(61)}}]`))).body
          .fields
      ).toEqual([
        { path: "attachments.0.name", message: "expected a string" }
      ])

      // An unsigned webhook: refused before any of it is parsed (its signature would be checked next).
      const webhook = (agent: string) =>
        Effect.promise(() =>
          fetch(`${gw.url}/events/helvia-livechat`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: `{"id":"e1","type":"AGENT_JOINED","platformSessionId":"s","agent":${agent}}`
          }).then(readAnswer)
        )
      const deepWebhook = yield* webhook(nested(300_000))
      expect(deepWebhook.status).toBe(400)
      expect(deepWebhook.body).toEqual({ error: "MalformedWebhook", message: `agent.${zeros(63)}: ${tooDeep}` })
      // 64 levels, and brackets inside strings (which are no nesting), go on to the signature check.
      expect((yield* webhook(nested(63))).status).toBe(401)
      expect((yield* webhook(`{"name":"${"[".repeat(100)}\\"${"{".repeat(100)}"}`)).status).toBe(401)
      expect((yield* webhook(nested(64))).body).toEqual({
        error: "MalformedWebhook",
        message: `agent.${zeros(63)}: ${tooDeep}`
      })
    }).pipe(Effect.scoped))

  it.live("a 900 KB wrong field, key or query: a 400 of at most 4 KB saying what each field expects, quoting nothing", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      const bearer = yield* gw.token()
      const ask = (method: string, path: string, body?: unknown) =>
        Effect.promise(async () => {
          const response = await fetch(`${gw.url}${path}`, {
            method,
            headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
            ...(body !== undefined ? { body: JSON.stringify(body) } : {})
          })
          const text = await response.text()
          return {
            status: response.status,
            bytes: Buffer.byteLength(text),
            text,
            body: text === "" ? undefined : JSON.parse(text)
          }
        })
      const big = "~".repeat(900_000)
      const key = "k".repeat(900_000)
      const asks: ReadonlyArray<readonly [string, string, unknown, ReadonlyArray<unknown>]> = [
        // Direct routes: 900 KB of a wrong type, in an optional field (no "expected undefined") and a required one.
        ["POST", "/messages", { tenantId: "demo-helvia", subHandle: "a", messageId: [big], text: { x: 1 } }, [
          { path: "messageId", message: "expected a string" },
          { path: "text", message: "expected a string" }
        ]],
        // The HttpApi server: a wrong optional struct, and a 900 KB key of a record (a path is the sender's too).
        ["POST", "/requests", {
          tenantId: "demo-helvia",
          subHandle: "a",
          user: big.slice(0, 100_000),
          metadata: { [key]: [1] }
        }, [
          { path: "user", message: "expected an object" },
          { path: `metadata.${"k".repeat(63)}…`, message: "expected string or number or boolean" }
        ]],
        ["PATCH", "/requests/subscribers/a", { status: big }, [{ path: "status", message: "expected \"cancelled\"" }]],
        ["HEAD", `/organizations/demo-org/requests?status=${big.slice(0, 8_000)}`, undefined, []],
        ["GET", `/subscribers/a/livechat-state?tenantId=${big.slice(0, 300)}`, undefined, [{
          path: "tenantId",
          message: "must be at most 256 characters"
        }]]
      ]
      for (const [method, path, body, fields] of asks) {
        const answer = yield* ask(method, path, body)
        expect([method, path.slice(0, 40), answer.status]).toEqual([method, path.slice(0, 40), 400])
        if (method === "HEAD") continue
        expect(answer.bytes).toBeLessThanOrEqual(MAX_400_BYTES)
        expect(answer.body.fields).toEqual(fields)
        expect(quoted(answer.text, "~")).toBe(0)
        expect(quoted(answer.text, "k")).toBeLessThanOrEqual(64)
        expect(answer.text).not.toMatch(/undefined|actual/i)
      }
      // Thousands of wrong fields: as many as fit in 4 KB, then how many more.
      const many = yield* ask("POST", "/requests", {
        tenantId: "demo-helvia",
        subHandle: "a",
        metadata: Object.fromEntries(Array.from({ length: 1_500 }, (_, i) => [`key-${i}-${"k".repeat(100)}`, [i]]))
      })
      expect(many.status).toBe(400)
      expect(many.bytes).toBeLessThanOrEqual(MAX_400_BYTES)
      expect(many.body.fields.length).toBeGreaterThan(5)
      expect(many.body.fields[0]).toEqual({
        path: `metadata.key-0-${"k".repeat(57)}…`,
        message: "expected string or number or boolean"
      })
      expect(many.body.message).toMatch(new RegExp(`; and ${1_500 - many.body.fields.length} more$`))

      // A URL of 8 KB that no route takes: named, not quoted.
      const route = yield* ask("GET", `/no/such/${big.slice(0, 8_000)}`)
      expect(route.status).toBe(404)
      expect(quoted(route.text, "~")).toBeLessThanOrEqual(64)
    }).pipe(Effect.scoped))

  it.live("ids: control characters (NUL, CR, LF, DEL) and unpaired surrogates refused; ':', '+', '@' and any script accepted", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      const message = "must not contain control characters or unpaired surrogates"
      const refused = { error: "BadRequest", fields: [{ path: "subHandle", message }] }
      // An unpaired surrogate has no UTF-8: Redis would get U+FFFD, and "s\ud800" and "s\udfff" would be one subscriber.
      for (const control of ["\u0000", "\r", "\n", "\r\nX-Injected: 1", "\u007f", "\u0085", "\ud800", "\udfff"]) {
        const subHandle = `alice${control}`
        expect(yield* gw.call("POST", "/requests", { tenantId: "demo-helvia", subHandle })).toMatchObject({
          status: 400,
          body: refused
        })
        expect(yield* gw.call("POST", "/typing", { tenantId: "demo-helvia", subHandle })).toMatchObject({
          status: 400,
          body: refused
        })
        // (a URL cannot carry an unpaired surrogate: it has no UTF-8 to percent-encode)
        if (!/[\ud800-\udfff]/.test(control)) {
          expect(yield* gw.call("GET", `/subscribers/${encodeURIComponent(subHandle)}/livechat-state`)).toMatchObject({
            status: 400,
            body: refused
          })
        }
      }
      // A queue names a Redis key too (its pending index): refused alike, never a 500.
      for (const queue of ["sales\ud800", "sales\n"]) {
        expect(yield* gw.call("POST", "/requests", { tenantId: "demo-helvia", subHandle: "alice", queue }))
          .toMatchObject({ status: 400, body: { fields: [{ path: "queue", message }] } })
      }
      // A channel is printed by the operator's timeline: a terminal escape or a C1 control in it is refused alike.
      for (const channel of ["web\u001b]52;c;aGk=\u0007", "web\u001b[2J", "web\u009b", "web\ud800"]) {
        expect(yield* gw.call("POST", "/requests", { tenantId: "demo-helvia", subHandle: "alice", channel }))
          .toMatchObject({ status: 400, body: { fields: [{ path: "channel", message }] } })
      }
      const tab = yield* gw.call("POST", "/messages", {
        tenantId: "demo-helvia",
        subHandle: "alice",
        messageId: "m\t1",
        text: "hi"
      })
      expect(tab).toMatchObject({ status: 400, body: { fields: [{ path: "messageId", message }] } })
      const tenant = yield* gw.call(
        "GET",
        `/subscribers/alice/livechat-state?tenantId=${encodeURIComponent("demo-helvia\n")}`
      )
      expect(tenant).toMatchObject({ status: 400, body: { fields: [{ path: "tenantId", message }] } })
      const admin = { authorization: `Bearer ${yield* gw.token({ scope: "admin" })}` }
      const replay = yield* gw.call(
        "POST",
        `/admin/dead-letters/${encodeURIComponent("a\r\nb")}/replay`,
        undefined,
        admin
      )
      expect(replay).toMatchObject({ status: 400, body: { fields: [{ path: "id", message }] } })

      // Subscriber handles as channels make them: a phone number, an address, a name in another script.
      for (
        const subHandle of [
          "whatsapp:+306912345678",
          "viber:user@example.com",
          "Ελένη 李雷 محمد",
          "no\u00a0break",
          "emoji 👩🏽‍💻"
        ]
      ) {
        const created = yield* gw.call("POST", "/requests", { tenantId: "demo-helvia", subHandle })
        expect([subHandle, created.status]).toEqual([subHandle, 201])
        const sent = yield* gw.call("POST", "/messages", {
          tenantId: "demo-helvia",
          subHandle,
          messageId: `${subHandle}:m+1@x`,
          text: "hi"
        })
        expect([subHandle, sent.status]).toEqual([subHandle, 202])
        const state = yield* gw.call("GET", `/subscribers/${encodeURIComponent(subHandle)}/livechat-state`)
        expect(state.body).toMatchObject({ subHandle, state: expect.stringMatching(/pending|active/) })
      }
    }).pipe(Effect.scoped))

  it.live("unknown things: tenant, alias, route, session", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      const tenant = yield* gw.call("POST", "/requests", { tenantId: "nope", subHandle: "a" })
      expect(tenant.status).toBe(404)
      expect(tenant.body).toMatchObject({ error: "TenantNotFound", tenantId: "nope" })
      expect((yield* gw.call("GET", "/tenants/nope/availability")).status).toBe(404)

      const alias = yield* gw.call("POST", "/events/nope", { x: 1 })
      expect(alias.status).toBe(404)
      expect(alias.body.error).toBe("UnknownProvider")
      // An alias is whatever the URL says: named cut to 64 characters, never quoted in full.
      const longAlias = yield* gw.call("POST", `/events/a%0Ab${"q".repeat(3_000)}`, { x: 1 })
      expect(longAlias.status).toBe(404)
      expect(longAlias.body.alias).toBe(`a\nb${"q".repeat(60)}…`)
      expect(JSON.stringify(longAlias.body).length).toBeLessThan(400)
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
      expect((yield* gw.call("GET", "/subscribers/ghost/livechat-state")).body).toEqual({
        subHandle: "ghost",
        state: "none"
      })
    }).pipe(Effect.scoped))

  it.live("ops: health, OpenAPI, docs", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      expect((yield* gw.call("GET", "/health/live")).status).toBe(200)
      expect((yield* gw.call("GET", "/health/ready")).body).toEqual({
        status: "ok",
        checks: { store: true, accepting: true }
      })
      const openapi = yield* gw.call("GET", "/openapi.json")
      expect(Object.keys(openapi.body.paths)).toEqual(
        expect.arrayContaining(["/requests", "/messages", "/events/{alias}", "/tenants/{tenantId}/availability"])
      )
      expect((yield* gw.call("GET", "/docs")).status).toBe(200)
      const availability = yield* gw.call("GET", "/tenants/demo-helvia/availability")
      expect(availability.body).toMatchObject({
        tenantId: "demo-helvia",
        available: true,
        businessHours: { openNow: true }
      })
    }).pipe(Effect.scoped))
})

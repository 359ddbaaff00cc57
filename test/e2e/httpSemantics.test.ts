/**
 * HTTP semantics on the real server (docs/CONTRACTS.md#upstream-api): a body that is not JSON
 * is 415, a wrong method 405 with Allow, a path parameter too long a 400 naming it, and an
 * error answer to HEAD says its error in headers. Each next to the request done right.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { createHmac, randomUUID } from "node:crypto"
import { demoHelviaSecret } from "../../sandbox/demoTenants.js"
import { startGateway } from "./harness.js"

const unsupported = {
  status: 415,
  body: { error: "UnsupportedMediaType", message: expect.stringContaining("application/json") }
}

describe("HTTP semantics", () => {
  it.live("a body not sent as application/json: 415 naming the type, on every route that reads JSON; webhooks take any", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      const create = { tenantId: "demo-helvia", subHandle: "form" }
      const message = { tenantId: "demo-helvia", subHandle: "form", messageId: "m1", text: "hi" }
      const routes = [
        ["POST", "/requests", create],
        ["PATCH", "/requests/subscribers/form", { status: "cancelled" }],
        ["POST", "/messages", message],
        ["POST", "/typing", { tenantId: "demo-helvia", subHandle: "form" }]
      ] as const
      // curl -d's default, a form of the same fields, text, and types that only contain "json".
      for (
        const [contentType, body] of [
          ["application/x-www-form-urlencoded", (fields: object) => new URLSearchParams(fields as never).toString()],
          ["text/plain", JSON.stringify],
          ["application/json-patch+json", JSON.stringify],
          ["text/json", JSON.stringify]
        ] as const
      ) {
        for (const [method, path, fields] of routes) {
          const answer = yield* gw.call(method, path, body(fields), { "content-type": contentType })
          expect([method, path, contentType, answer]).toEqual([method, path, contentType, {
            ...unsupported,
            headers: expect.anything()
          }])
          expect(answer.body.message).toContain(contentType)
        }
      }
      // Refused before anything else is looked at: a 415 without a token too, and nothing was opened.
      const anonymous = yield* gw.call("POST", "/messages", "tenantId=demo-helvia", {
        "content-type": "application/x-www-form-urlencoded",
        authorization: ""
      })
      expect(anonymous).toMatchObject(unsupported)
      expect((yield* gw.call("GET", "/subscribers/form/livechat-state")).body.state).toBe("none")

      // application/json, with a charset, in any case, or no content type at all (read as JSON): served.
      expect(
        (yield* gw.call("POST", "/requests", create, { "content-type": "Application/JSON; charset=utf-8" })).status
      )
        .toBe(201)
      expect(
        (yield* gw.call("POST", "/messages", message, { "content-type": "application/json;charset=UTF-8" })).status
      ).toBe(202)
      const bearer = yield* gw.token()
      const noType = yield* Effect.promise(() =>
        fetch(`${gw.url}/typing`, {
          method: "POST",
          headers: { authorization: `Bearer ${bearer}` },
          // A Uint8Array body: fetch sends no content type with it.
          body: new TextEncoder().encode(JSON.stringify({ tenantId: "demo-helvia", subHandle: "form" }))
        })
      )
      expect(noType.status).toBe(202)
      expect((yield* gw.call("PATCH", "/requests/subscribers/form", { status: "cancelled" })).status).toBe(200)
      // A route without a body takes a request whatever its content type says.
      expect(
        (yield* gw.call("GET", "/tenants/demo-helvia/availability", undefined, { "content-type": "text/plain" })).status
      )
        .toBe(200)

      // A webhook is read as its provider sends it (signed bytes, not parsed as a type): any content type is accepted.
      const opened = yield* gw.call("POST", "/requests", { tenantId: "demo-helvia", subHandle: "hook" })
      for (const contentType of ["text/plain", "application/x-www-form-urlencoded", "application/octet-stream"]) {
        const event = JSON.stringify({
          id: `hook-${randomUUID()}`,
          type: "MESSAGE",
          platformSessionId: opened.body.sessionId,
          platformUserId: "hook",
          occurredAt: new Date().toISOString(),
          message: { text: "hello" }
        })
        const hook = yield* Effect.promise(() =>
          fetch(`${gw.url}/events/helvia-livechat`, {
            method: "POST",
            headers: {
              "content-type": contentType,
              "x-helvia-signature": `sha256=${createHmac("sha256", demoHelviaSecret).update(event).digest("hex")}`
            },
            body: event
          }).then(async (response) => ({ status: response.status, body: await response.json() }))
        )
        expect([contentType, hook]).toEqual([contentType, { status: 200, body: { accepted: 1 } }])
      }
    }).pipe(Effect.scoped))

  it.live("a method the path does not take: 405 with Allow; a path no route has: 404", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      const asks = [
        // A direct route (POST only), its webhook sibling, HEAD-only routes, GET routes (HEAD implied), PATCH and DELETE.
        ["GET", "/messages", "POST"],
        ["PUT", "/typing", "POST"],
        ["GET", "/read", "POST"],
        ["HEAD", "/messages", "POST"],
        ["GET", "/events/helvia-livechat", "POST, HEAD"],
        ["GET", "/organizations/demo-org/requests", "HEAD"],
        ["POST", "/organizations/demo-org/tenants/demo-helvia/metrics", "HEAD"],
        ["DELETE", "/tenants/demo-helvia/availability", "GET, HEAD"],
        ["POST", "/subscribers/alice/livechat-state", "GET, HEAD"],
        ["GET", "/requests/subscribers/alice", "PATCH"],
        ["GET", "/sessions/tenants/demo-helvia/subscribers/alice", "DELETE"],
        ["DELETE", "/requests", "POST"],
        ["GET", "/admin/dead-letters/x/replay", "POST"],
        ["POST", "/health/live", "GET, HEAD"],
        ["POST", "/openapi.json", "GET, HEAD"],
        // As the router reads a path: in any case, with a trailing slash.
        ["GET", "/Messages/", "POST"]
      ] as const
      for (const [method, path, allow] of asks) {
        const answer = yield* gw.call(method, path)
        expect([method, path, answer.status, answer.headers.get("allow")]).toEqual([method, path, 405, allow])
        if (method !== "HEAD") {
          expect(answer.body).toEqual({
            error: "MethodNotAllowed",
            message: `${method} is not allowed on ${path}: it takes ${allow}`
          })
        }
      }
      // The methods Allow lists are served.
      expect((yield* gw.call("HEAD", "/tenants/demo-helvia/availability")).status).toBe(200)
      expect((yield* gw.call("GET", "/subscribers/alice/livechat-state")).status).toBe(200)
      expect((yield* gw.call("HEAD", "/organizations/demo-org/requests")).status).toBe(200)
      expect((yield* gw.call("HEAD", "/events/helvia-livechat")).status).toBe(200)

      // No route has the path, whatever the method.
      for (const [method, path] of [["GET", "/no/such/route"], ["POST", "/messages/extra"], ["DELETE", "/"]]) {
        const answer = yield* gw.call(method!, path!)
        expect([method, path, answer.status, answer.headers.get("allow"), answer.body.error]).toEqual([
          method,
          path,
          404,
          null,
          "NotFound"
        ])
      }
    }).pipe(Effect.scoped))

  it.live("a path parameter over 256 characters: 400 naming it; at 256 the route serves it", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      const admin = { authorization: `Bearer ${yield* gw.token({ scope: "admin" })}` }
      const long = "s".repeat(257)
      const atLimit = "s".repeat(256)
      const tooLong = (path: string) => ({
        error: "BadRequest",
        message: `${path}: must be at most 256 characters`,
        fields: [{ path, message: "must be at most 256 characters" }]
      })
      const asks = [
        ["GET", `/subscribers/${long}/livechat-state`, "subHandle", {}],
        ["GET", `/tenants/${long}/availability`, "tenantId", {}],
        ["DELETE", `/sessions/tenants/demo-helvia/subscribers/${long}`, "subHandle", {}],
        ["PATCH", `/requests/subscribers/${long}`, "subHandle", {}],
        ["GET", `/admin/sessions/${long}`, "sessionId", admin],
        ["POST", `/admin/dead-letters/${long}/replay`, "id", admin],
        // Past the router's own limit too (100 characters), in what it decodes (a %-escape is one).
        ["GET", `/subscribers/${"%41".repeat(1_000)}/livechat-state`, "subHandle", {}]
      ] as const
      for (const [method, path, parameter, headers] of asks) {
        const answer = yield* gw.call(method, path, method === "PATCH" ? { status: "cancelled" } : undefined, headers)
        expect([method, path.slice(0, 40), answer.status, answer.body]).toEqual([
          method,
          path.slice(0, 40),
          400,
          tooLong(parameter)
        ])
      }
      // A HEAD route: the same 400, said in headers.
      const head = yield* gw.call("HEAD", `/organizations/${long}/requests`)
      expect([head.status, head.headers.get("x-error"), head.headers.get("x-error-message")]).toEqual([
        400,
        "BadRequest",
        "organizationId: must be at most 256 characters"
      ])

      // 256 characters reach the handler (between 100 and 256 the router used to answer 404).
      expect((yield* gw.call("GET", `/subscribers/${atLimit}/livechat-state`)).body).toEqual({
        subHandle: atLimit,
        state: "none"
      })
      expect((yield* gw.call("POST", "/requests", { tenantId: "demo-helvia", subHandle: atLimit })).status).toBe(201)
      expect((yield* gw.call("DELETE", `/sessions/tenants/demo-helvia/subscribers/${atLimit}`)).status).toBe(204)
      expect((yield* gw.call("GET", `/tenants/${atLimit}/availability`)).body.error).toBe("TenantNotFound")
      expect((yield* gw.call("HEAD", `/organizations/${atLimit}/requests`)).headers.get("x-total-count")).toBe("0")
    }).pipe(Effect.scoped))

  it.live("an error answer to HEAD says its error code and message in X-Error headers, ASCII and bounded", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      const head = (path: string, headers: Record<string, string> = {}) =>
        Effect.map(gw.call("HEAD", path, undefined, headers), (answer) => ({
          status: answer.status,
          body: answer.body,
          error: answer.headers.get("x-error"),
          message: answer.headers.get("x-error-message")
        }))
      const confined = yield* gw.token({ tenants: ["demo-genesys"] })
      const asks = [
        ["/organizations/demo-org/requests?status=bogus", {}, 400, "BadRequest", /^status: /],
        ["/organizations/demo-org/requests", { authorization: "" }, 401, "Unauthorized", /missing/],
        [
          "/organizations/demo-org/tenants/demo-helvia/metrics",
          { authorization: `Bearer ${confined}` },
          403,
          "Forbidden",
          /./
        ],
        ["/events/nope", {}, 404, "UnknownProvider", /nope/],
        ["/no/such/route", {}, 404, "NotFound", /^no route for HEAD \/no\/such\/route$/],
        ["/messages", {}, 405, "MethodNotAllowed", /^HEAD is not allowed on \/messages: it takes POST$/]
      ] as const
      for (const [path, headers, status, error, message] of asks) {
        const answer = yield* head(path, headers)
        expect([path, answer]).toEqual([path, {
          status,
          body: undefined,
          error,
          message: expect.stringMatching(message)
        }])
      }
      // What the sender wrote comes back percent-encoded outside printable ASCII, and cut to 256 characters.
      const aliasPath = `/events/${encodeURIComponent("ünï\u2028code%")}`
      const alias = yield* head(aliasPath)
      expect(alias.error).toBe("UnknownProvider")
      expect(alias.message).toMatch(/^[\x20-\x7e]+$/)
      // The message a POST gets in its body (there is no GET on the path).
      const posted = yield* gw.call("POST", aliasPath, {})
      expect(posted.body.message).toContain("ünï\u2028code%")
      expect(decodeURIComponent(alias.message!)).toBe(posted.body.message)
      const long = yield* head(`/events/${"é".repeat(2_000)}`)
      expect(long.message).toMatch(/^[\x20-\x7e]+\.\.\.$/)
      expect(long.message!.length).toBeLessThanOrEqual(256)
      expect(decodeURIComponent(long.message!.slice(0, -3))).toMatch(/é+$/)

      // A HEAD answered 200 has none; a GET error keeps its body.
      const ok = yield* head("/events/helvia-livechat")
      expect(ok).toEqual({ status: 200, body: undefined, error: null, message: null })
      const get = yield* gw.call("GET", "/tenants/nope/availability")
      expect(get.status).toBe(404)
      expect(get.body.error).toBe("TenantNotFound")
    }).pipe(Effect.scoped))
})

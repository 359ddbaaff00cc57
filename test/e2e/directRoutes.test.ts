/**
 * The direct routes (src/http/directRoutes.ts) answer exactly as the HttpApi server does:
 * one gateway core behind two servers, the production one (direct routes first) and the
 * HttpApi server alone, asked the same things, compared status, content type and body.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Logger, LogLevel } from "effect"
import { createHmac, randomUUID } from "node:crypto"
import { createServer, request as httpRequest } from "node:http"
import { demoHelviaSecret } from "../../sandbox/demoTenants.js"
import { freePort, makeSandbox } from "../../sandbox/environment.js"
import { signToken } from "../../sandbox/token.js"
import { CoreLive, GatewayServerLive } from "../../src/app/App.js"
import { MAX_BODY_BYTES } from "../../src/http/errors.js"
import { HttpLive } from "../../src/http/server.js"
import { AppConfig } from "../../src/services/AppConfig.js"
import { startGateway } from "./harness.js"
import { checkAnswersOf } from "./openApiConformance.js"

interface Ask {
  readonly path: string
  readonly headers?: Record<string, string>
  readonly body: string
}

const answerOf = async (base: string, ask: Ask) => {
  const response = await fetch(`${base}${ask.path}`, { method: "POST", headers: ask.headers ?? {}, body: ask.body })
  const text = await response.text()
  return {
    status: response.status,
    contentType: response.headers.get("content-type"),
    body: text === "" ? undefined : JSON.parse(text)
  }
}

const signed = (body: string) => ({
  "content-type": "application/json",
  "x-helvia-signature": `sha256=${createHmac("sha256", demoHelviaSecret).update(body).digest("hex")}`
})

describe("direct routes", () => {
  it.live("answer POST /messages, /typing, /read and /events/:alias exactly as the HttpApi server does", () =>
    Effect.gen(function*() {
      const sandbox = yield* makeSandbox({})
      const apiPort = yield* freePort
      // The HttpApi server alone, on the same core (Layer.fresh: HttpLive is built a second time, for this server).
      const apiOnly = Layer.fresh(HttpLive).pipe(
        Layer.provide(NodeHttpServer.layer(createServer, { port: apiPort })),
        Layer.provide(CoreLive),
        Layer.provide(Layer.succeed(AppConfig, sandbox.config))
      )
      yield* Layer.buildWithScope(
        Layer.merge(GatewayServerLive(sandbox.config, "sandbox"), apiOnly),
        yield* Effect.scope
      )
      const direct = `http://127.0.0.1:${sandbox.config.port}`
      const api = `http://127.0.0.1:${apiPort}`
      checkAnswersOf(direct)
      checkAnswersOf(api)
      const token = yield* Effect.promise(() => signToken({ secret: sandbox.jwtSecret }))
      const expired = yield* Effect.promise(() => signToken({ secret: sandbox.jwtSecret, expiresInSeconds: -120 }))
      const json = (bearer = token) => ({ authorization: `Bearer ${bearer}`, "content-type": "application/json" })

      const created = yield* Effect.promise(() =>
        fetch(`${direct}/requests`, {
          method: "POST",
          headers: json(),
          body: JSON.stringify({ tenantId: "demo-helvia", subHandle: "parity" })
        }).then(
          (r) => r.json() as Promise<{ sessionId: string }>
        )
      )
      const message = (fields: object) =>
        JSON.stringify({ tenantId: "demo-helvia", subHandle: "parity", messageId: "m-1", text: "hi", ...fields })
      const deep = "[".repeat(300_000) + "]".repeat(300_000)
      const asks: Array<[string, Ask]> = [
        ["no token", { path: "/messages", headers: { "content-type": "application/json" }, body: message({}) }],
        ["an expired token", { path: "/messages", headers: json(expired), body: message({}) }],
        ["not a JWT", { path: "/messages", headers: json("not.a.jwt"), body: message({}) }],
        ["malformed JSON", { path: "/messages", headers: json(), body: "{not json" }],
        ["a missing field", {
          path: "/messages",
          headers: json(),
          body: JSON.stringify({ tenantId: "demo-helvia", messageId: "m", text: "x" })
        }],
        ["a mistyped field", { path: "/messages", headers: json(), body: message({ messageId: 7 }) }],
        ["neither text nor attachments", {
          path: "/messages",
          headers: json(),
          body: JSON.stringify({ tenantId: "demo-helvia", subHandle: "parity", messageId: "m" })
        }],
        ["an unknown subscriber", { path: "/messages", headers: json(), body: message({ subHandle: "nobody" }) }],
        ["another tenant", { path: "/messages", headers: json(), body: message({ tenantId: "demo-genesys" }) }],
        ["a message", { path: "/messages", headers: json(), body: message({}) }],
        ["the same message again", { path: "/messages", headers: json(), body: message({}) }],
        ["a query string", { path: "/messages?x=1", headers: json(), body: message({ messageId: "m-2" }) }],
        ["a text over its 16 KB", {
          path: "/messages",
          headers: json(),
          body: message({ text: "x".repeat(16 * 1024 + 1) })
        }],
        ["an oversized body", { path: "/messages", headers: json(), body: message({ text: "x".repeat(1_100_000) }) }],
        ["typing", {
          path: "/typing",
          headers: json(),
          body: JSON.stringify({ tenantId: "demo-helvia", subHandle: "parity" })
        }],
        ["typing, unknown subscriber", {
          path: "/typing",
          headers: json(),
          body: JSON.stringify({ tenantId: "demo-helvia", subHandle: "nobody" })
        }],
        ["a read receipt", {
          path: "/read",
          headers: json(),
          body: JSON.stringify({ tenantId: "demo-helvia", subHandle: "parity", messageId: "e-1" })
        }],
        ["a read receipt, unknown subscriber", {
          path: "/read",
          headers: json(),
          body: JSON.stringify({ tenantId: "demo-helvia", subHandle: "nobody" })
        }],
        ["a webhook for an unknown alias", { path: "/events/nope", headers: signed("{}"), body: "{}" }],
        ["a webhook with a bad signature", {
          path: "/events/helvia-livechat",
          headers: { ...signed("{}"), "x-helvia-signature": "sha256=00" },
          body: "{}"
        }],
        ["a malformed webhook", {
          path: "/events/helvia-livechat",
          headers: signed("{\"id\":\"1\"}"),
          body: "{\"id\":\"1\"}"
        }],
        ["a webhook that is not JSON", { path: "/events/helvia-livechat", headers: signed("nope"), body: "nope" }],
        ["a webhook path with a malformed %-escape", {
          path: "/events/%E0%A4%A",
          headers: { "content-type": "application/json" },
          body: "{}"
        }],
        ["a webhook for CCP, which pushes none", {
          path: "/events/cisco-livechat",
          headers: { "content-type": "application/json" },
          body: "{}"
        }],
        ["a message nested 300k deep", {
          path: "/messages",
          headers: json(),
          body: `{"tenantId":"demo-helvia","subHandle":"parity","messageId":"m-3","attachments":${deep}}`
        }],
        ["a 900 KB wrong field", {
          path: "/messages",
          headers: json(),
          body: message({ messageId: ["~".repeat(900_000)], text: { wrong: true } })
        }],
        ["an id with a control character", {
          path: "/typing",
          headers: json(),
          body: JSON.stringify({ tenantId: "demo-helvia", subHandle: "par\u0000ity" })
        }],
        // 415: a body not sent as JSON, the route reading JSON (a webhook reads its bytes, whatever the type).
        ["a form body (curl -d)", {
          path: "/messages",
          headers: { ...json(), "content-type": "application/x-www-form-urlencoded" },
          body: "tenantId=demo-helvia&subHandle=parity&messageId=m-4&text=hi"
        }],
        ["typing sent as text", {
          path: "/typing",
          headers: { ...json(), "content-type": "text/plain" },
          body: JSON.stringify({ tenantId: "demo-helvia", subHandle: "parity" })
        }],
        ["a type that only contains JSON", {
          path: "/messages",
          headers: { ...json(), "content-type": "application/json-patch+json" },
          body: message({ messageId: "m-5" })
        }],
        ["a form body without a token", {
          path: "/messages",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: "tenantId=demo-helvia"
        }],
        ["JSON with a charset", {
          path: "/messages",
          headers: { ...json(), "content-type": "application/json; charset=utf-8" },
          body: message({ messageId: "m-6" })
        }],
        ["a webhook sent as text", {
          path: "/events/helvia-livechat",
          headers: { ...signed("{\"id\":\"1\"}"), "content-type": "text/plain" },
          body: "{\"id\":\"1\"}"
        }],
        ["an unsigned webhook nested 300k deep", {
          path: "/events/helvia-livechat",
          headers: { "content-type": "application/json" },
          body: `{"agent":${deep}}`
        }]
      ]
      for (const [what, ask] of asks) {
        const fromApi = yield* Effect.promise(() => answerOf(api, ask))
        const fromDirect = yield* Effect.promise(() => answerOf(direct, ask))
        expect({ what, ...fromDirect }).toEqual({ what, ...fromApi })
        expect(fromDirect.status, what).toBeLessThan(500)
      }

      // An accepted webhook: the same answer for two distinct events (one each, so neither is a repeat).
      const webhook = () => {
        const body = JSON.stringify({
          id: `parity-${randomUUID()}`,
          type: "MESSAGE",
          platformSessionId: created.sessionId,
          platformUserId: "parity",
          occurredAt: new Date().toISOString(),
          message: { text: "hello" }
        })
        return { path: "/events/helvia-livechat", headers: signed(body), body }
      }
      const accepted = yield* Effect.promise(() => Promise.all([answerOf(api, webhook()), answerOf(direct, webhook())]))
      expect(accepted[1]).toEqual(accepted[0])
      expect(accepted[1]).toMatchObject({ status: 200, body: { accepted: 1 } })
    }).pipe(Effect.scoped, Effect.provide(Logger.minimumLogLevel(LogLevel.Warning))))

  it.live("refuse a missing or bad token before reading the body: 401 at once, and the connection closed", () =>
    Effect.gen(function*() {
      const gw = yield* startGateway()
      const good = yield* gw.token()
      const expired = yield* gw.token({ expiresInSeconds: -120 })
      /** Headers announcing a 1 MiB body; the body sent after `bodyAfterMs` (never when undefined). The answer within 1 s, if any. */
      const post = (path: string, authorization: string | undefined, bodyAfterMs?: number) =>
        Effect.promise(
          () =>
            new Promise<
              {
                readonly status?: number
                readonly connection?: string
                readonly body?: unknown
                readonly after: number
              }
            >((resolve) => {
              const started = performance.now()
              const request = httpRequest({
                host: "127.0.0.1",
                port: gw.config.port,
                method: "POST",
                path,
                headers: {
                  "content-type": "application/json",
                  "content-length": MAX_BODY_BYTES,
                  ...(authorization !== undefined ? { authorization } : {})
                }
              })
              request.on("response", (response) => {
                let text = ""
                response.setEncoding("utf8")
                response.on("data", (chunk: string) => (text += chunk))
                response.on("end", () =>
                  resolve({
                    status: response.statusCode!,
                    connection: response.headers.connection!,
                    body: JSON.parse(text),
                    after: performance.now() - started
                  }))
              })
              request.on("error", () => undefined)
              request.flushHeaders()
              const body = JSON.stringify({
                tenantId: "demo-helvia",
                subHandle: "nobody",
                messageId: "m",
                text: "x".repeat(MAX_BODY_BYTES)
              }).slice(0, MAX_BODY_BYTES - 2) + "\"}"
              if (bodyAfterMs !== undefined) setTimeout(() => request.end(body), bodyAfterMs)
              setTimeout(() => {
                resolve({ after: performance.now() - started })
                request.destroy()
              }, 1_000)
            })
        )
      for (
        const [path, authorization] of [
          ["/messages", undefined],
          ["/messages", "Bearer not.a.jwt"],
          ["/typing", `Bearer ${expired}`],
          ["/messages", `Basic ${good}`]
        ] as const
      ) {
        const answer = yield* post(path, authorization)
        expect([path, authorization?.slice(0, 12), answer]).toEqual([
          path,
          authorization?.slice(0, 12),
          {
            status: 401,
            connection: "close",
            body: { error: "Unauthorized", message: expect.any(String) },
            after: expect.any(Number)
          }
        ])
      }
      // A valid token's request waits for its body, and is answered once it has come (its 1 MiB text is over the limit).
      const waited = yield* post("/messages", `Bearer ${good}`, 300)
      expect(waited).toMatchObject({
        status: 400,
        body: { error: "BadRequest", message: "text: at most 16384 bytes (16 KB)" }
      })
      expect(waited.after).toBeGreaterThanOrEqual(300)
    }).pipe(Effect.scoped, Effect.provide(Logger.minimumLogLevel(LogLevel.Warning))))
})

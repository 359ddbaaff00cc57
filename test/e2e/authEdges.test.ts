/**
 * The bearer token's edges, on a route of the HttpApi server and on a direct route alike:
 * only the Bearer scheme, the issuer when one is configured (docs/SECURITY.md).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { exportJWK, generateKeyPair, SignJWT } from "jose"
import { createServer } from "node:http"
import { readAnswer, startGateway } from "./harness.js"

describe("the Authorization header and the token's claims", () => {
  it.live("only Bearer (in any case) carries a token; with LCG_JWT_ISSUER, a token of another issuer or none is refused", () =>
    Effect.gen(function*() {
      const issuer = "https://idp.example/"
      const gw = yield* startGateway({ configure: (config) => ({ ...config, jwt: { ...config.jwt, issuer } }) })
      const good = yield* gw.token({ issuer })
      const call = (authorization: string, direct: boolean) =>
        Effect.promise(() =>
          (direct
            ? fetch(`${gw.url}/messages`, {
              method: "POST",
              headers: { authorization, "content-type": "application/json" },
              body: JSON.stringify({ tenantId: "demo-helvia", subHandle: "nobody", messageId: "m1", text: "hi" })
            })
            : fetch(`${gw.url}/subscribers/nobody/livechat-state`, { headers: { authorization } })).then(readAnswer)
        )
      for (const direct of [false, true]) {
        const accepted = direct ? 404 : 200
        expect((yield* call(`Bearer ${good}`, direct)).status).toBe(accepted)
        expect((yield* call(`bearer ${good}`, direct)).status).toBe(accepted)
        expect((yield* call(`BEARER ${good}`, direct)).status).toBe(accepted)
        for (const refused of [`Basic ${good}`, `Basic  ${good}`, `Token ${good}`, good, `Bearer ${good} extra`]) {
          const answer = yield* call(refused, direct)
          expect([direct, refused.slice(0, 8), answer.status, answer.body.error]).toEqual([
            direct,
            refused.slice(0, 8),
            401,
            "Unauthorized"
          ])
        }
        const otherIssuer = yield* call(`Bearer ${yield* gw.token({ issuer: "https://other.example/" })}`, direct)
        expect(otherIssuer.status).toBe(401)
        expect(otherIssuer.body.message).toContain("iss")
        expect((yield* call(`Bearer ${yield* gw.token()}`, direct)).status).toBe(401)
      }
    }).pipe(Effect.scoped))

  it.live("one verifier for every route: the JWKS is fetched once, and a token verified on one route is known on the others", () =>
    Effect.gen(function*() {
      const { privateKey, publicKey } = yield* Effect.promise(() => generateKeyPair("RS256"))
      const jwk = { ...(yield* Effect.promise(() => exportJWK(publicKey))), kid: "k1", alg: "RS256", use: "sig" }
      let fetches = 0
      const jwks = createServer((_request, response) => {
        fetches++
        response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }))
      })
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void jwks.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () => Effect.sync(() => jwks.close())
      )
      const jwksUrl = `http://127.0.0.1:${(jwks.address() as { port: number }).port}/jwks.json`
      const gw = yield* startGateway({ configure: (config) => ({ ...config, jwt: { jwksUrl, audience: "hbf-lcg" } }) })
      const sign = (scope?: string) =>
        Effect.promise(() =>
          new SignJWT(scope !== undefined ? { scope } : {}).setProtectedHeader({ alg: "RS256", kid: "k1" }).setAudience(
            "hbf-lcg"
          ).setExpirationTime("5m").sign(privateKey)
        )
      const platform = { authorization: `Bearer ${yield* sign()}` }
      const admin = { authorization: `Bearer ${yield* sign("admin")}` }
      // The HttpApi server's Authentication, the direct routes and the admin routes' AdminAuthentication.
      expect((yield* gw.call("POST", "/requests", { tenantId: "demo-helvia", subHandle: "ann" }, platform)).status)
        .toBe(201)
      expect(
        (yield* gw.call(
          "POST",
          "/messages",
          { tenantId: "demo-helvia", subHandle: "ann", messageId: "m1", text: "hi" },
          platform
        )).status
      ).toBe(202)
      expect((yield* gw.call("POST", "/typing", { tenantId: "demo-helvia", subHandle: "ann" }, admin)).status).toBe(202)
      expect((yield* gw.call("GET", "/admin/subscribers/ann/session", undefined, admin)).status).toBe(200)
      expect(fetches).toBe(1)
    }).pipe(Effect.scoped))
})

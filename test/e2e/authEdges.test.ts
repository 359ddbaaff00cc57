/**
 * The bearer token's edges, on a route of the HttpApi server and on a direct route alike:
 * only the Bearer scheme, the issuer when one is configured (docs/SECURITY.md).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { readAnswer, startGateway } from "./harness.js"

describe("the Authorization header and the token's claims", () => {
  it.live("only Bearer (in any case) carries a token; with LCG_JWT_ISSUER, a token of another issuer or none is refused", () =>
    Effect.gen(function* () {
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
            : fetch(`${gw.url}/subscribers/nobody/livechat-state`, { headers: { authorization } })
          ).then(readAnswer)
        )
      for (const direct of [false, true]) {
        const accepted = direct ? 404 : 200
        expect((yield* call(`Bearer ${good}`, direct)).status).toBe(accepted)
        expect((yield* call(`bearer ${good}`, direct)).status).toBe(accepted)
        expect((yield* call(`BEARER ${good}`, direct)).status).toBe(accepted)
        for (const refused of [`Basic ${good}`, `Basic  ${good}`, `Token ${good}`, good, `Bearer ${good} extra`]) {
          const answer = yield* call(refused, direct)
          expect([direct, refused.slice(0, 8), answer.status, answer.body.error]).toEqual([direct, refused.slice(0, 8), 401, "Unauthorized"])
        }
        const otherIssuer = yield* call(`Bearer ${yield* gw.token({ issuer: "https://other.example/" })}`, direct)
        expect(otherIssuer.status).toBe(401)
        expect(otherIssuer.body.message).toContain("iss")
        expect((yield* call(`Bearer ${yield* gw.token()}`, direct)).status).toBe(401)
      }
    }).pipe(Effect.scoped)
  )
})

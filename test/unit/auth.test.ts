import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Redacted } from "effect"
import { exportJWK, generateKeyPair, SignJWT } from "jose"
import { createServer } from "node:http"
import { vi } from "vitest"
import { bearerTokenOf, makeTokenVerifier } from "../../src/http/auth.js"

describe("bearer JWT verification against a JWKS", () => {
  it.live("accepts RS256 tokens signed by a key of the JWKS, refuses others and HS256 forgeries", () =>
    Effect.gen(function*() {
      const { privateKey, publicKey } = yield* Effect.promise(() => generateKeyPair("RS256"))
      const other = yield* Effect.promise(() => generateKeyPair("RS256"))
      const jwk = { ...(yield* Effect.promise(() => exportJWK(publicKey))), kid: "k1", alg: "RS256", use: "sig" }
      const server = createServer((_req, res) =>
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }))
      )
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () => Effect.sync(() => server.close())
      )
      const port = (server.address() as { port: number }).port
      const verify = makeTokenVerifier(
        { jwksUrl: `http://127.0.0.1:${port}/jwks.json`, audience: "hbf-lcg" },
        yield* Effect.clock
      )
      const sign = (key: typeof privateKey, claims: { aud?: string; scope?: string } = {}) =>
        Effect.promise(() =>
          new SignJWT(claims.scope !== undefined ? { scope: claims.scope } : {})
            .setProtectedHeader({ alg: "RS256", kid: "k1" })
            .setSubject("hbf-bot")
            .setAudience(claims.aud ?? "hbf-lcg")
            .setExpirationTime("5m")
            .sign(key)
        )

      const caller = yield* verify(Redacted.make(yield* sign(privateKey, { scope: "admin read" })))
      expect(caller).toEqual({ subject: "hbf-bot", scopes: ["admin", "read"], tenants: "all" })

      const wrongKey = yield* Effect.either(verify(Redacted.make(yield* sign(other.privateKey))))
      expect(Either.isLeft(wrongKey) && wrongKey.left.message).toContain("signature")
      const wrongAudience = yield* Effect.either(verify(Redacted.make(yield* sign(privateKey, { aud: "elsewhere" }))))
      expect(Either.isLeft(wrongAudience) && wrongAudience.left.message).toContain("aud")
      const hs256 = yield* Effect.promise(() =>
        new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setAudience("hbf-lcg").setExpirationTime("5m").sign(
          new TextEncoder().encode("guess")
        )
      )
      expect(Either.isLeft(yield* Effect.either(verify(Redacted.make(hs256))))).toBe(true)
    }).pipe(Effect.scoped))

  it.live("a verified token is remembered only until it expires (past the clock skew), and a refused one never", () =>
    Effect.gen(function*() {
      const secret = "remembered-tokens-secret"
      const verify = makeTokenVerifier({ secret: Redacted.make(secret) }, yield* Effect.clock)
      const sign = (expiresInSeconds: number, key = secret) =>
        Effect.promise(() =>
          new SignJWT({})
            .setProtectedHeader({ alg: "HS256" })
            .setSubject("hbf-bot")
            .setExpirationTime(Math.floor(Date.now() / 1000) + expiresInSeconds)
            .sign(new TextEncoder().encode(key))
        )
      const token = Redacted.make(yield* sign(60))
      const forged = Redacted.make(yield* sign(60, "guess"))
      vi.useFakeTimers({ now: Date.now(), toFake: ["Date"] })
      try {
        expect(yield* verify(token)).toEqual({ subject: "hbf-bot", scopes: [], tenants: "all" })
        expect(Either.isLeft(yield* Effect.either(verify(forged)))).toBe(true)
        expect(Either.isLeft(yield* Effect.either(verify(forged)))).toBe(true)
        // Within its life and the 30 s skew it is still good (from memory or not) ...
        vi.setSystemTime(Date.now() + 80_000)
        expect(yield* verify(token)).toEqual({ subject: "hbf-bot", scopes: [], tenants: "all" })
        // ... and once past both it is refused, though it was verified before.
        vi.setSystemTime(Date.now() + 15_000)
        const late = yield* Effect.either(verify(token))
        expect(Either.isLeft(late) && late.left.message).toContain("expired")
      } finally {
        vi.useRealTimers()
      }
    }))

  it.live("an issuer is checked when LCG_JWT_ISSUER is set", () =>
    Effect.gen(function*() {
      const secret = "issuer-secret"
      const verify = makeTokenVerifier(
        { secret: Redacted.make(secret), issuer: "https://idp.example/" },
        yield* Effect.clock
      )
      const sign = (issuer?: string) => {
        let jwt = new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setExpirationTime("5m")
        if (issuer !== undefined) jwt = jwt.setIssuer(issuer)
        return Effect.promise(() => jwt.sign(new TextEncoder().encode(secret)))
      }
      expect(yield* verify(Redacted.make(yield* sign("https://idp.example/")))).toMatchObject({ tenants: "all" })
      const other = yield* Effect.either(verify(Redacted.make(yield* sign("https://other.example/"))))
      expect(Either.isLeft(other) && other.left.message).toContain("iss")
      expect(Either.isLeft(yield* Effect.either(verify(Redacted.make(yield* sign()))))).toBe(true)
    }))

  it.live("a tenants claim confines the token: one id or a non-empty array of ids; anything else is refused", () =>
    Effect.gen(function*() {
      const secret = "tenants-secret"
      const verify = makeTokenVerifier({ secret: Redacted.make(secret) }, yield* Effect.clock)
      const withTenants = (tenants: unknown) =>
        Effect.promise(() =>
          new SignJWT({ tenants }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("5m").sign(
            new TextEncoder().encode(secret)
          )
        ).pipe(Effect.flatMap((token) => Effect.either(verify(Redacted.make(token)))))
      const one = yield* withTenants("acme")
      expect(Either.isRight(one) && [...(one.right.tenants as ReadonlySet<string>)]).toEqual(["acme"])
      const two = yield* withTenants(["acme", "globex"])
      expect(Either.isRight(two) && [...(two.right.tenants as ReadonlySet<string>)]).toEqual(["acme", "globex"])
      for (const bad of [[], "", [""], [1], { acme: true }, 42]) {
        const refused = yield* withTenants(bad)
        expect(Either.isLeft(refused) && refused.left.message).toContain("tenants")
      }
    }))
})

describe("the Authorization header", () => {
  it("only the Bearer scheme (in any case) gives a token", () => {
    expect(bearerTokenOf("Bearer abc.def.ghi")).toBe("abc.def.ghi")
    expect(bearerTokenOf("bearer abc.def.ghi")).toBe("abc.def.ghi")
    expect(bearerTokenOf("BEARER abc.def.ghi")).toBe("abc.def.ghi")
    expect(bearerTokenOf("Basic abc.def.ghi")).toBe("")
    expect(bearerTokenOf("Basic  abc.def.ghi")).toBe("")
    expect(bearerTokenOf("Token abc.def.ghi")).toBe("")
    expect(bearerTokenOf("Bearerabc.def.ghi")).toBe("")
    expect(bearerTokenOf("Bearer ")).toBe("")
    expect(bearerTokenOf("Bearer abc def")).toBe("")
    expect(bearerTokenOf(undefined)).toBe("")
  })
})

/**
 * Bearer-JWT authentication of the upstream and admin routes (docs/CONTRACTS.md#upstream-api,
 * docs/SECURITY.md): `Authorization: Bearer <JWT>` (the scheme in any case, no other);
 * HS256 with LCG_JWT_SECRET or RS256/ES256 against LCG_JWKS_URL; `exp` required, `aud`
 * checked when configured (always with a JWKS), `iss` when LCG_JWT_ISSUER is set, 30 s
 * clock skew. A `tenants` claim confines the token to those tenants. Admin routes need
 * `scope: admin` and a platform token (no `tenants`).
 */
import { HttpApiMiddleware, HttpApiSecurity, HttpServerRequest } from "@effect/platform"
import { type Clock, Context, Effect, Layer, Redacted, Schema } from "effect"
import { createRemoteJWKSet, errors as joseErrors, type JWTPayload, jwtVerify } from "jose"
import { everyTenant, type TenantAccess } from "../domain/access.js"
import { AppConfig, type AppConfigValues } from "../services/AppConfig.js"
import * as Errors from "../services/errors.js"
import { Forbidden, Unauthorized } from "./errors.js"

export interface CallerInfo {
  readonly subject?: string
  readonly scopes: ReadonlyArray<string>
  /** The tenants the token may act in: all of them (a platform token) or those its `tenants` claim names. */
  readonly tenants: TenantAccess
}

/** Who called: the verified token's subject, scopes and tenants. */
export class Caller extends Context.Tag("hbf-lcg/Caller")<Caller, CallerInfo>() {}

export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("Authentication", {
  failure: Unauthorized,
  provides: Caller,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

export class AdminAuthentication extends HttpApiMiddleware.Tag<AdminAuthentication>()("AdminAuthentication", {
  failure: Schema.Union(Unauthorized, Forbidden),
  provides: Caller,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

export const CLOCK_SKEW_SECONDS = 30

const scopesOf = (payload: JWTPayload): ReadonlyArray<string> => {
  const scope = payload["scope"] ?? payload["scp"]
  if (typeof scope === "string") return scope.split(/\s+/).filter((s) => s.length > 0)
  if (Array.isArray(scope)) return scope.filter((s): s is string => typeof s === "string")
  return []
}

/** At most this many tenants in one token's `tenants` claim. */
const MAX_TOKEN_TENANTS = 1_000

/** The `tenants` claim: absent (a platform token), one tenant id, or an array of them; anything else is no token of ours. */
const tenantsOf = (payload: JWTPayload): TenantAccess | undefined => {
  const claim = payload["tenants"]
  if (claim === undefined) return everyTenant
  const ids = typeof claim === "string" ? [claim] : claim
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_TOKEN_TENANTS) return undefined
  if (!ids.every((id): id is string => typeof id === "string" && id.length > 0)) return undefined
  return new Set(ids)
}

/**
 * The token of an `Authorization: Bearer <token>` header: the scheme in any case, then the
 * token; "" for any other scheme (`Basic <jwt>` is not a bearer token) or none.
 */
export const bearerTokenOf = (header: string | undefined): string => {
  if (header === undefined || header.length < 8 || header.charCodeAt(6) !== 32) return ""
  if (header.slice(0, 6).toLowerCase() !== "bearer") return ""
  const token = header.slice(7).trim()
  return token.includes(" ") ? "" : token
}

const reasonOf = (error: unknown): string => {
  if (error instanceof joseErrors.JWTExpired) return "the token has expired"
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return `the token's "${error.claim}" claim is invalid: ${error.reason}`
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "the token's signature does not verify"
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return "the token's algorithm is not accepted"
  if (error instanceof joseErrors.JWKSNoMatchingKey) return "no key of the JWKS matches the token"
  if (error instanceof joseErrors.JOSEError) return `the token is invalid (${error.code})`
  return "the token could not be verified"
}

/** How many verified tokens are remembered, and for how long at most (a key removed from the JWKS stops working within this). */
const VERIFIED_TOKENS = 10_000
const VERIFIED_FOR_MS = 5 * 60 * 1000

/**
 * Verifies a bearer token with the configured key; never logs or echoes the token. hbf-bot
 * sends the same service token with every call, and verifying it costs more than the rest of a
 * forwarded message's handling, so a verified token is remembered until it expires (and at most
 * VERIFIED_FOR_MS). Failures are never remembered (perf: docs/ARCHITECTURE.md#perf-token-memo).
 */
export interface TokenVerifier {
  (token: Redacted.Redacted<string>): Effect.Effect<CallerInfo, Errors.Unauthorized>
  /**
   * The caller of a token verified earlier and still remembered: checked without a fiber, on
   * the hottest routes (perf: docs/ARCHITECTURE.md#perf-token-memo).
   */
  readonly remembered: (raw: string) => CallerInfo | undefined
}

/** `clock` times the memory of verified tokens (synchronously: it is read on every request of the direct routes). */
export const makeTokenVerifier = (jwt: AppConfigValues["jwt"], clock: Clock.Clock): TokenVerifier => {
  const secret = jwt.secret
  const jwks = jwt.jwksUrl !== undefined ? createRemoteJWKSet(new URL(jwt.jwksUrl)) : undefined
  const options = {
    clockTolerance: CLOCK_SKEW_SECONDS,
    requiredClaims: ["exp"],
    ...(jwt.audience !== undefined ? { audience: jwt.audience } : {}),
    ...(jwt.issuer !== undefined ? { issuer: jwt.issuer } : {})
  }
  const verified = new Map<string, { readonly caller: CallerInfo; readonly until: number }>()
  const remember = (raw: string, caller: CallerInfo, exp: number | undefined) => {
    if (verified.size >= VERIFIED_TOKENS) verified.delete(verified.keys().next().value!)
    const until = Math.min(clock.unsafeCurrentTimeMillis() + VERIFIED_FOR_MS, ((exp ?? 0) + CLOCK_SKEW_SECONDS) * 1000)
    verified.set(raw, { caller, until })
  }
  const remembered = (raw: string): CallerInfo | undefined => {
    const known = verified.get(raw)
    if (known === undefined) return undefined
    if (clock.unsafeCurrentTimeMillis() < known.until) return known.caller
    verified.delete(raw)
    return undefined
  }
  const verify = (token: Redacted.Redacted<string>): Effect.Effect<CallerInfo, Errors.Unauthorized> => {
    const raw = Redacted.value(token)
    if (raw.length === 0) {
      return Effect.fail(
        new Errors.Unauthorized({ message: "missing bearer token (expected Authorization: Bearer <JWT>)" })
      )
    }
    const known = remembered(raw)
    if (known !== undefined) return Effect.succeed(known)
    return Effect.tryPromise({
      try: async () => {
        if (secret !== undefined) {
          try {
            return await jwtVerify(raw, new TextEncoder().encode(Redacted.value(secret)), {
              ...options,
              algorithms: ["HS256"]
            })
          } catch (error) {
            // With both configured, a token the secret does not verify may still be a JWKS one.
            if (jwks === undefined) throw error
          }
        }
        if (jwks === undefined) throw new joseErrors.JOSEError("no verification key configured")
        return await jwtVerify(raw, jwks, { ...options, algorithms: ["RS256", "ES256"] })
      },
      catch: (error) => new Errors.Unauthorized({ message: reasonOf(error) })
    }).pipe(
      Effect.flatMap(({ payload }) => {
        const tenants = tenantsOf(payload)
        if (tenants === undefined) {
          return Effect.fail(
            new Errors.Unauthorized({
              message: `the token's "tenants" claim must be a tenant id or a non-empty array of them`
            })
          )
        }
        const caller: CallerInfo = {
          ...(payload.sub !== undefined ? { subject: payload.sub } : {}),
          scopes: scopesOf(payload),
          tenants
        }
        remember(raw, caller, payload.exp)
        return Effect.succeed(caller)
      })
    )
  }
  return Object.assign(verify, { remembered })
}

/**
 * The one verifier of the gateway, shared by the HttpApi's middlewares and the direct routes:
 * one JWKS cache and one memory of verified tokens (a token verified on one route is known on all).
 */
export class TokenVerification extends Context.Tag("hbf-lcg/TokenVerification")<TokenVerification, TokenVerifier>() {}

export const TokenVerificationLive = Layer.effect(
  TokenVerification,
  Effect.zipWith(AppConfig, Effect.clock, (config, clock) => makeTokenVerifier(config.jwt, clock))
)

/**
 * The request's own bearer token, verified. HttpApiSecurity.bearer (kept for the OpenAPI
 * document) hands over the header minus its first seven characters whatever the scheme.
 */
const verifyRequest = (verify: TokenVerifier) =>
  Effect.flatMap(
    HttpServerRequest.HttpServerRequest,
    (request) => verify(Redacted.make(bearerTokenOf(request.headers["authorization"])))
  )

export const AuthenticationLive = Layer.effect(
  Authentication,
  Effect.map(TokenVerification, (verify) => {
    const verified = verifyRequest(verify)
    return Authentication.of({ bearer: () => verified })
  })
).pipe(Layer.provide(TokenVerificationLive))

export const AdminAuthenticationLive = Layer.effect(
  AdminAuthentication,
  Effect.map(TokenVerification, (verify) => {
    const verified = verifyRequest(verify)
    return AdminAuthentication.of({
      bearer: () =>
        Effect.flatMap(verified, (caller) => {
          if (!caller.scopes.includes("admin")) {
            return Effect.fail(new Errors.Forbidden({ message: "admin routes need a token with scope \"admin\"" }))
          }
          // Admin routes see every tenant's sessions: a token confined to some tenants is not an operator's.
          if (caller.tenants !== "all") {
            return Effect.fail(
              new Errors.Forbidden({ message: "admin routes need a platform token (one without \"tenants\")" })
            )
          }
          return Effect.succeed(caller)
        })
    })
  })
).pipe(Layer.provide(TokenVerificationLive))

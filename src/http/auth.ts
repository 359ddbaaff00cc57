/**
 * Bearer-JWT authentication of the upstream and admin routes (CONTRACTS.md section 1):
 * HS256 with LCG_JWT_SECRET or RS256/ES256 against LCG_JWKS_URL; `exp` required, `aud`
 * checked when configured, 30 s clock skew. Admin routes also need `scope: admin`.
 */
import { HttpApiMiddleware, HttpApiSecurity } from "@effect/platform"
import { Context, Effect, Layer, Redacted, Schema } from "effect"
import { createRemoteJWKSet, errors as joseErrors, type JWTPayload, jwtVerify } from "jose"
import { AppConfig, type AppConfigValues } from "../services/AppConfig.js"
import * as Errors from "../services/errors.js"
import { Forbidden, Unauthorized } from "./errors.js"

export interface CallerInfo {
  readonly subject?: string
  readonly scopes: ReadonlyArray<string>
}

/** Who called: the verified token's subject and scopes. */
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

const reasonOf = (error: unknown): string => {
  if (error instanceof joseErrors.JWTExpired) return "the token has expired"
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `the token's "${error.claim}" claim is invalid: ${error.reason}`
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
 * Verifies a bearer token with the configured key; never logs or echoes the token.
 * hbf-bot sends the same service token with every call, and verifying it costs more than
 * the rest of a forwarded message's handling, so a verified token is remembered until it
 * expires (and at most VERIFIED_FOR_MS). Failures are never remembered.
 */
export interface TokenVerifier {
  (token: Redacted.Redacted<string>): Effect.Effect<CallerInfo, Errors.Unauthorized>
  /** The caller of a token verified earlier and still remembered: checked without a fiber, on the hottest routes. */
  readonly remembered: (raw: string) => CallerInfo | undefined
}

export const makeTokenVerifier = (jwt: AppConfigValues["jwt"]): TokenVerifier => {
  const secret = jwt.secret
  const jwks = jwt.jwksUrl !== undefined ? createRemoteJWKSet(new URL(jwt.jwksUrl)) : undefined
  const options = {
    clockTolerance: CLOCK_SKEW_SECONDS,
    requiredClaims: ["exp"],
    ...(jwt.audience !== undefined ? { audience: jwt.audience } : {})
  }
  const verified = new Map<string, { readonly caller: CallerInfo; readonly until: number }>()
  const remember = (raw: string, caller: CallerInfo, exp: number | undefined) => {
    if (verified.size >= VERIFIED_TOKENS) verified.delete(verified.keys().next().value!)
    const until = Math.min(Date.now() + VERIFIED_FOR_MS, ((exp ?? 0) + CLOCK_SKEW_SECONDS) * 1000)
    verified.set(raw, { caller, until })
  }
  const remembered = (raw: string): CallerInfo | undefined => {
    const known = verified.get(raw)
    if (known === undefined) return undefined
    if (Date.now() < known.until) return known.caller
    verified.delete(raw)
    return undefined
  }
  const verify = (token: Redacted.Redacted<string>): Effect.Effect<CallerInfo, Errors.Unauthorized> => {
    const raw = Redacted.value(token)
    if (raw.length === 0) {
      return Effect.fail(new Errors.Unauthorized({ message: "missing bearer token (Authorization: Bearer <JWT>)" }))
    }
    const known = remembered(raw)
    if (known !== undefined) return Effect.succeed(known)
    return Effect.tryPromise({
      try: async () => {
        if (secret !== undefined) {
          try {
            return await jwtVerify(raw, new TextEncoder().encode(Redacted.value(secret)), { ...options, algorithms: ["HS256"] })
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
      Effect.map(({ payload }) => {
        const caller = {
          ...(payload.sub !== undefined ? { subject: payload.sub } : {}),
          scopes: scopesOf(payload)
        }
        remember(raw, caller, payload.exp)
        return caller
      })
    )
  }
  return Object.assign(verify, { remembered })
}

export const AuthenticationLive = Layer.effect(
  Authentication,
  Effect.map(AppConfig, (config) => {
    const verify = makeTokenVerifier(config.jwt)
    return Authentication.of({ bearer: verify })
  })
)

export const AdminAuthenticationLive = Layer.effect(
  AdminAuthentication,
  Effect.map(AppConfig, (config) => {
    const verify = makeTokenVerifier(config.jwt)
    return AdminAuthentication.of({
      bearer: (token) =>
        Effect.flatMap(verify(token), (caller) =>
          caller.scopes.includes("admin")
            ? Effect.succeed(caller)
            : Effect.fail(new Errors.Forbidden({ message: "admin routes need a token with scope \"admin\"" }))
        )
    })
  })
)

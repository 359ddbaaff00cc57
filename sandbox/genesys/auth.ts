/**
 * Genesys' login (OAuth client credentials) and the guard of every /api route: a scripted
 * failure, then the bearer token, then the rate limit per token.
 */
import type { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, Option } from "effect"
import { randomUUID } from "node:crypto"
import { handle, json, type Reject } from "../http/answers.js"
import { readBody } from "../http/body.js"
import { request } from "../http/requests.js"
import { safeEqual } from "../http/signatures.js"
import { type GenesysState, type TokenRecord, tokenValid } from "./state.js"
import { fail, genesysRefusals } from "./wire.js"

const RATE_WINDOW_MS = 60_000

const bearerOf = (header: string | undefined): string | undefined => /^Bearer\s+(\S+)\s*$/i.exec(header ?? "")?.[1]

/** The client a request's token was granted to, if it carries a known one (the request log's `clientId`). */
export const clientOf = (state: GenesysState, req: HttpServerRequest.HttpServerRequest): { clientId?: string } => {
  const token = bearerOf(req.headers["authorization"])
  const clientId = token === undefined ? undefined : state.tokens.get(token)?.clientId
  return clientId === undefined ? {} : { clientId }
}

export interface Auth {
  readonly token: string
  readonly clientId: string
  readonly record: TokenRecord
}

export type ApiRoute = <R>(
  handler: (auth: Auth) => Effect.Effect<HttpServerResponse.HttpServerResponse, Reject, R>
) => Effect.Effect<HttpServerResponse.HttpServerResponse, never, R | HttpServerRequest.HttpServerRequest>

/** Wraps an /api route's handler in the guard: scripted failure, then 401/429, then the handler; Genesys error bodies throughout. */
export const makeApiGuard = (state: GenesysState): ApiRoute => {
  const takeScripted = Effect.suspend(() =>
    Option.match(state.failures.take(), {
      onNone: () => Effect.void,
      onSome: ({ status, retryAfterSeconds }) => {
        const retryAfter = status === 429 ? (retryAfterSeconds ?? 1) : retryAfterSeconds
        return fail(
          status,
          `genesys sim: scripted ${status} (failNext)`,
          retryAfter !== undefined ? { headers: { "retry-after": String(retryAfter) } } : {}
        )
      }
    })
  )

  const authenticate = Effect.flatMap(request, (req): Effect.Effect<Auth, Reject> => {
    const token = bearerOf(req.headers["authorization"])
    if (token === undefined) {
      return fail(401, "No authentication bearer token specified in authorization header.", {
        code: "authentication.required"
      })
    }
    const record = state.tokens.get(token)
    if (record === undefined || !tokenValid(record)) {
      return fail(401, "Invalid login credentials.", { code: "bad.credentials" })
    }
    return Effect.succeed({ token, clientId: record.clientId, record })
  })

  const rateLimit = (token: string) =>
    Effect.suspend(() => {
      const t = Date.now()
      const hits = (state.rateWindows.get(token) ?? []).filter((at) => at > t - RATE_WINDOW_MS)
      state.rateWindows.set(token, hits)
      if (hits.length >= state.requestsPerMinute) {
        const retryAfter = Math.max(1, Math.ceil((hits[0]! + RATE_WINDOW_MS - t) / 1000))
        return fail(429, `Rate limit exceeded the maximum. [${state.requestsPerMinute}] requests for [60] seconds`, {
          headers: { "retry-after": String(retryAfter) }
        })
      }
      hits.push(t)
      return Effect.void
    })

  return (handler) =>
    handle(
      Effect.gen(function*() {
        yield* takeScripted
        const auth = yield* authenticate
        yield* rateLimit(auth.token)
        return yield* handler(auth)
      })
    )
}

/** `POST /oauth/token`: Basic clientId:clientSecret, form grant_type=client_credentials. */
export const issueToken = (state: GenesysState) =>
  handle(
    Effect.gen(function*() {
      const header = (yield* request).headers["authorization"] ?? ""
      const basic = /^Basic\s+(\S+)\s*$/i.exec(header)?.[1]
      if (basic === undefined) {
        return yield* fail(401, "Basic client credentials are required.", { code: "authentication.required" })
      }
      const decoded = Buffer.from(basic, "base64").toString("utf8")
      const colon = decoded.indexOf(":")
      const [clientId, secret] = colon < 0 ? [decoded, ""] : [decoded.slice(0, colon), decoded.slice(colon + 1)]
      const client = state.options.clients.find((c) => c.clientId === clientId)
      if (client === undefined || !safeEqual(client.clientSecret, secret)) {
        return yield* fail(401, "Invalid client credentials.", { code: "bad.credentials" })
      }
      const form = new URLSearchParams(Buffer.from(yield* readBody(genesysRefusals)).toString("utf8"))
      if (form.get("grant_type") !== "client_credentials") {
        return yield* fail(400, `grant_type: must be client_credentials (got ${form.get("grant_type") ?? "none"})`, {
          details: [{ errorCode: "bad.request", fieldName: "grant_type" }]
        })
      }
      const token = randomUUID().replaceAll("-", "") + randomUUID().replaceAll("-", "")
      state.tokens.set(token, {
        clientId,
        expiresAt: Date.now() + state.tokenLifetimeSeconds * 1000,
        invalidated: false
      })
      state.grants.set(clientId, (state.grants.get(clientId) ?? 0) + 1)
      return json(200, { access_token: token, token_type: "bearer", expires_in: state.tokenLifetimeSeconds })
    })
  )

/** Invalidates every token issued so far (401 bad.credentials from now on; their channels stop delivering). */
export const expireTokens = (state: GenesysState) =>
  Effect.sync(() => {
    for (const t of state.tokens.values()) t.invalidated = true
  })

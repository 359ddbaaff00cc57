/**
 * Genesys Cloud's API as one credential set (an OAuth client of one organization) sees it
 * (PROVIDERS.md "Genesys Cloud CX": token, limits, error bodies).
 * - Tokens (client credentials) are cached until shortly before they expire, with one
 *   refresh in flight per credential set; a 401 refreshes the token once and retries.
 * - A 429 holds back that credential set only, for as long as its Retry-After asks, then
 *   retries. Each credential set has its own bounded number of calls in flight, so one
 *   tenant's burst queues behind itself and never starves another tenant's calls.
 * - Transport failures and 5xx are retried for idempotent methods only: a repeated POST of
 *   a message could reach the agent twice.
 */
import { HttpClient, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { Context, Deferred, Duration, Effect, Either, FiberId, Layer, Option, Redacted, Schema } from "effect"
import type { GenesysConfig } from "../../domain/tenant.js"
import { retryAfterOf } from "../../infra/outbound.js"
import { AppConfig } from "../../services/AppConfig.js"
import { type CallGate, callName, credentialKey, exchange, makeCallGates } from "../providerCalls.js"
import { partitionOf } from "../../services/Outbox.js"
import { ErrorBody, TokenGrant } from "./schemas.js"

export class GenesysApiError extends Schema.TaggedError<GenesysApiError>()("GenesysApiError", {
  message: Schema.String,
  status: Schema.optional(Schema.Int),
  code: Schema.optional(Schema.String)
}) {}

/** One OAuth client of one Genesys organization, as one tenant configured it: what every call is made as. */
export interface GenesysCredentials {
  /**
   * Everything that makes the credential, digested: the tenant, both hosts, the client id and
   * the secret. Tokens, call gates and notification channels are keyed by it, so a tenant that
   * copies another's client id (not a secret) with its own secret or hosts shares none of them.
   */
  readonly id: string
  /** Names the credential in logs: the tenant and the start of the key, nothing of the configuration. */
  readonly label: string
  readonly tenantId: string
  readonly loginBaseUrl: string
  readonly apiBaseUrl: string
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
}

export const credentialsOf = (tenantId: string, config: GenesysConfig): GenesysCredentials => {
  const loginBaseUrl = config.loginBaseUrl ?? `https://login.${config.region}`
  const apiBaseUrl = config.apiBaseUrl ?? `https://api.${config.region}`
  const id = credentialKey(tenantId, [loginBaseUrl, apiBaseUrl, config.clientId], [config.clientSecret])
  return {
    id,
    label: `tenant ${tenantId}, credentials ${id.slice(0, 8)}`,
    tenantId,
    loginBaseUrl,
    apiBaseUrl,
    clientId: config.clientId,
    clientSecret: config.clientSecret
  }
}

/** The partition whose owner runs the credential set's notifications channel. */
export const partitionOfCredentials = (credentials: GenesysCredentials, partitions: number) =>
  partitionOf(credentials.id, partitions)

export interface AccessToken {
  readonly value: Redacted.Redacted<string>
  /** When to stop using it (a margin before Genesys expires it). */
  readonly expiresAt: number
}

export interface GenesysApiService {
  /** Calls the API (a path under the API base) as `credentials`, and decodes a 2xx answer with `answer`. */
  readonly call: <A, I>(
    credentials: GenesysCredentials,
    request: HttpClientRequest.HttpClientRequest,
    answer: Schema.Schema<A, I>
  ) => Effect.Effect<A, GenesysApiError>
  /** A valid token of the credential set (the notifications channel lives as long as its token). */
  readonly token: (credentials: GenesysCredentials) => Effect.Effect<AccessToken, GenesysApiError>
}

export class GenesysApi extends Context.Tag("hbf-lcg/GenesysApi")<GenesysApi, GenesysApiService>() {}

export const genesysApiLimits = {
  /** Calls of one credential set in flight at once. */
  maxInFlight: 8,
  /** 429s waited out (each for its Retry-After) before a call fails. */
  rateLimitRetries: 3,
  /** Retries of an idempotent call after a transport failure or a 5xx. */
  transientRetries: 2,
  /** Retry-After when a 429 gives none. */
  defaultRetryAfter: Duration.seconds(1),
  /** A 429 asking to wait longer than this fails the call at once instead. */
  maxRetryAfter: Duration.seconds(60)
}

interface TokenState {
  token: AccessToken | undefined
  /** The grant in flight, shared by every call that needs a token meanwhile (its failure too). */
  granting: Deferred.Deferred<AccessToken, GenesysApiError> | undefined
}

const idempotent = new Set(["GET", "HEAD", "PUT", "DELETE", "PATCH"])

/** A token is used until a tenth of its life (at most a minute) before it expires. */
const usableUntil = (grantedAt: number, lifetimeSeconds: number) =>
  grantedAt + lifetimeSeconds * 1000 - Math.min(60_000, (lifetimeSeconds * 1000) / 10)

const decodeError = Schema.decodeUnknownOption(Schema.parseJson(ErrorBody))

/**
 * A refusal, named by the call, the status and Genesys' code. Genesys' own words are left out,
 * of answers and logs alike: they repeat what the call carried (the tenant's integration id,
 * say). The log line has Genesys' contextId, by which its support finds the request.
 */
const apiError = (what: string, status: number, body: string) => {
  const details = decodeError(body)
  const code = Option.flatMap(details, (d) => Option.fromNullable(d.code))
  const contextId = Option.flatMap(details, (d) => Option.fromNullable(d.contextId))
  const error = new GenesysApiError({
    message: `Genesys ${what} answered ${status}${Option.match(code, { onNone: () => "", onSome: (c) => ` ${c}` })}`,
    status,
    ...(Option.isSome(code) ? { code: code.value } : {})
  })
  return Effect.zipRight(
    Effect.logWarning("Genesys refused a call", { call: what, status, ...(Option.isSome(contextId) ? { contextId: contextId.value } : {}) }),
    Effect.fail(error)
  )
}

export const GenesysApiLive = Layer.effect(
  GenesysApi,
  Effect.gen(function* () {
    const http = yield* HttpClient.HttpClient
    const { upstream } = yield* AppConfig
    const tokens = new Map<string, TokenState>()
    const tokenStateOf = (credentials: GenesysCredentials): TokenState => {
      let state = tokens.get(credentials.id)
      if (state === undefined) {
        state = { token: undefined, granting: undefined }
        tokens.set(credentials.id, state)
      }
      return state
    }
    const gateOf = makeCallGates(genesysApiLimits.maxInFlight)

    const send = (request: HttpClientRequest.HttpClientRequest, what: string) =>
      exchange(http, "genesys-livechat", upstream.maxBodyBytes, (reason) => new GenesysApiError({ message: `Genesys ${what} ${reason}` }))(request)

    const grant = (credentials: GenesysCredentials) =>
      Effect.gen(function* () {
        const grantedAt = Date.now()
        const { body, response } = yield* send(
          HttpClientRequest.post(`${credentials.loginBaseUrl}/oauth/token`).pipe(
            HttpClientRequest.basicAuth(credentials.clientId, Redacted.value(credentials.clientSecret)),
            HttpClientRequest.bodyUrlParams({ grant_type: "client_credentials" }),
            HttpClientRequest.acceptJson
          ),
          "login"
        )
        if (response.status !== 200) return yield* apiError("login", response.status, body)
        const token = yield* Schema.decodeUnknown(Schema.parseJson(TokenGrant))(body).pipe(
          Effect.mapError(() => new GenesysApiError({ message: "Genesys login answered an unreadable token" }))
        )
        return { value: Redacted.make(token.access_token), expiresAt: usableUntil(grantedAt, token.expires_in) }
      })

    /** The cached token, or a new one: one grant in flight per credential set, its outcome shared. */
    const tokenOf = (credentials: GenesysCredentials) => {
      const state = tokenStateOf(credentials)
      return Effect.suspend(() => {
        if (state.token !== undefined && state.token.expiresAt > Date.now()) return Effect.succeed(state.token)
        if (state.granting !== undefined) return Deferred.await(state.granting)
        const granting = Deferred.unsafeMake<AccessToken, GenesysApiError>(FiberId.none)
        state.granting = granting
        return grant(credentials).pipe(
          Effect.tap((granted) => Effect.sync(() => void (state.token = granted))),
          Effect.exit,
          Effect.flatMap((exit) => Effect.zipRight(Deferred.done(granting, exit), exit)),
          // A caller interrupted mid-grant must not leave the others waiting for good.
          Effect.onInterrupt(() => Deferred.fail(granting, new GenesysApiError({ message: "Genesys login was abandoned; try again" }))),
          Effect.ensuring(Effect.sync(() => void (state.granting = undefined)))
        )
      })
    }

    /** Holds the credential set back for the 429's Retry-After; false when that is too long to wait. */
    const holdBack = (gate: CallGate, credentials: GenesysCredentials, response: HttpClientResponse.HttpClientResponse) =>
      Effect.suspend(() => {
        const wait = Option.getOrElse(retryAfterOf(response.headers), () => genesysApiLimits.defaultRetryAfter)
        if (Duration.greaterThan(wait, genesysApiLimits.maxRetryAfter)) return Effect.succeed(false)
        gate.holdBack(wait)
        return Effect.as(
          Effect.logWarning("Genesys rate limit: holding this credential set back", {
            credentials: credentials.label,
            retryAfterMs: Duration.toMillis(wait)
          }),
          true
        )
      })

    const call = <A, I>(
      credentials: GenesysCredentials,
      request: HttpClientRequest.HttpClientRequest,
      answer: Schema.Schema<A, I>
    ): Effect.Effect<A, GenesysApiError> => {
      const gate = gateOf(credentials.id)
      const tokenState = tokenStateOf(credentials)
      const what = callName(request.method, request.url)
      const retriable = idempotent.has(request.method)
      const attempt = (refreshed: boolean, limited: number, transient: number): Effect.Effect<A, GenesysApiError> =>
        Effect.gen(function* () {
          yield* gate.waitTurn
          const token = yield* tokenOf(credentials)
          const reply = yield* Effect.either(
            send(
              request.pipe(
                HttpClientRequest.prependUrl(credentials.apiBaseUrl),
                HttpClientRequest.bearerToken(Redacted.value(token.value)),
                HttpClientRequest.acceptJson
              ),
              what
            )
          )
          const transientBackoff = Effect.sleep(Duration.millis(200 * 2 ** transient))
          if (Either.isLeft(reply)) {
            if (retriable && transient < genesysApiLimits.transientRetries) {
              return yield* Effect.zipRight(transientBackoff, attempt(refreshed, limited, transient + 1))
            }
            return yield* Effect.fail(reply.left)
          }
          const { body, response } = reply.right
          if (response.status === 401 && !refreshed) {
            // Expired or revoked early: drop it (unless another call already replaced it) and try once more.
            if (tokenState.token === token) tokenState.token = undefined
            return yield* attempt(true, limited, transient)
          }
          if (response.status === 429 && limited < genesysApiLimits.rateLimitRetries && (yield* holdBack(gate, credentials, response))) {
            return yield* attempt(refreshed, limited + 1, transient)
          }
          if (response.status >= 500 && retriable && transient < genesysApiLimits.transientRetries) {
            return yield* Effect.zipRight(transientBackoff, attempt(refreshed, limited, transient + 1))
          }
          if (response.status < 200 || response.status >= 300) return yield* apiError(what, response.status, body)
          const decoded = body.length === 0 ? Schema.decodeUnknown(answer)(undefined) : Schema.decodeUnknown(Schema.parseJson(answer))(body)
          return yield* Effect.mapError(
            decoded,
            () => new GenesysApiError({ message: `Genesys ${what} answered an unexpected body`, status: response.status })
          )
        })
      return gate.withSlot(attempt(false, 0, 0))
    }

    return GenesysApi.of({ call, token: tokenOf })
  })
)

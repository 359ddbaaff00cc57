/**
 * Genesys Cloud's API as one credential set (an OAuth client of one organization) sees it
 * (docs/PROVIDERS.md#genesys-token, and #genesys-limits with the error bodies), through the
 * shared provider call (../providerHttp.ts: a gate per credential set, 429 hold-back, retries).
 * - Tokens (client credentials) are kept in an Effect Cache keyed by the credential set until
 *   shortly before they expire: concurrent callers share one login. A 401 drops the token it
 *   refused, and the call is tried once more with a new one.
 * - Transport failures and 5xx are retried for idempotent methods only: a repeated POST of
 *   a message could reach the agent twice.
 */
import { HttpClientRequest } from "@effect/platform"
import {
  Cache,
  Cause,
  Clock,
  Context,
  Duration,
  Effect,
  Equal,
  Exit,
  Hash,
  Layer,
  Option,
  Redacted,
  Schema
} from "effect"
import type { GenesysConfig } from "../../domain/tenant.js"
import { partitionOf } from "../../services/Outbox.js"
import { apiError, credentialKey, credentialLabel, type ProviderApiError } from "../providerCalls.js"
import { makeProviderHttp, type ProviderHttpPolicy } from "../providerHttp.js"
import { ErrorBody, TokenGrant } from "./schemas.js"

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
    label: credentialLabel(tenantId, id),
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
  /** When to stop using it (epoch ms on the Effect clock; a margin before Genesys expires it). */
  readonly expiresAt: number
}

export interface GenesysApiService {
  /** Calls the API (a path under the API base) as `credentials`, and decodes a 2xx answer with `answer`. */
  readonly call: <A, I>(
    credentials: GenesysCredentials,
    request: HttpClientRequest.HttpClientRequest,
    answer: Schema.Schema<A, I>
  ) => Effect.Effect<A, ProviderApiError>
  /** A valid token of the credential set (the notifications channel lives as long as its token). */
  readonly token: (credentials: GenesysCredentials) => Effect.Effect<AccessToken, ProviderApiError>
}

export class GenesysApi extends Context.Tag("hbf-lcg/GenesysApi")<GenesysApi, GenesysApiService>() {}

const decodeError = Schema.decodeUnknownOption(Schema.parseJson(ErrorBody))

const genesysPolicy: ProviderHttpPolicy = {
  provider: "genesys-livechat",
  maxInFlight: 8,
  rateLimitRetries: 3,
  // Retry-After when a 429 gives none.
  rateLimitWait: () => Effect.succeed(Duration.seconds(1)),
  maxRetryAfter: Duration.seconds(60),
  transientRetries: 2,
  // Genesys' own words are left out: they repeat what the call carried (the tenant's integration id, say). Its contextId is how its support finds the request.
  refusalOf: (body) => {
    const details = decodeError(body)
    const contextId = Option.flatMap(details, (d) => Option.fromNullable(d.contextId))
    return {
      code: Option.flatMap(details, (d) => Option.fromNullable(d.code)),
      ...(Option.isSome(contextId) ? { logged: { contextId: contextId.value } } : {})
    }
  }
}

const idempotent = new Set(["GET", "HEAD", "PUT", "DELETE", "PATCH"])

/** Credential sets whose tokens are kept at once; one pushed out logs in again on its next call. */
const TOKEN_CACHE_CAPACITY = 10_000

/** A token is used until a tenth of its life (at most a minute) before it expires. */
const usableUntil = (grantedAt: number, lifetimeSeconds: number) =>
  grantedAt + lifetimeSeconds * 1000 - Math.min(60_000, (lifetimeSeconds * 1000) / 10)

const decodeGrant = Schema.decodeUnknown(Schema.parseJson(TokenGrant))

/** A credential set as the token cache's key: equal by its id (credentialKey) alone, so look-alike tenants never share a token. */
class TokenKey implements Equal.Equal {
  constructor(readonly credentials: GenesysCredentials) {}
  [Equal.symbol](that: Equal.Equal): boolean {
    return that instanceof TokenKey && that.credentials.id === this.credentials.id
  }
  [Hash.symbol](): number {
    return Hash.string(this.credentials.id)
  }
}

export const GenesysApiLive = Layer.effect(
  GenesysApi,
  Effect.gen(function*() {
    const http = yield* makeProviderHttp(genesysPolicy)
    const clock = yield* Effect.clock

    const grant = ({ credentials }: TokenKey) =>
      Effect.gen(function*() {
        const grantedAt = yield* Clock.currentTimeMillis
        const { body, response } = yield* http.exchange(
          HttpClientRequest.post(`${credentials.loginBaseUrl}/oauth/token`).pipe(
            HttpClientRequest.basicAuth(credentials.clientId, credentials.clientSecret),
            HttpClientRequest.bodyUrlParams({ grant_type: "client_credentials" }),
            HttpClientRequest.acceptJson
          ),
          "login",
          credentials.id
        )
        if (response.status !== 200) return yield* http.refused("login", response.status, body)
        const token = yield* Effect.mapError(decodeGrant(body), () =>
          apiError("genesys-livechat", "login", "answered an unreadable token"))
        return { value: Redacted.make(token.access_token), expiresAt: usableUntil(grantedAt, token.expires_in) }
      })

    const tokens = yield* Cache.makeWith({
      capacity: TOKEN_CACHE_CAPACITY,
      lookup: grant,
      // Kept until it is no longer usable; a failed login is not kept beyond the callers it was shared with.
      timeToLive: (exit: Exit.Exit<AccessToken, ProviderApiError>) =>
        Exit.isSuccess(exit) ? Duration.millis(exit.value.expiresAt - clock.unsafeCurrentTimeMillis()) : Duration.zero
    })

    /** The kept token, or a new one: one login in flight per credential set, its outcome shared. */
    const tokenOf = (credentials: GenesysCredentials) =>
      tokens.get(new TokenKey(credentials)).pipe(
        // A failed login is not kept: the Cache would serve it until its clock moves on (it expires after, not at, its zero TTL).
        Effect.tapError(() => tokens.invalidate(new TokenKey(credentials))),
        // Another caller's login, interrupted with that caller: its waiters fail (typed) rather than wait for good.
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.fail(apiError("genesys-livechat", "login", "was abandoned; try again"))
            : Effect.failCause(cause)
        )
      )

    const call = <A, I>(
      credentials: GenesysCredentials,
      request: HttpClientRequest.HttpClientRequest,
      answer: Schema.Schema<A, I>
    ) =>
      http.call({
        credentials: credentials.id,
        label: credentials.label,
        baseUrl: credentials.apiBaseUrl,
        request,
        answer,
        repeatable: idempotent.has(request.method),
        bearer: {
          current: Effect.map(tokenOf(credentials), (token) => token.value),
          refused: (token) => tokens.invalidateWhen(new TokenKey(credentials), (kept) => kept.value === token)
        }
      })

    return GenesysApi.of({ call, token: tokenOf })
  })
)

/**
 * One resilient call to a provider's API (Genesys, Sunshine), on the platform HttpClient of the
 * providers' Agent (OutboundHttpLive: undici's timeouts, the answer size limit, egress
 * confinement), made as one credential set (docs/PROVIDERS.md#genesys-token, #genesys-limits,
 * #sunshine-limits):
 * - a gate bounds the credential set's calls in flight, so one tenant's burst queues behind
 *   itself and never starves another tenant's calls;
 * - a 429 holds the credential set back, all its calls, for its Retry-After (or the provider's
 *   own wait when it gives none), then the call is tried again; a 429 asking to wait longer
 *   than `maxRetryAfter` fails the call at once;
 * - a 401 of a bearer token drops that token, and the call is tried once more with a new one;
 * - transport failures and 5xx are retried only where a repeat is harmless (`repeatable`): a
 *   repeated message POST could reach the agent twice;
 * - every exchange is counted in the provider call metrics, recorded in its credential's
 *   health (ProviderCallHealth: each attempt, a login's too) and, in a session's timeline scope,
 *   in that session's timeline (`provider.call`, named by its template); a failure is a ProviderApiError.
 * The retries are one Schedule fed each failed attempt, waiting on the Effect Clock.
 */
import { HttpClient, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { Chunk, Clock, Duration, Effect, Either, Option, type Redacted, Schedule, Schema } from "effect"
import { recordProviderCall } from "../infra/metrics.js"
import { retryAfterOf, retryingAfter } from "../infra/outbound.js"
import { AppConfig } from "../services/AppConfig.js"
import { ProviderCallHealth } from "../services/ProviderCallHealth.js"
import { recordCallInScope } from "../services/Timeline.js"
import {
  apiError,
  type ApiProvider,
  callName,
  noAnswer,
  type ProviderApiError,
  type Refusal,
  refused
} from "./providerCalls.js"

/** How one provider's API is called. */
export interface ProviderHttpPolicy {
  readonly provider: ApiProvider
  /** Calls of one credential set in flight at once. */
  readonly maxInFlight: number
  /** 429s waited out before a call fails. */
  readonly rateLimitRetries: number
  /** The wait after a call's `n`th 429 (counted from 0) that gave no Retry-After. */
  readonly rateLimitWait: (n: number) => Effect.Effect<Duration.Duration>
  /** A 429 asking to wait longer than this fails the call at once instead. */
  readonly maxRetryAfter: Duration.Duration
  /** Retries of a repeatable call after a transport failure or a 5xx (after 200 ms, doubling). */
  readonly transientRetries: number
  /** The provider's code in a refusal's body, and what else its log line may name the request by. */
  readonly refusalOf: (body: string) => Refusal
}

/** A bearer token that the provider may refuse (401) before it expires. */
export interface BearerToken {
  /** The token to send: the one kept, or a new one. */
  readonly current: Effect.Effect<Redacted.Redacted<string>, ProviderApiError>
  /** Drops `token`, which the provider refused, unless another call has replaced it already. */
  readonly refused: (token: Redacted.Redacted<string>) => Effect.Effect<void>
}

export interface ProviderCall<A, I> {
  /** The credential set's key (credentialKey): the gate the call goes through. */
  readonly credentials: string
  /** Names the credential set in logs (credentialLabel). */
  readonly label: string
  readonly baseUrl: string
  /** The call, its URL below `baseUrl`: answers and logs name it by its template (callName). */
  readonly request: HttpClientRequest.HttpClientRequest
  /** Decodes a 2xx answer's body (an empty body is `undefined`). */
  readonly answer: Schema.Schema<A, I>
  /** Whether a repeat is harmless: only such a call is tried again after a transport failure or a 5xx. */
  readonly repeatable: boolean
  /** A bearer token to send; other credentials (Basic auth) are in `request`. */
  readonly bearer?: BearerToken
}

export interface Exchanged {
  readonly response: HttpClientResponse.HttpClientResponse
  readonly body: string
}

export interface ProviderHttp {
  readonly call: <A, I>(call: ProviderCall<A, I>) => Effect.Effect<A, ProviderApiError>
  /**
   * One exchange made as `credentials`, outside any gate and never retried (a login): any
   * answer, its body read; only no answer fails.
   */
  readonly exchange: (
    request: HttpClientRequest.HttpClientRequest,
    what: string,
    credentials: string
  ) => Effect.Effect<Exchanged, ProviderApiError>
  /** The refusal of `what` (a status and the body that came with it), logged as it is told. */
  readonly refused: (what: string, status: number, body: string) => Effect.Effect<never, ProviderApiError>
}

// ---- call gates ----

interface CallGate {
  /** Runs `call` in one of the gate's slots. */
  readonly withSlot: <A, E, R>(call: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Waits while the gate is held back. */
  readonly waitTurn: Effect.Effect<void>
  /** Holds the gate back for `wait` from now. */
  readonly holdBack: (wait: Duration.Duration) => Effect.Effect<void>
}

/** The gate of each credential set, made on first use. */
const makeCallGates = (maxInFlight: number) => {
  const gates = new Map<string, CallGate>()
  return (key: string): CallGate => {
    const existing = gates.get(key)
    if (existing !== undefined) return existing
    const slots = Effect.unsafeMakeSemaphore(maxInFlight)
    /** No call before this time (epoch ms on the Effect clock). */
    let blockedUntil = 0
    const gate: CallGate = {
      withSlot: (call) => slots.withPermits(1)(call),
      waitTurn: Effect.flatMap(
        Clock.currentTimeMillis,
        (now) => (blockedUntil > now ? Effect.sleep(Duration.millis(blockedUntil - now)) : Effect.void)
      ),
      holdBack: (wait) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          blockedUntil = Math.max(blockedUntil, now + Duration.toMillis(wait))
        })
    }
    gates.set(key, gate)
    return gate
  }
}

// ---- retries ----

/** What a failed attempt may earn: another one with a new token, after a 429's wait, or after a transient failure's backoff. */
type Retry = "token" | "rate-limit" | "transient"

/** A failed attempt: what it may earn, and the call's failure if it earns nothing more. */
interface Failed {
  readonly retry: Retry | undefined
  /** A 429's Retry-After. */
  readonly retryAfter: Option.Option<Duration.Duration>
  /** The call's failure, told (a refusal is logged) only if it is the last. */
  readonly failure: Effect.Effect<never, ProviderApiError>
}

const failed = (
  retry: Retry | undefined,
  failure: Effect.Effect<never, ProviderApiError>,
  retryAfter = Option.none<Duration.Duration>()
): Failed => ({
  retry,
  retryAfter,
  failure
})

const transientBackoff = Duration.millis(200)

/**
 * The retries of one call, fed its failed attempts: each kind of retry is counted against its
 * own budget over the whole call (one new token, `rateLimitRetries` 429s, `transientRetries`
 * transient failures), and waits its own way; a 429's wait holds the whole gate back.
 */
const retries = (policy: ProviderHttpPolicy, gate: CallGate, label: string) => {
  const budget: Record<Retry, number> = {
    token: 1,
    "rate-limit": policy.rateLimitRetries,
    transient: policy.transientRetries
  }
  const waitBefore = (failure: Failed, n: number): Effect.Effect<Duration.Duration> => {
    switch (failure.retry) {
      case "rate-limit":
        return Effect.gen(function*() {
          const wait = Option.isSome(failure.retryAfter) ? failure.retryAfter.value : yield* policy.rateLimitWait(n)
          yield* gate.holdBack(wait)
          yield* Effect.logWarning("provider rate limit: holding these credentials back", {
            provider: policy.provider,
            credentials: label,
            waitMs: Duration.toMillis(wait)
          })
          return wait
        })
      case "transient":
        return Effect.succeed(Duration.times(transientBackoff, 2 ** n))
      default:
        return Effect.succeed(Duration.zero)
    }
  }
  return Schedule.identity<Failed>().pipe(
    Schedule.intersect(Schedule.collectAllInputs<Failed>()),
    // This failure, and how many of the call's earlier ones earned the same retry.
    Schedule.map(([failure, earlier]) => ({
      failure,
      n: Chunk.size(Chunk.filter(earlier, (e) => e.retry === failure.retry))
    })),
    Schedule.whileOutput(({ failure, n }) => failure.retry !== undefined && n < budget[failure.retry]),
    Schedule.modifyDelayEffect(({ failure, n }) => waitBefore(failure, n))
  )
}

// ---- the call ----

export const makeProviderHttp = (policy: ProviderHttpPolicy) =>
  Effect.gen(function*() {
    const http = yield* HttpClient.HttpClient
    const { upstream } = yield* AppConfig
    const health = yield* ProviderCallHealth
    const { provider } = policy
    const gateOf = makeCallGates(policy.maxInFlight)

    /** One exchange, the `attempt`th of its call. */
    const exchangeAttempt = (
      request: HttpClientRequest.HttpClientRequest,
      what: string,
      credentials: string,
      attempt: number
    ): Effect.Effect<Exchanged, ProviderApiError> =>
      http.execute(request).pipe(
        Effect.flatMap((response) => Effect.map(response.text, (body) => ({ response, body }))),
        Effect.scoped,
        Effect.either,
        Effect.timed,
        Effect.flatMap(([elapsed, result]) => {
          // Recorded in the step that counts the exchange: no fiber op of its own (perf: docs/ARCHITECTURE.md#perf-fiber-ops).
          const status = Either.isRight(result) ? result.right.response.status : undefined
          health.record(credentials, status)
          const recorded = Effect.zipRight(
            recordProviderCall(provider, status, elapsed),
            recordCallInScope(what, attempt, Duration.toMillis(elapsed), status)
          )
          return Either.isRight(result)
            ? Effect.as(recorded, result.right)
            : Effect.zipRight(
              recorded,
              Effect.flatMap(
                noAnswer(
                  provider,
                  what,
                  request.method,
                  request.url,
                  result.left.cause ?? result.left,
                  upstream.maxBodyBytes
                ),
                Effect.fail
              )
            )
        })
      )

    const exchange: ProviderHttp["exchange"] = (request, what, credentials) =>
      exchangeAttempt(request, what, credentials, 1)

    const refusedCall = (what: string, status: number, body: string) =>
      refused(provider, what, status, policy.refusalOf(body))

    const call = <A, I>(
      { answer, baseUrl, bearer, credentials, label, repeatable, request }: ProviderCall<A, I>
    ): Effect.Effect<A, ProviderApiError> => {
      const gate = gateOf(credentials)
      const what = callName(request.method, request.url)
      const prepared = request.pipe(HttpClientRequest.prependUrl(baseUrl), HttpClientRequest.acceptJson)
      const transient = repeatable ? "transient" : undefined
      const decode = (body: string) =>
        body.length === 0
          ? Schema.decodeUnknown(answer)(undefined)
          : Schema.decodeUnknown(Schema.parseJson(answer))(body)
      // One new token per run of the call: a 401 after it keeps the new token (the refusal is not its age).
      let tokenRenewed = false
      /** The run's attempts so far (their number in the session's timeline). */
      let attempts = 0
      const attempt: Effect.Effect<A, Failed> = Effect.gen(function*() {
        yield* gate.waitTurn
        const token = bearer === undefined
          ? undefined
          : yield* Effect.mapError(bearer.current, (error) => failed(undefined, Effect.fail(error)))
        const exchanged = yield* Effect.either(
          exchangeAttempt(
            token === undefined ? prepared : HttpClientRequest.bearerToken(prepared, token),
            what,
            credentials,
            ++attempts
          )
        )
        if (Either.isLeft(exchanged)) return yield* Effect.fail(failed(transient, Effect.fail(exchanged.left)))
        const { body, response } = exchanged.right
        const { status } = response
        if (status >= 200 && status < 300) {
          return yield* Effect.mapError(
            decode(body),
            () => failed(undefined, Effect.fail(apiError(provider, what, "answered an unexpected body", status)))
          )
        }
        const refusal = refusedCall(what, status, body)
        if (status === 401 && bearer !== undefined && token !== undefined && !tokenRenewed) {
          // Expired or revoked early: dropped, and the call tried once more with a new one.
          tokenRenewed = true
          yield* bearer.refused(token)
          return yield* Effect.fail(failed("token", refusal))
        }
        if (status === 429) {
          const retryAfter = retryAfterOf(response.headers, yield* Clock.currentTimeMillis)
          const waitable = Option.match(retryAfter, {
            onNone: () => true,
            onSome: (wait) => Duration.lessThanOrEqualTo(wait, policy.maxRetryAfter)
          })
          return yield* Effect.fail(failed(waitable ? "rate-limit" : undefined, refusal, retryAfter))
        }
        return yield* Effect.fail(failed(status >= 500 ? transient : undefined, refusal))
      })
      // The retries are set up only once the first attempt has failed (retryingAfter): most calls never need them.
      return gate.withSlot(
        Effect.suspend(() => {
          tokenRenewed = false
          attempts = 0
          return Effect.catchAll(attempt, (first) => retryingAfter(first, attempt, retries(policy, gate, label)))
        }).pipe(Effect.catchAll((last) => last.failure))
      )
    }

    return { call, exchange, refused: refusedCall } satisfies ProviderHttp
  })

/**
 * Outbound HTTP shared by every client: per-attempt timeout, and retries of transient
 * failures (connection errors, timeouts, 408, 429, 5xx) on an exponential, jittered
 * Schedule that waits at least as long as a Retry-After header asks.
 */
import { HttpClient, type HttpClientError, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { Cause, Duration, Effect, Option, Redacted, Schedule } from "effect"

export type OutboundError = HttpClientError.HttpClientError | Cause.TimeoutException

/** Retry-After in seconds or as an HTTP date. */
export const retryAfterOf = (response: HttpClientResponse.HttpClientResponse): Option.Option<Duration.Duration> => {
  const header = response.headers["retry-after"]
  if (header === undefined) return Option.none()
  const seconds = Number(header)
  if (Number.isFinite(seconds) && seconds >= 0) return Option.some(Duration.seconds(seconds))
  const at = Date.parse(header)
  return Number.isNaN(at) ? Option.none() : Option.some(Duration.millis(Math.max(0, at - Date.now())))
}

const retryAfterOfError = (error: OutboundError) =>
  error._tag === "ResponseError" ? retryAfterOf(error.response) : Option.none<Duration.Duration>()

export interface RetryPolicy {
  readonly retries: number
  readonly baseDelay: Duration.DurationInput
  readonly maxDelay: Duration.DurationInput
}

export const defaultRetryPolicy: RetryPolicy = { retries: 3, baseDelay: "100 millis", maxDelay: "5 seconds" }

/** Exponential + jitter, capped, and never shorter than Retry-After. */
export const backoff = <E>(policy: RetryPolicy, retryAfter: (error: E) => Option.Option<Duration.Duration>) =>
  Schedule.identity<E>().pipe(
    Schedule.intersect(Schedule.exponential(policy.baseDelay, 2).pipe(Schedule.jittered)),
    Schedule.intersect(Schedule.recurs(policy.retries)),
    Schedule.modifyDelay(([[error]], delay) => {
      const capped = Duration.min(delay, Duration.decode(policy.maxDelay))
      return Option.match(retryAfter(error), { onNone: () => capped, onSome: (wait) => Duration.max(capped, wait) })
    })
  )

export interface OutboundOptions {
  readonly baseUrl: string
  readonly bearer?: Redacted.Redacted<string>
  readonly timeout: Duration.DurationInput
  /** Absent = one attempt (the caller retries, e.g. the delivery worker). */
  readonly retry?: RetryPolicy
}

/** A client for one upstream: base URL, auth, non-2xx as `ResponseError`, timeout, retries. */
export const outboundClient = (options: OutboundOptions) =>
  Effect.map(HttpClient.HttpClient, (client) => {
    const base = client.pipe(
      HttpClient.mapRequest((request) => {
        const withBase = request.pipe(HttpClientRequest.prependUrl(options.baseUrl), HttpClientRequest.acceptJson)
        return options.bearer === undefined
          ? withBase
          : HttpClientRequest.bearerToken(withBase, Redacted.value(options.bearer))
      }),
      HttpClient.filterStatusOk,
      HttpClient.transformResponse(Effect.timeout(options.timeout))
    )
    return options.retry === undefined
      ? base
      : HttpClient.retryTransient(base, { mode: "errors-only", schedule: backoff(options.retry, retryAfterOfError) })
  })

/** A one-line description of an outbound failure, safe to log (no headers, no bodies). */
export const describeOutbound = (error: OutboundError): string => {
  if (Cause.isTimeoutException(error)) return "timed out"
  if (error._tag === "ResponseError") return `answered ${error.response.status}`
  return `${error.reason.toLowerCase()} error: ${String((error.cause as Error | undefined)?.message ?? error.message)}`
}

export const statusOf = (error: OutboundError): number | undefined =>
  !Cause.isTimeoutException(error) && error._tag === "ResponseError" ? error.response.status : undefined

export const isResponseStatus = (error: OutboundError, status: number) => statusOf(error) === status


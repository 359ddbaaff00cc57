/**
 * Outbound HTTP shared by every client: per-attempt timeout, and retries of transient
 * failures (connection errors, timeouts, 408, 429, 5xx) on an exponential, jittered
 * Schedule that waits at least as long as a Retry-After header asks.
 */
import { HttpClient, type HttpClientError, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Duration, Effect, Layer, Option, Redacted, Schedule } from "effect"
import { Agent } from "undici"
import { AppConfig } from "../services/AppConfig.js"

export type OutboundError = HttpClientError.HttpClientError

/**
 * The HttpClient every client uses: undici, with HTTP_TIMEOUT as undici's own connect,
 * headers and body timeouts. An `Effect.timeout` per call forks a timer fiber, which cost
 * more than the rest of a call's client-side work (~80 µs a call, measured). Client spans
 * (and trace headers) only when traces are exported: nobody would read them otherwise.
 */
export const OutboundHttpLive = Layer.unwrapEffect(
  Effect.map(AppConfig, ({ httpTimeout, otlpEndpoint }) => {
    const ms = Duration.toMillis(httpTimeout)
    const dispatcher = Layer.scoped(
      NodeHttpClient.Dispatcher,
      Effect.map(
        Effect.acquireRelease(
          Effect.sync(() => new Agent({ connect: { timeout: ms } })),
          (agent) => Effect.promise(() => agent.destroy())
        ),
        // The platform's client asks undici for no timeouts (it leaves them to Effect.timeout): this interceptor sets ours.
        (agent) => agent.compose((dispatch) => (options, handler) => dispatch({ ...options, headersTimeout: ms, bodyTimeout: ms }, handler))
      )
    )
    const client = NodeHttpClient.layerUndiciWithoutDispatcher.pipe(Layer.provide(dispatcher))
    return otlpEndpoint !== undefined
      ? client
      : Layer.effect(
          HttpClient.HttpClient,
          Effect.map(HttpClient.HttpClient, (http) => HttpClient.withTracerDisabledWhen(http, () => true))
        ).pipe(Layer.provide(client))
  })
)

const undiciTimeouts = new Set(["UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"])

/** Whether the call failed because the other side did not answer within HTTP_TIMEOUT. */
export const isTimeout = (error: OutboundError) =>
  error._tag === "RequestError" && undiciTimeouts.has(String((error.cause as { code?: unknown } | undefined)?.code))

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
  /** Absent = one attempt (the caller retries, e.g. the delivery worker). */
  readonly retry?: RetryPolicy
}

/** A client for one upstream: base URL, auth, non-2xx as `ResponseError`, retries (the timeout is OutboundHttpLive's). */
export const outboundClient = (options: OutboundOptions) =>
  Effect.map(HttpClient.HttpClient, (client) => {
    const headers = {
      accept: "application/json",
      ...(options.bearer !== undefined ? { authorization: `Bearer ${Redacted.value(options.bearer)}` } : {})
    }
    const base = client.pipe(
      HttpClient.mapRequest((request) => request.pipe(HttpClientRequest.prependUrl(options.baseUrl), HttpClientRequest.setHeaders(headers))),
      HttpClient.filterStatusOk,
      // A refusal's body is read too, for the reason given in `sent`.
      HttpClient.transformResponse(Effect.tapError((error) => (error._tag === "ResponseError" ? Effect.ignore(error.response.arrayBuffer) : Effect.void)))
    )
    return options.retry === undefined
      ? base
      : HttpClient.retryTransient(base, { mode: "errors-only", schedule: backoff(options.retry, retryAfterOfError) })
  })

/**
 * Sends `request` for its status alone, reading the answer's body to its end. An unread body
 * keeps its connection busy until the response object is garbage-collected, when the
 * platform client aborts it: thousands of aborts at once after a major GC stalled the event
 * loop for 100-400 ms (and every call opened a fresh connection meanwhile).
 */
export const sent = <E>(client: HttpClient.HttpClient.With<E>, request: HttpClientRequest.HttpClientRequest) =>
  client.execute(request).pipe(Effect.flatMap((response) => Effect.ignore(response.arrayBuffer)), Effect.scoped)

/** A one-line description of an outbound failure, safe to log (no headers, no bodies). */
export const describeOutbound = (error: OutboundError): string => {
  if (isTimeout(error)) return "timed out"
  if (error._tag === "ResponseError") return `answered ${error.response.status}`
  return `${error.reason.toLowerCase()} error: ${String((error.cause as Error | undefined)?.message ?? error.message)}`
}

export const statusOf = (error: OutboundError): number | undefined =>
  error._tag === "ResponseError" ? error.response.status : undefined

export const isResponseStatus = (error: OutboundError, status: number) => statusOf(error) === status


/**
 * Outbound HTTP, on two undici Agents, with HTTP timeout as undici's own connect, headers and
 * body timeouts:
 * - the providers' Agent, under the `HttpClient` the provider clients (Genesys, Sunshine) build
 *   on: their URLs are tenant configuration, so its connections are confined by
 *   ProviderEgressGuard;
 * - the hbf-* services' Agent (operator configuration, usually on a private network: not
 *   confined), under `outboundClient`, the clients of hbf-core, hbf-lcm, hbf-bot and
 *   event-publisher: undici requests straight from an Effect, with retries of transient
 *   failures (connection errors, timeouts, 408, 429, 5xx) on an exponential, jittered
 *   Schedule that waits at least as long as a Retry-After header asks (up to a cap), all
 *   within the call's deadline (LCG_UPSTREAM_DEADLINE_MS). They carry every
 *   forwarded message and delivered event, and the platform client's request, response and
 *   abort bookkeeping cost ~120 µs a call there (measured with npm run bench), about a sixth
 *   of an event's handling (perf: docs/ARCHITECTURE.md#perf-undici-hbf).
 * Both Agents read at most LCG_UPSTREAM_MAX_BODY_BYTES of an answer: undici cuts a longer one
 * as it arrives (a server that streams forever is cut there too) and fails its read.
 */
import { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Data, Duration, Effect, Layer, Option, Redacted, Schedule } from "effect"
import { EventEmitter } from "node:events"
import type { IncomingHttpHeaders } from "node:http"
import { Agent, type Dispatcher } from "undici"
import { AppConfig } from "../services/AppConfig.js"
import { ProviderEgressGuard } from "../services/ProviderEgressGuard.js"
import { traced } from "./Tracing.js"

/**
 * The hbf-* services' Agent (`NodeHttpClient.Dispatcher`), and the platform `HttpClient` on the
 * providers' Agent. An `Effect.timeout` per call forks a timer fiber, which cost more than the
 * rest of a call's client-side work (~80 µs, measured), so the timeouts are undici's:
 * `outboundClient` sets them on each request, and the platform client (which asks undici for
 * none, leaving them to Effect.timeout) gets them from an interceptor
 * (perf: docs/ARCHITECTURE.md#perf-undici-timeouts). Client spans (and trace headers) only when
 * traces are exported (perf: docs/ARCHITECTURE.md#perf-tracing-off).
 */
export const OutboundHttpLive = Layer.unwrapEffect(
  Effect.map(Effect.all([AppConfig, ProviderEgressGuard]), ([{ httpTimeout, otlpEndpoint, upstream }, guard]) => {
    const ms = Duration.toMillis(httpTimeout)
    const maxResponseSize = upstream.maxBodyBytes
    const scopedAgent = (options: Agent.Options) =>
      Effect.acquireRelease(
        Effect.sync(() => new Agent(options)),
        (agent) => Effect.promise(() => agent.destroy())
      )
    const dispatcher = Layer.scoped(
      NodeHttpClient.Dispatcher,
      scopedAgent({ connect: { timeout: ms }, maxResponseSize })
    )
    const client = Layer.scoped(
      HttpClient.HttpClient,
      Effect.map(scopedAgent({ connect: guard.connector({ timeout: ms }), maxResponseSize }), (providers) => {
        const http = NodeHttpClient.makeUndici(
          providers.compose((dispatch) => (options, handler) =>
            dispatch({ ...options, headersTimeout: ms, bodyTimeout: ms }, handler)
          )
        )
        return otlpEndpoint !== undefined ? http : HttpClient.withTracerDisabledWhen(http, () => true)
      })
    )
    return Layer.merge(client, dispatcher)
  })
)

const undiciTimeouts = new Set(["UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"])

/**
 * Why a request got no usable answer, as every outbound client (providers and hbf-* alike)
 * tells it: undici's HTTP timeout, an answer cut at the Agent's `maxResponseSize`
 * (LCG_UPSTREAM_MAX_BODY_BYTES), or no exchange at all (refused, reset, confined).
 */
export type NoAnswerReason = "timeout" | "too-large" | "transport"

export const noAnswerReason = (cause: unknown): NoAnswerReason => {
  const code = String((cause as { code?: unknown } | undefined)?.code)
  return undiciTimeouts.has(code) ? "timeout" : code === "UND_ERR_RES_EXCEEDED_MAX_SIZE" ? "too-large" : "transport"
}

/**
 * The words for `reason` that answers may carry: never the cause's text, which names the
 * host, address and port (a tenant's URL would make the gateway's answers a port scanner).
 */
export const noAnswerWords = (reason: NoAnswerReason, maxBodyBytes: number) =>
  reason === "timeout"
    ? "timed out"
    : reason === "too-large"
    ? `answered more than ${maxBodyBytes} bytes`
    : "is unreachable"

/** Retry-After in seconds or as an HTTP date (counted from `now`, epoch ms on the Effect clock). */
export const retryAfterOf = (
  headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>,
  now: number
): Option.Option<Duration.Duration> => {
  const value = headers["retry-after"]
  const header = Array.isArray(value) ? value[0] : (value as string | undefined)
  if (header === undefined) return Option.none()
  const seconds = Number(header)
  if (Number.isFinite(seconds) && seconds >= 0) return Option.some(Duration.seconds(seconds))
  const at = Date.parse(header)
  return Number.isNaN(at) ? Option.none() : Option.some(Duration.millis(Math.max(0, at - now)))
}

export interface RetryPolicy {
  readonly retries: number
  readonly baseDelay: Duration.DurationInput
  readonly maxDelay: Duration.DurationInput
}

export const defaultRetryPolicy: RetryPolicy = { retries: 3, baseDelay: "100 millis", maxDelay: "5 seconds" }

/**
 * Exponential + jitter, capped, and never shorter than Retry-After, which is honoured up to
 * `maxRetryAfter`: a service asking for an hour is asked again after that cap.
 */
export const backoff = <E>(
  policy: RetryPolicy,
  retryAfter: (error: E) => Option.Option<Duration.Duration>,
  maxRetryAfter: Duration.DurationInput
) =>
  Schedule.identity<E>().pipe(
    Schedule.intersect(Schedule.exponential(policy.baseDelay, 2).pipe(Schedule.jittered)),
    Schedule.intersect(Schedule.recurs(policy.retries)),
    Schedule.modifyDelay(([[error]], delay) => {
      const capped = Duration.min(delay, Duration.decode(policy.maxDelay))
      return Option.match(retryAfter(error), {
        onNone: () => capped,
        onSome: (wait) => Duration.max(capped, Duration.min(wait, maxRetryAfter))
      })
    })
  )

/**
 * `effect` again on `schedule` after it failed with `first` (the schedule's first input).
 * Nothing of the retry is built until the first attempt has failed: set up for every call, it
 * cost more than the rest of a delivery's bookkeeping, and most calls never need it
 * (perf: docs/ARCHITECTURE.md#perf-retry-after-failure).
 */
export const retryingAfter = <A, E, R>(
  first: E,
  effect: Effect.Effect<A, E, R>,
  schedule: Schedule.Schedule<unknown, E>
) => {
  let replayed = false
  return Effect.retry(
    Effect.suspend(() => {
      if (replayed) return effect
      replayed = true
      return Effect.fail(first)
    }),
    schedule
  )
}

/**
 * `effect`, and after it fails, retried on `schedule` (retryingAfter)
 * (perf: docs/ARCHITECTURE.md#perf-retry-after-failure).
 */
export const retryAfterFailure = <A, E, R>(effect: Effect.Effect<A, E, R>, schedule: Schedule.Schedule<unknown, E>) =>
  Effect.catchAll(effect, (first) => retryingAfter(first, effect, schedule))

/**
 * No 2xx from an hbf-* service: its status (with Retry-After), a timeout (undici's, or the
 * call's deadline), no connection, or an answer longer than the gateway reads.
 */
export class OutboundError extends Data.TaggedError("OutboundError")<{
  readonly reason: "status" | NoAnswerReason
  readonly status?: number
  readonly retryAfter: Option.Option<Duration.Duration>
  /** What went wrong, safe to log (no headers, no bodies). */
  readonly detail: string
}> {}

const transientStatuses = new Set([408, 429, 500, 502, 503, 504])

const isTransient = (error: OutboundError) =>
  error.reason === "status" ? transientStatuses.has(error.status ?? 0) : error.reason !== "too-large"

export interface OutboundAnswer {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

export interface OutboundRequest {
  readonly method: Dispatcher.HttpMethod
  /** Below the client's base URL. */
  readonly path: string
  readonly json?: unknown
  /** A body already serialized (JSON), e.g. because a signature covers these exact bytes. */
  readonly text?: string
  readonly headers?: Readonly<Record<string, string>>
  /** The call by its template, no ids (as logs and a session's timeline name it), for `onAttempt`. */
  readonly name?: string
  /** The session the call is made for, for `onAttempt` (whose timeline records it). */
  readonly sessionId?: string
}

export interface OutboundOptions {
  readonly baseUrl: string
  readonly bearer?: Redacted.Redacted<string>
  /** Absent = one attempt (the caller retries, e.g. the delivery worker). */
  readonly retry?: RetryPolicy
  /**
   * Told of each attempt's outcome as it comes, synchronously: its status, or undefined when no
   * answer came (an attempt the caller interrupted tells nothing). hbf-lcm's health is kept so.
   */
  readonly onAnswer?: (status: number | undefined) => void
  /**
   * Told of each attempt that ended (not one the caller interrupted), synchronously, as
   * `onAnswer` is: what a session's timeline records of it (hbf-lcm's calls).
   */
  readonly onAttempt?: (request: OutboundRequest, attempt: OutboundAttempt) => void
}

/** One attempt of a call: its number in the call, its status (none: no answer) and how long it took. */
export interface OutboundAttempt {
  readonly attempt: number
  readonly status: number | undefined
  readonly latencyMs: number
}

export interface OutboundClient {
  /** The 2xx answer, its body read to the end (an unread body would keep its connection busy). */
  readonly send: (request: OutboundRequest) => Effect.Effect<OutboundAnswer, OutboundError>
  /**
   * `send` for a caller that needs only whether it succeeded, its failure as the caller's own
   * error (an Effect, so that the caller can log it too): one match, where asVoid plus mapError
   * cost five fiber ops on every delivery and forwarded message. The answer's body is discarded
   * as it arrives (undici's dump: a long one closes the connection instead), so its size never
   * fails a call the status says succeeded (perf: docs/ARCHITECTURE.md#perf-undici-hbf).
   */
  readonly call: <E>(
    request: OutboundRequest,
    failure: (error: OutboundError) => Effect.Effect<never, E>
  ) => Effect.Effect<void, E>
}

/** No answer: its reason, and as detail the shared words, but for a transport error its cause (the callers log it, and answer "is unreachable"). */
const transportError = (cause: unknown, maxBodyBytes: number) => {
  const reason = noAnswerReason(cause)
  return new OutboundError({
    reason,
    retryAfter: Option.none(),
    detail: reason === "transport"
      ? `transport error: ${cause instanceof Error ? cause.message : String(cause)}`
      : noAnswerWords(reason, maxBodyBytes)
  })
}

/**
 * A client for one hbf-* service: base URL, bearer token, non-2xx as `OutboundError`, retries.
 * Each attempt is one undici request inside `Effect.async`: interrupting it aborts the request
 * through an EventEmitter (undici takes one as its signal; an AbortSignal costs ~15 µs a call),
 * and the HTTP timeout is undici's, set on the request. A call has LCG_UPSTREAM_DEADLINE_MS in
 * all, from its first attempt: a plain timer aborts the attempt in flight when it is up (an
 * Effect.timeout would fork a fiber per call), and no retry is made whose wait would end past
 * it (perf: docs/ARCHITECTURE.md#perf-undici-hbf, docs/ARCHITECTURE.md#perf-undici-timeouts).
 */
export const outboundClient = (options: OutboundOptions) =>
  Effect.map(
    Effect.all([NodeHttpClient.Dispatcher, AppConfig, Effect.clock]),
    ([dispatcher, config, clock]): OutboundClient => {
      const base = new URL(options.baseUrl)
      const basePath = base.pathname.replace(/\/$/, "")
      const timeout = Duration.toMillis(config.httpTimeout)
      const deadlineMs = Duration.toMillis(config.upstream.deadline)
      const { maxBodyBytes } = config.upstream
      const headers = {
        accept: "application/json",
        ...(options.bearer !== undefined ? { authorization: `Bearer ${Redacted.value(options.bearer)}` } : {})
      }
      const exchange = async (
        request: OutboundRequest,
        abort: EventEmitter,
        withBody: boolean
      ): Promise<OutboundAnswer> => {
        const body = request.text ?? (request.json !== undefined ? JSON.stringify(request.json) : undefined)
        const response = await dispatcher.request({
          origin: base.origin,
          path: basePath + request.path,
          method: request.method,
          headers: {
            ...headers,
            ...(body !== undefined ? { "content-type": "application/json" } : {}),
            ...request.headers
          },
          body: body ?? null,
          signal: abort,
          headersTimeout: timeout,
          bodyTimeout: timeout
        })
        if (withBody) {
          return { status: response.statusCode, headers: response.headers, body: await response.body.text() }
        }
        await response.body.dump()
        return { status: response.statusCode, headers: response.headers, body: "" }
      }
      const { onAttempt } = options
      /**
       * One attempt of a call that must be over by `run.at` (epoch ms on the Effect clock), which
       * the call's first attempt sets as it starts (each time it is run); `run.attempts` counts them.
       */
      const attempt = (
        request: OutboundRequest,
        withBody: boolean,
        run: { at: number; attempts: number },
        first: boolean
      ) =>
        Effect.async<OutboundAnswer, OutboundError>((resume) => {
          const now = clock.unsafeCurrentTimeMillis()
          if (first) {
            run.at = now + deadlineMs
            run.attempts = 0
          }
          const number = ++run.attempts
          const told = (status: number | undefined) =>
            onAttempt?.(request, { attempt: number, status, latencyMs: clock.unsafeCurrentTimeMillis() - now })
          const abort = new EventEmitter()
          let expired = false
          let interrupted = false
          // perf: docs/ARCHITECTURE.md#perf-undici-timeouts
          const timer = setTimeout(() => {
            expired = true
            abort.emit("abort")
          }, run.at - now)
          exchange(request, abort, withBody).then(
            (answer) => {
              clearTimeout(timer)
              options.onAnswer?.(answer.status)
              told(answer.status)
              resume(
                answer.status >= 200 && answer.status < 300
                  ? Effect.succeed(answer)
                  : Effect.fail(
                    new OutboundError({
                      reason: "status",
                      status: answer.status,
                      retryAfter: retryAfterOf(answer.headers, clock.unsafeCurrentTimeMillis()),
                      detail: `answered ${answer.status}`
                    })
                  )
              )
            },
            (cause) => {
              clearTimeout(timer)
              if (!interrupted) {
                options.onAnswer?.(undefined)
                told(undefined)
              }
              resume(
                Effect.fail(
                  expired
                    ? new OutboundError({
                      reason: "timeout",
                      retryAfter: Option.none(),
                      detail: `did not answer within ${deadlineMs} ms`
                    })
                    : transportError(cause, maxBodyBytes)
                )
              )
            }
          )
          return Effect.sync(() => {
            clearTimeout(timer)
            interrupted = true
            abort.emit("abort")
          })
        }).pipe(
          traced(`http.client ${request.method}`, {
            kind: "client",
            captureStackTrace: false,
            attributes: { "http.request.method": request.method, "server.address": base.origin }
          })
        )
      const retrying = options.retry === undefined
        ? undefined
        : backoff(options.retry, (error: OutboundError) => error.retryAfter, config.upstream.maxRetryAfter).pipe(
          Schedule.whileInput(isTransient)
        )
      const perform = (request: OutboundRequest, withBody: boolean) => {
        const run = { at: 0, attempts: 0 }
        const once = attempt(request, withBody, run, true)
        if (retrying === undefined) return once
        return Effect.catchAll(once, (first) =>
          retryingAfter(
            first,
            attempt(request, withBody, run, false),
            // Only a wait that ends before the deadline: past it, the last failure is the call's.
            retrying.pipe(
              Schedule.delays,
              Schedule.whileOutput((wait) => clock.unsafeCurrentTimeMillis() + Duration.toMillis(wait) < run.at)
            )
          ))
      }
      return {
        send: (request) => perform(request, true),
        call: (request, failure) =>
          Effect.matchEffect(perform(request, false), { onFailure: failure, onSuccess: () => Effect.void })
      }
    }
  )

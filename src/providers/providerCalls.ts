/**
 * What the provider API clients share: one gate per credential set (or app), which bounds
 * its calls in flight and holds it back after a 429, so one tenant's burst queues behind
 * itself and never starves another tenant's calls; the exchange of one request, where any
 * answer (even a 4xx) is a success with its body read, for the client to judge; and the
 * tenant's config of the provider called.
 */
import type { HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { Duration, Effect, Either, Option, Redacted } from "effect"
import type { ProviderAlias } from "../domain/model.js"
import { configFor, type LivechatConfig } from "../domain/tenant.js"
import { recordProviderCall } from "../infra/metrics.js"
import { isUndiciOversized, isUndiciTimeout, oversizedAnswer } from "../infra/outbound.js"
import { ProviderError } from "../services/errors.js"
import { sha256Hex } from "./signatures.js"

export interface CallGate {
  /** Runs `call` in one of the gate's slots. */
  readonly withSlot: <A, E, R>(call: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Waits while the gate is held back. */
  readonly waitTurn: Effect.Effect<void>
  /** Holds the gate back for `wait` from now (a 429's Retry-After, or a backoff). */
  readonly holdBack: (wait: Duration.Duration) => void
}

/** The gate of each key (credential set, app), made on first use. */
export const makeCallGates = (maxInFlight: number) => {
  const gates = new Map<string, CallGate>()
  return (key: string): CallGate => {
    const existing = gates.get(key)
    if (existing !== undefined) return existing
    const slots = Effect.unsafeMakeSemaphore(maxInFlight)
    /** No call before this time (epoch ms). */
    let blockedUntil = 0
    const gate: CallGate = {
      withSlot: (call) => slots.withPermits(1)(call),
      waitTurn: Effect.suspend(() => {
        const wait = blockedUntil - Date.now()
        return wait > 0 ? Effect.sleep(Duration.millis(wait)) : Effect.void
      }),
      holdBack: (wait) => {
        blockedUntil = Math.max(blockedUntil, Date.now() + Duration.toMillis(wait))
      }
    }
    gates.set(key, gate)
    return gate
  }
}

export interface Exchanged {
  readonly response: HttpClientResponse.HttpClientResponse
  readonly body: string
}

/**
 * A provider call that got no usable answer, in the words the caller's error (and so the
 * gateway's answer) may use: "timed out", "answered more than N bytes" (cut at
 * LCG_UPSTREAM_MAX_BODY_BYTES) or "is unreachable", never the cause's text, which names the
 * host, address and port (a tenant's URL would make the gateway's answers a port scanner).
 * The cause goes to the log, here, once.
 */
export const noAnswer = (provider: ProviderAlias, method: string, url: string, cause: unknown, maxBodyBytes: number) => {
  // The call by its template: its host and ids are the tenant's configuration; the network's cause (an address) is the operator's to see.
  const where = URL.canParse(url) ? new URL(url).pathname : url
  const oversized = isUndiciOversized(cause)
  return Effect.as(
    Effect.logWarning(oversized ? "a provider answered more than the gateway reads" : "a provider call got no answer", {
      provider,
      call: callName(method, where),
      reason: cause instanceof Error ? cause.message : String(cause)
    }),
    isUndiciTimeout(cause) ? "timed out" : oversized ? oversizedAnswer(maxBodyBytes) : "is unreachable"
  )
}

/**
 * Sends `request` to `provider` (counted in the provider call metrics; the timeout and the
 * answer's size limit, `maxBodyBytes`, are OutboundHttpLive's); only no usable answer fails,
 * with `unreachable`'s error (noAnswer).
 */
export const exchange =
  <E>(http: HttpClient.HttpClient, provider: ProviderAlias, maxBodyBytes: number, unreachable: (reason: string) => E) =>
  (request: HttpClientRequest.HttpClientRequest): Effect.Effect<Exchanged, E> =>
    http.execute(request).pipe(
      Effect.flatMap((response) => Effect.map(response.text, (body) => ({ response, body }))),
      Effect.scoped,
      Effect.either,
      Effect.timed,
      Effect.flatMap(([elapsed, result]) =>
        Either.isRight(result)
          ? Effect.as(recordProviderCall(provider, result.right.response.status, elapsed), result.right)
          : Effect.zipRight(
              recordProviderCall(provider, undefined, elapsed),
              Effect.flatMap(noAnswer(provider, request.method, request.url, result.left.cause ?? result.left, maxBodyBytes), (reason) =>
                Effect.fail(unreachable(reason))
              )
            )
      )
    )

/**
 * The key of a credential: a digest of everything that makes it (the tenant first, then hosts,
 * ids and secrets; secrets digested on their own before), so that look-alikes never share
 * what is kept per credential (tokens, call gates, channels), and the key reveals none of it.
 */
export const credentialKey = (tenantId: string, parts: ReadonlyArray<string>, secrets: ReadonlyArray<Redacted.Redacted<string>>) =>
  sha256Hex(JSON.stringify([tenantId, ...parts, ...secrets.map((secret) => sha256Hex(Redacted.value(secret)))]))

/** A path segment that is a word of the provider's API (`conversations`, `v2`, `passControl`), not an id. */
const apiWord = /^(?:[a-z][A-Za-z]*|v\d+)$/

/**
 * A provider call as answers name it: the method and the path with its ids left out
 * (`POST /api/v2/conversations/messages/{id}/inbound/open/message`): the ids are the tenant's
 * configuration (an integration, a queue) or its conversations', which an answer does not repeat.
 */
export const callName = (method: string, url: string) => {
  const path = url.split("?")[0]!
  return `${method} ${path
    .split("/")
    .map((segment) => (segment === "" || apiWord.test(segment) ? segment : "{id}"))
    .join("/")}`
}

/** The tenant's livechat config narrowed to `provider`; a config of another provider is the call's ProviderError. */
export const ownConfig = <P extends ProviderAlias>(config: LivechatConfig, provider: P) =>
  Option.match(configFor(config, provider), {
    onNone: () => Effect.fail(new ProviderError({ provider, message: `the tenant's livechat is ${config.provider}` })),
    onSome: (own) => Effect.succeed(own)
  })

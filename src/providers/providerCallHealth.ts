/**
 * The health of each provider credential's calls: a breaker per credential key
 * (docs/ARCHITECTURE.md#provider-health). In-process: each instance judges from its own calls.
 * - A failure is a call the provider did not answer: no answer (refused, reset, timed out) or
 *   a gateway's 502, 503 or 504 in front of it. Any other answer shows the provider is there: a
 *   4xx refusal, a 429, and a 500 too, which a request of one tenant can cause (hbf-lcm is one
 *   credential for every helvia tenant: a tenant must not shut the others out).
 * - `failures` failures in a row (no success after them), all within `window`, open the
 *   breaker: the provider is `unreachable`, and calls that ask (`admit`) are refused.
 * - After `coolDown` it is half-open: the first caller that asks gets the one probe; a
 *   success (of any call) closes it, a failure opens it again for another cool-down. A probe
 *   whose outcome never came (interrupted, or failed before it called) is given again after a
 *   cool-down.
 * - `degraded`: closed with a failure within the window, or half-open before its probe went
 *   out; `unreachable` while open, and while the probe is out (creates are refused meanwhile).
 * - A clock that stepped back (now before the opening) counts as the cool-down over.
 * Time is the Effect Clock's, read without a fiber op (the clock taken at construction).
 */
import { Duration, Effect, Layer } from "effect"
import type { ProviderHealth } from "../domain/model.js"
import type { LivechatConfig } from "../domain/tenant.js"
import { AppConfig } from "../services/AppConfig.js"
import {
  type Admission,
  hbfLcmCredentials,
  ProviderCallHealth,
  type ProviderCallHealthService
} from "../services/ProviderCallHealth.js"
import { ccpCredentials } from "./cisco/client.js"
import { credentialsOf as genesysCredentials } from "./genesys/client.js"
import { credentialKeyOf as sunshineCredentials } from "./zendesk/client.js"

interface Breaker {
  /** The failures since the last success (epoch ms on the Effect clock), oldest first, at most `failures` of them. */
  failures: Array<number>
  lastFailureAt: number
  /** When it opened; undefined while closed. */
  openedAt: number | undefined
  /** When the half-open breaker let its probe through; undefined before it did. */
  probedAt: number | undefined
}

/** The key of each provider's credential, as its client names its calls. */
const credentialsOf = (config: LivechatConfig): string => {
  switch (config.provider) {
    case "helvia-livechat":
      return hbfLcmCredentials
    case "genesys-livechat":
      return genesysCredentials(config.tenantId, config.genesys).id
    case "zendesk":
      return sunshineCredentials({ tenantId: config.tenantId, config: config.zendesk })
    case "cisco-livechat":
      return ccpCredentials(config)
  }
}

/** No answer, or a gateway in front of the provider saying it got none. */
const unanswered = (status: number) => status === 502 || status === 503 || status === 504

/** Breakers kept at most (one per credential that failed lately): beyond it, those gone quiet are forgotten. */
const MAX_BREAKERS = 10_000

export const ProviderCallHealthLive = Layer.effect(
  ProviderCallHealth,
  Effect.gen(function*() {
    const { providerBreaker } = yield* AppConfig
    const clock = yield* Effect.clock
    const threshold = providerBreaker.failures
    const window = Duration.toMillis(providerBreaker.window)
    const coolDown = Duration.toMillis(providerBreaker.coolDown)
    /** Only credentials that failed lately have one: a call that succeeds with none costs one look-up. */
    const breakers = new Map<string, Breaker>()

    const record = (credentials: string, status: number | undefined) => {
      const kept = breakers.get(credentials)
      if (status !== undefined && !unanswered(status)) {
        if (kept === undefined) return
        if (kept.openedAt === undefined && clock.unsafeCurrentTimeMillis() - kept.lastFailureAt >= window) {
          // Nothing left to remember: its last failure is out of the window.
          breakers.delete(credentials)
          return
        }
        kept.failures = []
        kept.openedAt = undefined
        kept.probedAt = undefined
        return
      }
      const now = clock.unsafeCurrentTimeMillis()
      const breaker = kept ?? { failures: [], lastFailureAt: now, openedAt: undefined, probedAt: undefined }
      if (kept === undefined) {
        if (breakers.size >= MAX_BREAKERS) forgetStale(now)
        breakers.set(credentials, breaker)
      }
      breaker.lastFailureAt = now
      if (breaker.openedAt !== undefined) {
        // Half-open: the probe (or any call let through after the cool-down) failed, another cool-down.
        if (cooledDown(breaker.openedAt, now)) {
          breaker.openedAt = now
          breaker.probedAt = undefined
        }
        return
      }
      const recent = breaker.failures.filter((at) => now - at < window)
      recent.push(now)
      if (recent.length >= threshold) {
        breaker.failures = []
        breaker.openedAt = now
        breaker.probedAt = undefined
      } else {
        breaker.failures = recent
      }
    }

    /** `at` is a cool-down ago, or the clock stepped back past it (a wall clock set back must not hold the breaker open). */
    const cooledDown = (at: number, now: number) => now - at >= coolDown || now < at

    /** Breakers of credentials gone quiet (closed, or open and cooled down, with no failure for a window and a cool-down). */
    const forgetStale = (now: number) => {
      for (const [key, breaker] of breakers) {
        if (now - breaker.lastFailureAt >= window + coolDown) breakers.delete(key)
      }
    }

    /** Whether the half-open breaker's probe is out and its outcome not in. */
    const probing = (breaker: Breaker, now: number) =>
      breaker.probedAt !== undefined && !cooledDown(breaker.probedAt, now)

    const healthAt = (breaker: Breaker | undefined, now: number): ProviderHealth =>
      breaker === undefined
        ? "ok"
        : breaker.openedAt === undefined
        ? now - breaker.lastFailureAt < window ? "degraded" : "ok"
        : !cooledDown(breaker.openedAt, now) || probing(breaker, now)
        ? "unreachable"
        : "degraded"

    const admitAt = (breaker: Breaker | undefined, now: number): Admission => {
      if (breaker?.openedAt === undefined) return "call"
      if (!cooledDown(breaker.openedAt, now) || probing(breaker, now)) return "refused"
      breaker.probedAt = now
      return "probe"
    }

    return ProviderCallHealth.of(
      {
        record,
        credentialsOf,
        health: (credentials) =>
          Effect.sync(() => healthAt(breakers.get(credentials), clock.unsafeCurrentTimeMillis())),
        admit: (credentials) => Effect.sync(() => admitAt(breakers.get(credentials), clock.unsafeCurrentTimeMillis()))
      } satisfies ProviderCallHealthService
    )
  })
)

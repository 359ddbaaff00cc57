/**
 * The health of each provider credential's calls: a breaker per credential key
 * (docs/ARCHITECTURE.md#provider-health). In-process: each instance judges from its own calls.
 * - A failure is a call the provider did not answer usefully: no answer (refused, reset,
 *   timed out) or a 5xx. A 4xx refusal or a 429 shows the provider is there.
 * - `failures` failures in a row (no success after them), all within `window`, open the
 *   breaker: the provider is `unreachable`, and calls that ask (`admit`) are refused.
 * - After `coolDown` it is half-open: the first caller that asks gets the one probe; a
 *   success (of any call) closes it, a failure opens it again for another cool-down. A probe
 *   whose outcome never came (interrupted, or failed before it called) is given again after a
 *   cool-down.
 * - `degraded`: closed with a failure within the window, or half-open.
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
      if (status !== undefined && status < 500) {
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
      if (kept === undefined) breakers.set(credentials, breaker)
      breaker.lastFailureAt = now
      if (breaker.openedAt !== undefined) {
        // Half-open: the probe (or any call let through after the cool-down) failed, another cool-down.
        if (now - breaker.openedAt >= coolDown) {
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

    const healthAt = (breaker: Breaker | undefined, now: number): ProviderHealth =>
      breaker === undefined
        ? "ok"
        : breaker.openedAt === undefined
        ? now - breaker.lastFailureAt < window ? "degraded" : "ok"
        : now - breaker.openedAt < coolDown
        ? "unreachable"
        : "degraded"

    const admitAt = (breaker: Breaker | undefined, now: number): Admission => {
      if (breaker?.openedAt === undefined) return "call"
      if (now - breaker.openedAt < coolDown) return "refused"
      if (breaker.probedAt !== undefined && now - breaker.probedAt < coolDown) return "refused"
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

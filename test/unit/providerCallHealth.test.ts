/**
 * The breaker of each provider credential (src/providers/providerCallHealth.ts) on the
 * TestClock, with the default figures (5 failures within 30 s open it, a probe after 15 s):
 * opening, the cool-down, the probe's success and failure, failures leaving the window,
 * successes resetting the count, 4xx and 429 counted as answers, credentials kept apart.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Redacted, TestClock } from "effect"
import { ProviderCallHealthLive } from "../../src/providers/providerCallHealth.js"
import { AppConfig } from "../../src/services/AppConfig.js"
import { ProviderCallHealth } from "../../src/services/ProviderCallHealth.js"

const config = AppConfig.layer({
  jwt: { secret: Redacted.make("s3cret") },
  hbfCore: { url: "http://core.local", token: Redacted.make("core-token") },
  hbfLcm: { url: "http://lcm.local", token: Redacted.make("lcm-token") },
  hbfBot: { url: "http://bot.local" },
  eventPublisherUrl: "http://publisher.local"
})

/** The service, and `fail(n)`: n calls of credential "a" that got no answer, a second apart. */
const breaker = Effect.gen(function*() {
  const health = yield* ProviderCallHealth
  const fail = (n: number, credentials = "a") =>
    Effect.forEach(
      Array.from({ length: n }),
      () => Effect.zipRight(Effect.sync(() => health.record(credentials, undefined)), TestClock.adjust("1 second")),
      { discard: true }
    )
  return { ...health, fail }
}).pipe(Effect.provide(ProviderCallHealthLive), Effect.provide(config))

describe("a provider credential's breaker", () => {
  it.effect("five failures in a row within the window open it: unreachable, calls refused; other credentials are not touched", () =>
    Effect.gen(function*() {
      const health = yield* breaker
      expect(yield* health.health("a")).toBe("ok")
      yield* health.fail(4)
      expect(yield* health.health("a")).toBe("degraded")
      expect(yield* health.admit("a")).toBe("call")
      yield* health.fail(1)
      expect(yield* health.health("a")).toBe("unreachable")
      expect(yield* health.admit("a")).toBe("refused")
      expect(yield* health.health("b")).toBe("ok")
      expect(yield* health.admit("b")).toBe("call")
    }))

  it.effect("no answer, 502, 503 and 504 are failures; a 4xx refusal, a 429 and a 500 are answers, which reset the count", () =>
    Effect.gen(function*() {
      const health = yield* breaker
      for (const status of [undefined, 502, 503, 504]) health.record("a", status)
      health.record("a", 404)
      for (const status of [503, 503, 503, 503]) health.record("a", status)
      health.record("a", 429)
      for (const status of [503, 503, 503, 503]) health.record("a", status)
      // A 500 is the provider answering (one tenant's request can cause it): hbf-lcm, shared by
      // every helvia tenant, must not be shut for all by one tenant's failing calls.
      health.record("a", 500)
      for (const status of [503, 503, 503, 503]) health.record("a", status)
      expect(yield* health.health("a")).toBe("degraded")
      health.record("a", undefined)
      expect(yield* health.health("a")).toBe("unreachable")
    }))

  it.effect("a success resets the count: four failures, a success, four failures leave it closed", () =>
    Effect.gen(function*() {
      const health = yield* breaker
      yield* health.fail(4)
      health.record("a", 200)
      yield* health.fail(4)
      expect(yield* health.admit("a")).toBe("call")
      yield* health.fail(1)
      expect(yield* health.admit("a")).toBe("refused")
    }))

  it.effect("failures older than the window do not count, and a credential is ok again once its last failure left it", () =>
    Effect.gen(function*() {
      const health = yield* breaker
      yield* health.fail(4)
      yield* TestClock.adjust("27 seconds")
      // The first two of the four are 30 s old or more now: three in the window with this one.
      yield* health.fail(1)
      expect(yield* health.health("a")).toBe("degraded")
      expect(yield* health.admit("a")).toBe("call")
      yield* TestClock.adjust("30 seconds")
      expect(yield* health.health("a")).toBe("ok")
    }))

  it.effect("after the cool-down one probe goes through (degraded until it goes, unreachable while it is out); its success closes the breaker", () =>
    Effect.gen(function*() {
      const health = yield* breaker
      yield* health.fail(5)
      yield* TestClock.adjust("13 seconds")
      expect(yield* health.admit("a")).toBe("refused")
      yield* TestClock.adjust("1 second")
      expect(yield* health.health("a")).toBe("degraded")
      expect(yield* health.admit("a")).toBe("probe")
      // Its outcome not in yet: every other caller is refused, and availability must say so.
      expect(yield* health.admit("a")).toBe("refused")
      expect(yield* health.health("a")).toBe("unreachable")
      health.record("a", 200)
      expect(yield* health.admit("a")).toBe("call")
      // Closed, its failures still within the window.
      expect(yield* health.health("a")).toBe("degraded")
      yield* TestClock.adjust("30 seconds")
      expect(yield* health.health("a")).toBe("ok")
    }))

  it.effect("a failed probe opens it again for another cool-down; a probe that never told its outcome is given again after one", () =>
    Effect.gen(function*() {
      const health = yield* breaker
      yield* health.fail(5)
      yield* TestClock.adjust("15 seconds")
      expect(yield* health.admit("a")).toBe("probe")
      health.record("a", undefined)
      expect(yield* health.health("a")).toBe("unreachable")
      yield* TestClock.adjust("14 seconds")
      expect(yield* health.admit("a")).toBe("refused")
      yield* TestClock.adjust("1 second")
      expect(yield* health.admit("a")).toBe("probe")
      // That probe's caller never called: another probe once a cool-down has passed.
      yield* TestClock.adjust("14 seconds")
      expect(yield* health.admit("a")).toBe("refused")
      yield* TestClock.adjust("1 second")
      expect(yield* health.admit("a")).toBe("probe")
    }))

  it.effect("a clock set back while it is open does not hold it open: the probe goes out", () =>
    Effect.gen(function*() {
      const health = yield* breaker
      yield* TestClock.adjust("1 hour")
      yield* health.fail(5)
      yield* TestClock.setTime(0)
      expect(yield* health.admit("a")).toBe("probe")
    }))

  it.effect("failures while it is open do not put off the probe", () =>
    Effect.gen(function*() {
      const health = yield* breaker
      yield* health.fail(5)
      yield* health.fail(10)
      yield* TestClock.adjust("5 seconds")
      expect(yield* health.admit("a")).toBe("probe")
    }))
})

import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Either, Redacted } from "effect"
import { InvalidConfiguration, loadAppConfig } from "../../src/layers/AppConfigLive.js"

const load = (env: Record<string, string>) =>
  loadAppConfig.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))), Effect.either)

const valid = {
  LCG_JWT_SECRET: "s3cret",
  HBF_CORE_URL: "http://core.local/",
  HBF_CORE_API_TOKEN: "core-token",
  HBF_LCM_URL: "http://lcm.local",
  HBF_LCM_TOKEN: "lcm-token",
  HBF_BOT_URL: "http://bot.local",
  HBF_EVENT_PUBLISHER_URL: "http://publisher.local"
}

describe("AppConfig from the environment", () => {
  it.effect("reads a complete environment with defaults and keeps secrets redacted", () =>
    Effect.gen(function* () {
      const config = yield* Effect.flatMap(load(valid), Either.match({ onLeft: Effect.fail, onRight: Effect.succeed }))
      expect(config.port).toBe(3000)
      expect(config.publicUrl).toBe("http://localhost:3000")
      expect(config.hbfCore.url).toBe("http://core.local")
      expect(config.hbfCore.cacheSeconds).toBe(60)
      expect(config.partitions).toBe(64)
      expect(config.logFormat).toBe("json")
      expect(config.redis).toBeUndefined()
      expect(Duration.toDays(config.retention.endedSessions)).toBe(30)
      expect(Duration.toDays(config.retention.dedup)).toBe(7)
      expect(Redacted.value(config.hbfCore.token)).toBe("core-token")
      expect(String(config.hbfCore.token)).not.toContain("core-token")
      expect(JSON.stringify(config)).not.toContain("s3cret")
    })
  )

  it.effect("reads Redis, its prefix and the retention settings; the Redis URL stays redacted", () =>
    Effect.gen(function* () {
      const env = {
        ...valid,
        REDIS_URL: "redis://:pa55word@redis.local:6379/2",
        LCG_REDIS_PREFIX: "lcg-eu",
        LCG_SESSION_RETENTION_DAYS: "90",
        LCG_DEDUP_RETENTION_DAYS: "2"
      }
      const config = yield* Effect.flatMap(load(env), Either.match({ onLeft: Effect.fail, onRight: Effect.succeed }))
      expect(config.redis?.prefix).toBe("lcg-eu")
      expect(Redacted.value(config.redis!.url)).toBe("redis://:pa55word@redis.local:6379/2")
      expect(JSON.stringify(config)).not.toContain("pa55word")
      expect(Duration.toDays(config.retention.endedSessions)).toBe(90)
      expect(Duration.toDays(config.retention.dedup)).toBe(2)
      const bad = yield* load({ ...valid, LCG_SESSION_RETENTION_DAYS: "0", REDIS_URL: "http://:pa55word@redis.local" })
      const message = Either.isLeft(bad) ? bad.left.message : ""
      expect(message).toContain("LCG_SESSION_RETENTION_DAYS: Expected a positive integer")
      expect(message).toContain("REDIS_URL: Expected a redis:// or rediss:// URL")
      expect(message).not.toContain("pa55word")
    })
  )

  it.effect("reads the upstream limits and the CCP events per poll, with defaults of 1 MiB, 30 s and 500", () =>
    Effect.gen(function* () {
      const defaults = yield* Effect.flatMap(load(valid), Either.match({ onLeft: Effect.fail, onRight: Effect.succeed }))
      expect(defaults.upstream.maxBodyBytes).toBe(1024 * 1024)
      expect(Duration.toMillis(defaults.upstream.deadline)).toBe(30_000)
      expect(Duration.toSeconds(defaults.upstream.maxRetryAfter)).toBe(60)
      expect(defaults.ciscoMaxEventsPerPoll).toBe(500)
      const env = { ...valid, LCG_UPSTREAM_MAX_BODY_BYTES: "65536", LCG_UPSTREAM_DEADLINE_MS: "5000", CISCO_MAX_EVENTS_PER_POLL: "50" }
      const config = yield* Effect.flatMap(load(env), Either.match({ onLeft: Effect.fail, onRight: Effect.succeed }))
      expect(config.upstream.maxBodyBytes).toBe(65536)
      expect(Duration.toMillis(config.upstream.deadline)).toBe(5000)
      expect(config.ciscoMaxEventsPerPoll).toBe(50)
      const bad = yield* load({ ...valid, LCG_UPSTREAM_MAX_BODY_BYTES: "0", LCG_UPSTREAM_DEADLINE_MS: "soon", CISCO_MAX_EVENTS_PER_POLL: "-1" })
      const message = Either.isLeft(bad) ? bad.left.message : ""
      expect(message).toContain("LCG_UPSTREAM_MAX_BODY_BYTES: Expected a positive integer")
      expect(message).toContain("LCG_UPSTREAM_DEADLINE_MS")
      expect(message).toContain("CISCO_MAX_EVENTS_PER_POLL: Expected a positive integer")
    })
  )

  it.effect("names every bad variable in one message", () =>
    Effect.gen(function* () {
      const result = yield* load({ ...valid, PORT: "99999", HBF_CORE_URL: "notaurl", LOG_FORMAT: "xml", LCG_PARTITIONS: "0" })
      const message = Either.isLeft(result) ? (result.left as InvalidConfiguration).message : ""
      expect(message).toContain("PORT:")
      expect(message).toContain("HBF_CORE_URL: Expected an http(s) URL")
      expect(message).toContain("LOG_FORMAT:")
      expect(message).toContain("LCG_PARTITIONS: Expected a positive integer")
    })
  )

  it.effect("requires a JWT secret or a JWKS URL", () =>
    Effect.gen(function* () {
      const { LCG_JWT_SECRET: _, ...withoutJwt } = valid
      const result = yield* load(withoutJwt)
      expect(Either.isLeft(result) && result.left.message).toContain("LCG_JWT_SECRET or LCG_JWKS_URL")
      const jwks = { ...withoutJwt, LCG_JWKS_URL: "https://idp.local/jwks.json" }
      const withoutAudience = yield* load(jwks)
      expect(Either.isLeft(withoutAudience) && withoutAudience.left.message).toContain("Expected LCG_JWT_AUDIENCE with LCG_JWKS_URL")
      const complete = yield* load({ ...jwks, LCG_JWT_AUDIENCE: "hbf-lcg", LCG_JWT_ISSUER: "https://idp.local/" })
      expect(Either.isRight(complete) && complete.right.jwt).toEqual({
        jwksUrl: "https://idp.local/jwks.json",
        audience: "hbf-lcg",
        issuer: "https://idp.local/"
      })
    })
  )

  it.effect("names a missing JWT key together with every other missing variable, not on a second try", () =>
    Effect.gen(function* () {
      const result = yield* load({})
      const message = Either.isLeft(result) ? result.left.message : ""
      for (const name of ["HBF_CORE_URL", "HBF_CORE_API_TOKEN", "HBF_LCM_URL", "HBF_LCM_TOKEN", "HBF_BOT_URL", "HBF_EVENT_PUBLISHER_URL"]) {
        expect(message).toContain(`${name}: missing`)
      }
      expect(message).toContain("LCG_JWT_SECRET or LCG_JWKS_URL")
    })
  )

  it.effect("confines provider URLs by default; LCG_PROVIDER_* relax it and a bad host list is named", () =>
    Effect.gen(function* () {
      const confined = yield* load(valid)
      expect(Either.isRight(confined) && confined.right.providerEgress).toEqual({ allowInsecure: false, allowPrivate: false, hosts: [] })
      const relaxed = yield* load({
        ...valid,
        LCG_PROVIDER_ALLOW_INSECURE: "true",
        LCG_PROVIDER_ALLOW_PRIVATE: "true",
        LCG_PROVIDER_HOSTS: "ccp.acme.internal, *.Zendesk.com"
      })
      expect(Either.isRight(relaxed) && relaxed.right.providerEgress).toEqual({
        allowInsecure: true,
        allowPrivate: true,
        hosts: ["ccp.acme.internal", "*.zendesk.com"]
      })
      const bad = yield* load({ ...valid, LCG_PROVIDER_HOSTS: "ccp.acme.internal,http://evil/", LCG_PROVIDER_ALLOW_PRIVATE: "maybe" })
      const message = Either.isLeft(bad) ? bad.left.message : ""
      expect(message).toContain("LCG_PROVIDER_HOSTS: Expected a comma-separated list of host names")
      expect(message).toContain("LCG_PROVIDER_ALLOW_PRIVATE")
    })
  )
})

import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Either, Redacted } from "effect"
import type { InvalidConfiguration } from "../../src/app/AppConfigLive.js"
import { loadAppConfig } from "../../src/app/AppConfigLive.js"
import { AppConfig, makeAppConfig } from "../../src/services/AppConfig.js"

const load = (env: Record<string, string>) =>
  loadAppConfig.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))), Effect.either)

/** Everything but the store. */
const services = {
  LCG_JWT_SECRET: "s3cret",
  HBF_CORE_URL: "http://core.local/",
  HBF_CORE_API_TOKEN: "core-token",
  HBF_LCM_URL: "http://lcm.local",
  HBF_LCM_TOKEN: "lcm-token",
  HBF_BOT_URL: "http://bot.local",
  HBF_BOT_SIGNING_SECRET: "bot-signing-secret",
  HBF_EVENT_PUBLISHER_URL: "http://publisher.local"
}

const valid = { ...services, LCG_STORE: "memory" }

const messageOf = (
  result: Either.Either<unknown, InvalidConfiguration>
) => (Either.isLeft(result) ? result.left.message : "")

describe("AppConfig from the environment", () => {
  it.effect("reads a complete environment with defaults and keeps secrets redacted", () =>
    Effect.gen(function*() {
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
    }))

  it.effect("reads Redis, its prefix and the retention settings; the Redis URL stays redacted", () =>
    Effect.gen(function*() {
      const env = {
        ...services,
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
      const bad = yield* load({
        ...services,
        LCG_SESSION_RETENTION_DAYS: "0",
        REDIS_URL: "http://:pa55word@redis.local"
      })
      const message = Either.isLeft(bad) ? bad.left.message : ""
      expect(message).toContain("LCG_SESSION_RETENTION_DAYS: Expected a positive integer")
      expect(message).toContain("REDIS_URL: Expected a redis:// or rediss:// URL")
      expect(message).not.toContain("pa55word")
    }))

  it.effect("the store is Redis: REDIS_URL is required unless LCG_STORE=memory asks for the in-process store", () =>
    Effect.gen(function*() {
      const redisUrl = "redis://:pa55word@redis.local:6379"
      const missing =
        "REDIS_URL: missing: the store is Redis unless LCG_STORE=memory (in this process only: a restart loses every session)"
      expect(messageOf(yield* load(services))).toContain(missing)
      expect(messageOf(yield* load({ ...services, LCG_STORE: "redis" }))).toContain(missing)

      const memory = yield* load({ ...services, LCG_STORE: "memory" })
      expect(Either.isRight(memory) && memory.right.redis).toBeUndefined()
      const redis = yield* load({ ...services, LCG_STORE: "redis", REDIS_URL: redisUrl })
      expect(Either.isRight(redis) && redis.right.redis?.prefix).toBe("lcg")

      const both = messageOf(yield* load({ ...services, LCG_STORE: "memory", REDIS_URL: redisUrl }))
      expect(both).toContain("LCG_STORE: memory, with REDIS_URL set: unset one of them")
      expect(both).not.toContain("pa55word")
      const unknown = messageOf(yield* load({ ...services, LCG_STORE: "disk", HBF_LCM_URL: "nope" }))
      expect(unknown).toContain("LCG_STORE: Expected one of (redis, memory) but received \"disk\"")
      expect(unknown).toContain("HBF_LCM_URL: Expected an http(s) URL")
    }))

  it.effect("reads the upstream limits and the CCP events per poll, with defaults of 1 MiB, 30 s and 500", () =>
    Effect.gen(function*() {
      const defaults = yield* Effect.flatMap(
        load(valid),
        Either.match({ onLeft: Effect.fail, onRight: Effect.succeed })
      )
      expect(defaults.upstream.maxBodyBytes).toBe(1024 * 1024)
      expect(Duration.toMillis(defaults.upstream.deadline)).toBe(30_000)
      expect(Duration.toSeconds(defaults.upstream.maxRetryAfter)).toBe(60)
      expect(defaults.ciscoMaxEventsPerPoll).toBe(500)
      const env = {
        ...valid,
        LCG_UPSTREAM_MAX_BODY_BYTES: "65536",
        LCG_UPSTREAM_DEADLINE_MS: "5000",
        CISCO_MAX_EVENTS_PER_POLL: "50"
      }
      const config = yield* Effect.flatMap(load(env), Either.match({ onLeft: Effect.fail, onRight: Effect.succeed }))
      expect(config.upstream.maxBodyBytes).toBe(65536)
      expect(Duration.toMillis(config.upstream.deadline)).toBe(5000)
      expect(config.ciscoMaxEventsPerPoll).toBe(50)
      const bad = yield* load({
        ...valid,
        LCG_UPSTREAM_MAX_BODY_BYTES: "0",
        LCG_UPSTREAM_DEADLINE_MS: "soon",
        CISCO_MAX_EVENTS_PER_POLL: "-1"
      })
      const message = Either.isLeft(bad) ? bad.left.message : ""
      expect(message).toContain("LCG_UPSTREAM_MAX_BODY_BYTES: Expected a positive integer")
      expect(message).toContain("LCG_UPSTREAM_DEADLINE_MS")
      expect(message).toContain("CISCO_MAX_EVENTS_PER_POLL: Expected a positive integer")
    }))

  it.effect("LCG_QUEUE_UPDATE_SECONDS: queue figures at most every 15 s unless set; a positive whole number", () =>
    Effect.gen(function*() {
      const config = (env: Record<string, string>) =>
        Effect.flatMap(load(env), Either.match({ onLeft: Effect.fail, onRight: Effect.succeed }))
      expect(Duration.toSeconds((yield* config(valid)).queueUpdateInterval)).toBe(15)
      expect(Duration.toSeconds((yield* config({ ...valid, LCG_QUEUE_UPDATE_SECONDS: "60" })).queueUpdateInterval))
        .toBe(60)
      expect(messageOf(yield* load({ ...valid, LCG_QUEUE_UPDATE_SECONDS: "0" }))).toContain(
        "LCG_QUEUE_UPDATE_SECONDS: Expected a positive integer"
      )
    }))

  it.effect("names every bad variable in one message", () =>
    Effect.gen(function*() {
      const result = yield* load({
        ...valid,
        PORT: "99999",
        HBF_CORE_URL: "notaurl",
        LOG_FORMAT: "xml",
        LCG_PARTITIONS: "0"
      })
      const message = Either.isLeft(result) ? (result.left as InvalidConfiguration).message : ""
      expect(message).toContain("PORT:")
      expect(message).toContain("HBF_CORE_URL: Expected an http(s) URL")
      expect(message).toContain("LOG_FORMAT:")
      expect(message).toContain("LCG_PARTITIONS: Expected a positive integer")
    }))

  it.effect("requires a JWT secret or a JWKS URL", () =>
    Effect.gen(function*() {
      const { LCG_JWT_SECRET: _, ...withoutJwt } = valid
      const result = yield* load(withoutJwt)
      expect(Either.isLeft(result) && result.left.message).toContain("LCG_JWT_SECRET or LCG_JWKS_URL")
      const jwks = { ...withoutJwt, LCG_JWKS_URL: "https://idp.local/jwks.json" }
      const withoutAudience = yield* load(jwks)
      expect(Either.isLeft(withoutAudience) && withoutAudience.left.message).toContain(
        "Expected LCG_JWT_AUDIENCE with LCG_JWKS_URL"
      )
      const complete = yield* load({ ...jwks, LCG_JWT_AUDIENCE: "hbf-lcg", LCG_JWT_ISSUER: "https://idp.local/" })
      expect(Either.isRight(complete) && complete.right.jwt).toEqual({
        jwksUrl: "https://idp.local/jwks.json",
        audience: "hbf-lcg",
        issuer: "https://idp.local/"
      })
    }))

  it.effect("names a missing JWT key together with every other missing variable, not on a second try", () =>
    Effect.gen(function*() {
      const result = yield* load({})
      const message = Either.isLeft(result) ? result.left.message : ""
      for (
        const name of [
          "HBF_CORE_URL",
          "HBF_CORE_API_TOKEN",
          "HBF_LCM_URL",
          "HBF_LCM_TOKEN",
          "HBF_BOT_URL",
          "HBF_EVENT_PUBLISHER_URL",
          "REDIS_URL"
        ]
      ) {
        expect(message).toContain(`${name}: missing`)
      }
      expect(message).toContain("LCG_JWT_SECRET or LCG_JWKS_URL")
    }))

  it.effect("refuses to send hbf-bot unsigned events unless HBF_BOT_SIGNING=off says so, and refuses both at once", () =>
    Effect.gen(function*() {
      const { HBF_BOT_SIGNING_SECRET: _, ...unsigned } = valid
      const refused = yield* load(unsigned)
      expect(Either.isLeft(refused) && refused.left.message).toContain(
        "Expected HBF_BOT_SIGNING_SECRET (events to hbf-bot are signed; HBF_BOT_SIGNING=off sends them unsigned)"
      )
      const off = yield* load({ ...unsigned, HBF_BOT_SIGNING: "off" })
      expect(Either.isRight(off) && off.right.hbfBot).toEqual({ url: "http://bot.local" })
      const signed = yield* load(valid)
      expect(Either.isRight(signed) && Redacted.value(signed.right.hbfBot.signingSecret!)).toBe("bot-signing-secret")
      const both = yield* load({ ...valid, HBF_BOT_SIGNING: "off" })
      expect(Either.isLeft(both) && both.left.message).toContain(
        "Expected no HBF_BOT_SIGNING_SECRET with HBF_BOT_SIGNING=off"
      )
      expect(Either.isLeft(both) && both.left.message).not.toContain("bot-signing-secret")
      const typo = yield* load({ ...valid, HBF_BOT_SIGNING: "false" })
      expect(Either.isLeft(typo) && typo.left.message).toContain("HBF_BOT_SIGNING")
    }))

  it.effect("confines provider URLs by default; LCG_PROVIDER_* relax it and a bad host list is named", () =>
    Effect.gen(function*() {
      const confined = yield* load(valid)
      expect(Either.isRight(confined) && confined.right.providerEgress).toEqual({
        allowInsecure: false,
        allowPrivate: false,
        hosts: []
      })
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
      const bad = yield* load({
        ...valid,
        LCG_PROVIDER_HOSTS: "ccp.acme.internal,http://evil/",
        LCG_PROVIDER_ALLOW_PRIVATE: "maybe"
      })
      const message = Either.isLeft(bad) ? bad.left.message : ""
      expect(message).toContain("LCG_PROVIDER_HOSTS: Expected a comma-separated list of host names")
      expect(message).toContain("LCG_PROVIDER_ALLOW_PRIVATE")
    }))

  it.effect("limits slow and idle HTTP clients: headers 10 s, request 30 s, keep-alive 5 s, 10,000 connections; LCG_HTTP_* change them", () =>
    Effect.gen(function*() {
      const millis = (
        limits: {
          readonly headersTimeout: Duration.Duration
          readonly requestTimeout: Duration.Duration
          readonly keepAliveTimeout: Duration.Duration
        }
      ) => [limits.headersTimeout, limits.requestTimeout, limits.keepAliveTimeout].map(Duration.toMillis)
      const defaults = yield* Effect.flatMap(
        load(valid),
        Either.match({ onLeft: Effect.fail, onRight: Effect.succeed })
      )
      expect(millis(defaults.httpServer)).toEqual([10_000, 30_000, 5_000])
      expect(defaults.httpServer.maxConnections).toBe(10_000)
      const set = yield* Effect.flatMap(
        load({
          ...valid,
          LCG_HTTP_HEADERS_TIMEOUT_MS: "2000",
          LCG_HTTP_REQUEST_TIMEOUT_MS: "2000",
          LCG_HTTP_KEEP_ALIVE_TIMEOUT_MS: "65000",
          LCG_HTTP_MAX_CONNECTIONS: "500"
        }),
        Either.match({ onLeft: Effect.fail, onRight: Effect.succeed })
      )
      expect(millis(set.httpServer)).toEqual([2_000, 2_000, 65_000])
      expect(set.httpServer.maxConnections).toBe(500)
      const messageOf = (result: Either.Either<unknown, Error>) => (Either.isLeft(result) ? result.left.message : "")
      // node:http refuses a headers timeout longer than the request's.
      expect(messageOf(yield* load({ ...valid, LCG_HTTP_HEADERS_TIMEOUT_MS: "40000" }))).toContain(
        "Expected LCG_HTTP_HEADERS_TIMEOUT_MS <= LCG_HTTP_REQUEST_TIMEOUT_MS"
      )
      expect(messageOf(yield* load({ ...valid, LCG_HTTP_MAX_CONNECTIONS: "0" }))).toContain(
        "LCG_HTTP_MAX_CONNECTIONS: Expected a positive integer"
      )
    }))
})

describe("AppConfig from the defaults and what a caller states", () => {
  const required = {
    jwt: { secret: Redacted.make("s3cret") },
    hbfCore: { url: "http://core.local", token: Redacted.make("core-token") },
    hbfLcm: { url: "http://lcm.local", token: Redacted.make("lcm-token") },
    hbfBot: { url: "http://bot.local" },
    eventPublisherUrl: "http://publisher.local"
  }

  it.effect("an environment of the required variables only and makeAppConfig given the same settings agree on every default", () =>
    Effect.gen(function*() {
      const fromEnv = yield* Effect.flatMap(
        load({ ...valid, LCG_INSTANCE_ID: "lcg-1" }),
        Either.match({ onLeft: Effect.fail, onRight: Effect.succeed })
      )
      const { jwt, hbfCore, hbfLcm, hbfBot, eventPublisherUrl } = fromEnv
      expect(fromEnv).toEqual(
        makeAppConfig({
          jwt,
          hbfCore: { url: hbfCore.url, token: hbfCore.token },
          hbfLcm,
          hbfBot,
          eventPublisherUrl,
          instanceId: "lcg-1"
        })
      )
    }))

  it.effect("AppConfig.layer keeps what is stated, takes the rest from the defaults, and derives the public URL from the port", () =>
    Effect.gen(function*() {
      const config = yield* Effect.provide(
        AppConfig,
        AppConfig.layer({ ...required, port: 8080, partitions: 4, hbfCore: { ...required.hbfCore, cacheSeconds: 0 } })
      )
      expect(config.partitions).toBe(4)
      expect(config.hbfCore).toEqual({ ...required.hbfCore, cacheSeconds: 0 })
      expect(config.publicUrl).toBe("http://localhost:8080")
      expect(config.redis).toBeUndefined()
      expect(Duration.toDays(config.retention.endedSessions)).toBe(30)
      expect(Duration.toSeconds(config.upstream.deadline)).toBe(30)
      expect(makeAppConfig(required).hbfCore.cacheSeconds).toBe(60)
      expect(makeAppConfig({ ...required, publicUrl: "https://lcg.example.com" }).publicUrl).toBe(
        "https://lcg.example.com"
      )
      // Two gateways never share a generated id (the coordinator tells instances apart by it).
      expect(makeAppConfig(required).instanceId).not.toBe(makeAppConfig(required).instanceId)
      expect(makeAppConfig({ ...required, instanceId: "lcg-2" }).instanceId).toBe("lcg-2")
    }))
})

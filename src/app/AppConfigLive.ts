/**
 * AppConfig from the environment. Every variable is read with `Config.all`, so one boot
 * failure names every bad variable at once.
 */
import { Config, ConfigError, Duration, Effect, Either, Layer, Option, Redacted } from "effect"
import {
  AppConfig,
  type AppConfigValues,
  defaultAppConfig as defaults,
  type HttpServerLimits,
  makeAppConfig,
  type ProviderEgress
} from "../services/AppConfig.js"

const httpUrl = (name: string) =>
  Config.string(name).pipe(
    Config.validate({
      message: "Expected an http(s) URL",
      validation: (s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol)
    }),
    Config.map((s) => s.replace(/\/+$/, ""))
  )

const positiveInt = (name: string, fallback: number) =>
  Config.integer(name).pipe(
    Config.validate({ message: "Expected a positive integer", validation: (n) => n > 0 }),
    Config.withDefault(fallback)
  )

/** Validated as a string (so an error names the variable), then kept Redacted. */
const secret = (name: string, message: string, validation: (value: string) => boolean) =>
  Config.string(name).pipe(Config.validate({ message, validation }), Config.map(Redacted.make))

const nonEmptySecret = (name: string) => secret(name, "Expected a non-empty value", (s) => s.length > 0)

/** A host name, or `*.` and a domain (any subdomain of it). */
const hostPattern = /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/

/** Upstream auth: a secret or a JWKS, and with a JWKS (whose keys may sign for other services too) an audience. */
const jwtConfig = Config.all({
  secret: Config.option(nonEmptySecret("LCG_JWT_SECRET")),
  jwksUrl: Config.option(httpUrl("LCG_JWKS_URL")),
  audience: Config.option(Config.string("LCG_JWT_AUDIENCE")),
  issuer: Config.option(Config.string("LCG_JWT_ISSUER"))
}).pipe(
  Config.validate({
    message: "Expected LCG_JWT_SECRET or LCG_JWKS_URL (upstream JWT auth)",
    validation: (jwt) => Option.isSome(jwt.secret) || Option.isSome(jwt.jwksUrl)
  }),
  Config.validate({
    message: "Expected LCG_JWT_AUDIENCE with LCG_JWKS_URL (a JWKS may sign tokens for other services)",
    validation: (jwt) => Option.isNone(jwt.jwksUrl) || Option.isSome(jwt.audience)
  }),
  Config.map((jwt): AppConfigValues["jwt"] => ({
    ...Option.match(jwt.secret, { onNone: () => ({}), onSome: (secret) => ({ secret }) }),
    ...Option.match(jwt.jwksUrl, { onNone: () => ({}), onSome: (jwksUrl) => ({ jwksUrl }) }),
    ...Option.match(jwt.audience, { onNone: () => ({}), onSome: (audience) => ({ audience }) }),
    ...Option.match(jwt.issuer, { onNone: () => ({}), onSome: (issuer) => ({ issuer }) })
  }))
)

/**
 * Events to hbf-bot are signed (HbfBotHttp): the production entry does not start without
 * HBF_BOT_SIGNING_SECRET unless HBF_BOT_SIGNING=off says, on purpose, that they go unsigned.
 */
const botSigningConfig = Config.all({
  signing: Config.literal("on", "off")("HBF_BOT_SIGNING").pipe(Config.withDefault("on" as const)),
  secret: Config.option(nonEmptySecret("HBF_BOT_SIGNING_SECRET"))
}).pipe(
  Config.validate({
    message: "Expected HBF_BOT_SIGNING_SECRET (events to hbf-bot are signed; HBF_BOT_SIGNING=off sends them unsigned)",
    validation: (c) => c.signing === "off" || Option.isSome(c.secret)
  }),
  Config.validate({
    message: "Expected no HBF_BOT_SIGNING_SECRET with HBF_BOT_SIGNING=off (which of the two is meant?)",
    validation: (c) => c.signing === "on" || Option.isNone(c.secret)
  }),
  Config.map((c) => c.secret)
)

const hostsOf = (list: string) => list.split(",").map((host) => host.trim().toLowerCase()).filter((host) => host !== "")

const providerEgress: Config.Config<ProviderEgress> = Config.all({
  allowInsecure: Config.boolean("LCG_PROVIDER_ALLOW_INSECURE").pipe(
    Config.withDefault(defaults.providerEgress.allowInsecure)
  ),
  allowPrivate: Config.boolean("LCG_PROVIDER_ALLOW_PRIVATE").pipe(
    Config.withDefault(defaults.providerEgress.allowPrivate)
  ),
  hosts: Config.string("LCG_PROVIDER_HOSTS").pipe(
    // Validated as the string itself, so that the error names the variable.
    Config.validate({
      message: "Expected a comma-separated list of host names (a leading *. matches any subdomain)",
      validation: (list) => hostsOf(list).every((host) => hostPattern.test(host))
    }),
    Config.map(hostsOf),
    Config.withDefault(defaults.providerEgress.hosts)
  )
})

/**
 * REDIS_URL, unless LCG_STORE=memory asks for the in-process store explicitly: a store that a
 * restart empties (every session, every undelivered event) is never what a forgotten REDIS_URL gives.
 */
const redisUrl: Config.Config<Option.Option<Redacted.Redacted<string>>> = Config.all({
  store: Config.literal("redis", "memory")("LCG_STORE").pipe(Config.withDefault("redis" as const)),
  url: Config.option(
    secret("REDIS_URL", "Expected a redis:// or rediss:// URL", (s) => /^rediss?:\/\/.+/.test(s) && URL.canParse(s))
  )
}).pipe(
  Config.mapOrFail(({ store, url }) => {
    if (store === "redis" && Option.isNone(url)) {
      return Either.left(
        ConfigError.InvalidData(
          ["REDIS_URL"],
          "missing: the store is Redis unless LCG_STORE=memory (in this process only: a restart loses every session)"
        )
      )
    }
    if (store === "memory" && Option.isSome(url)) {
      return Either.left(ConfigError.InvalidData(["LCG_STORE"], "memory, with REDIS_URL set: unset one of them"))
    }
    return Either.right(url)
  })
)

const millis = (name: string, fallback: Duration.Duration) =>
  Config.map(positiveInt(name, Duration.toMillis(fallback)), Duration.millis)

const httpServerLimits: Config.Config<HttpServerLimits> = Config.all({
  headersTimeout: millis("LCG_HTTP_HEADERS_TIMEOUT_MS", defaults.httpServer.headersTimeout),
  requestTimeout: millis("LCG_HTTP_REQUEST_TIMEOUT_MS", defaults.httpServer.requestTimeout),
  keepAliveTimeout: millis("LCG_HTTP_KEEP_ALIVE_TIMEOUT_MS", defaults.httpServer.keepAliveTimeout),
  maxConnections: positiveInt("LCG_HTTP_MAX_CONNECTIONS", defaults.httpServer.maxConnections)
}).pipe(
  // node:http refuses a headers timeout longer than the request's.
  Config.validate({
    message: "Expected LCG_HTTP_HEADERS_TIMEOUT_MS <= LCG_HTTP_REQUEST_TIMEOUT_MS",
    validation: (limits) => Duration.lessThanOrEqualTo(limits.headersTimeout, limits.requestTimeout)
  })
)

export const appConfigFromEnv: Config.Config<AppConfigValues> = Config.all({
  port: Config.port("PORT").pipe(Config.withDefault(defaults.port)),
  publicUrl: Config.option(httpUrl("LCG_PUBLIC_URL")),
  jwt: jwtConfig,
  coreUrl: httpUrl("HBF_CORE_URL"),
  coreToken: nonEmptySecret("HBF_CORE_API_TOKEN"),
  coreCacheSeconds: Config.integer("HBF_CORE_CACHE_SECONDS").pipe(
    Config.validate({ message: "Expected an integer >= 0", validation: (n) => n >= 0 }),
    Config.withDefault(defaults.hbfCore.cacheSeconds)
  ),
  lcmUrl: httpUrl("HBF_LCM_URL"),
  lcmToken: nonEmptySecret("HBF_LCM_TOKEN"),
  botUrl: httpUrl("HBF_BOT_URL"),
  botSigningSecret: botSigningConfig,
  eventPublisherUrl: httpUrl("HBF_EVENT_PUBLISHER_URL"),
  providerEgress,
  redisUrl,
  redisPrefix: Config.string("LCG_REDIS_PREFIX").pipe(
    Config.validate({ message: "Expected letters, digits, '-', '_' or ':'", validation: (s) => /^[\w:-]+$/.test(s) }),
    Config.withDefault("lcg")
  ),
  instanceId: Config.string("LCG_INSTANCE_ID").pipe(Config.withDefault("")),
  partitions: positiveInt("LCG_PARTITIONS", defaults.partitions),
  ciscoPollIntervalMs: positiveInt("CISCO_POLL_INTERVAL_MS", defaults.ciscoPollIntervalMs),
  ciscoMaxEventsPerPoll: positiveInt("CISCO_MAX_EVENTS_PER_POLL", defaults.ciscoMaxEventsPerPoll),
  upstreamMaxBodyBytes: positiveInt("LCG_UPSTREAM_MAX_BODY_BYTES", defaults.upstream.maxBodyBytes),
  upstreamDeadlineMs: positiveInt("LCG_UPSTREAM_DEADLINE_MS", Duration.toMillis(defaults.upstream.deadline)),
  zendeskPollIntervalMs: positiveInt("ZENDESK_POLL_INTERVAL_MS", defaults.zendeskPollIntervalMs),
  logLevel: Config.logLevel("LOG_LEVEL").pipe(Config.withDefault(defaults.logLevel)),
  logFormat: Config.literal("json", "pretty")("LOG_FORMAT").pipe(Config.withDefault(defaults.logFormat)),
  otlpEndpoint: Config.option(httpUrl("OTEL_EXPORTER_OTLP_ENDPOINT")),
  deliveryMaxAttempts: positiveInt("LCG_DELIVERY_MAX_ATTEMPTS", defaults.delivery.maxAttempts),
  queueUpdateSeconds: positiveInt("LCG_QUEUE_UPDATE_SECONDS", Duration.toSeconds(defaults.queueUpdateInterval)),
  timelineEntries: positiveInt("LCG_TIMELINE_ENTRIES", defaults.timelineEntries),
  shutdownDrainMs: Config.integer("LCG_SHUTDOWN_DRAIN_MS").pipe(
    Config.validate({ message: "Expected an integer >= 0", validation: (n) => n >= 0 }),
    Config.withDefault(Duration.toMillis(defaults.shutdownDrain))
  ),
  sessionRetentionDays: positiveInt("LCG_SESSION_RETENTION_DAYS", Duration.toDays(defaults.retention.endedSessions)),
  dedupRetentionDays: positiveInt("LCG_DEDUP_RETENTION_DAYS", Duration.toDays(defaults.retention.dedup)),
  httpServer: httpServerLimits,
  providerBreaker: Config.all({
    failures: positiveInt("LCG_BREAKER_FAILURES", defaults.providerBreaker.failures),
    window: millis("LCG_BREAKER_WINDOW_MS", defaults.providerBreaker.window),
    coolDown: millis("LCG_BREAKER_COOL_DOWN_MS", defaults.providerBreaker.coolDown)
  })
}).pipe(
  Config.map((c) =>
    makeAppConfig({
      port: c.port,
      ...Option.match(c.publicUrl, { onNone: () => ({}), onSome: (publicUrl) => ({ publicUrl }) }),
      jwt: c.jwt,
      hbfCore: { url: c.coreUrl, token: c.coreToken, cacheSeconds: c.coreCacheSeconds },
      hbfLcm: { url: c.lcmUrl, token: c.lcmToken },
      hbfBot: {
        url: c.botUrl,
        ...Option.match(c.botSigningSecret, { onNone: () => ({}), onSome: (signingSecret) => ({ signingSecret }) })
      },
      eventPublisherUrl: c.eventPublisherUrl,
      providerEgress: c.providerEgress,
      ...Option.match(c.redisUrl, { onNone: () => ({}), onSome: (url) => ({ redis: { url, prefix: c.redisPrefix } }) }),
      ...(c.instanceId === "" ? {} : { instanceId: c.instanceId }),
      partitions: c.partitions,
      ciscoPollIntervalMs: c.ciscoPollIntervalMs,
      ciscoMaxEventsPerPoll: c.ciscoMaxEventsPerPoll,
      zendeskPollIntervalMs: c.zendeskPollIntervalMs,
      logLevel: c.logLevel,
      logFormat: c.logFormat,
      ...Option.match(c.otlpEndpoint, { onNone: () => ({}), onSome: (otlpEndpoint) => ({ otlpEndpoint }) }),
      upstream: {
        ...defaults.upstream,
        maxBodyBytes: c.upstreamMaxBodyBytes,
        deadline: Duration.millis(c.upstreamDeadlineMs)
      },
      delivery: { ...defaults.delivery, maxAttempts: c.deliveryMaxAttempts },
      queueUpdateInterval: Duration.seconds(c.queueUpdateSeconds),
      timelineEntries: c.timelineEntries,
      shutdownDrain: Duration.millis(c.shutdownDrainMs),
      retention: { endedSessions: Duration.days(c.sessionRetentionDays), dedup: Duration.days(c.dedupRetentionDays) },
      httpServer: c.httpServer,
      providerBreaker: c.providerBreaker
    })
  )
)

/** One line per bad variable: `NAME: what was expected`. */
export const describeConfigError = (error: ConfigError.ConfigError): ReadonlyArray<string> => {
  switch (error._op) {
    case "And":
    case "Or":
      return [...describeConfigError(error.left), ...describeConfigError(error.right)]
    case "MissingData":
      return [`${error.path.join("_")}: missing`]
    default:
      return [`${error.path.join("_") || "configuration"}: ${error.message.replace(/\s*\n[\s├└─]*/g, "; ")}`]
  }
}

export class InvalidConfiguration extends Error {
  constructor(readonly problems: ReadonlyArray<string>) {
    super(`invalid configuration:\n  ${[...new Set(problems)].join("\n  ")}`)
    this.name = "InvalidConfiguration"
  }
}

export const loadAppConfig = Effect.mapError(appConfigFromEnv, (e) => new InvalidConfiguration(describeConfigError(e)))

export const AppConfigFromEnv = Layer.effect(AppConfig, loadAppConfig)

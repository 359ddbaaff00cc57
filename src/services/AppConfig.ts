import type { Redacted } from "effect"
import { Context, Duration, Layer, LogLevel } from "effect"
import { randomBytes } from "node:crypto"
import { hostname } from "node:os"

/** Every setting of the gateway (README.md#configuration). Secrets stay `Redacted`. */
export interface AppConfigValues {
  readonly port: number
  /** Our externally reachable base URL, without a trailing slash. */
  readonly publicUrl: string
  readonly jwt: {
    readonly secret?: Redacted.Redacted<string>
    readonly jwksUrl?: string
    /** Required with a JWKS (its keys may sign tokens for other services too). */
    readonly audience?: string
    /** `iss` must be this when set. */
    readonly issuer?: string
  }
  readonly hbfCore: { readonly url: string; readonly token: Redacted.Redacted<string>; readonly cacheSeconds: number }
  readonly hbfLcm: { readonly url: string; readonly token: Redacted.Redacted<string> }
  readonly hbfBot: { readonly url: string; readonly signingSecret?: Redacted.Redacted<string> }
  readonly eventPublisherUrl: string
  /** Where tenant-configured provider URLs may point (docs/SECURITY.md). */
  readonly providerEgress: ProviderEgress
  readonly redis?: { readonly url: Redacted.Redacted<string>; readonly prefix: string }
  readonly instanceId: string
  readonly partitions: number
  readonly ciscoPollIntervalMs: number
  /** CISCO_MAX_EVENTS_PER_POLL: a poll ingests at most this many CCP events; the rest go in the next polls, one tick apart. */
  readonly ciscoMaxEventsPerPoll: number
  readonly zendeskPollIntervalMs: number
  readonly logLevel: LogLevel.LogLevel
  readonly logFormat: "json" | "pretty"
  /** OTEL_EXPORTER_OTLP_ENDPOINT: spans are exported there over OTLP/HTTP (JSON); absent = not exported. */
  readonly otlpEndpoint?: string
  /** Outbound calls: per-attempt timeout. */
  readonly httpTimeout: Duration.Duration
  /** What the gateway reads from upstream (providers, hbf-* services) and how long it waits for them. */
  readonly upstream: UpstreamLimits
  /** Delivery to hbf-bot / event-publisher: attempts before a dead letter, and the first backoff. */
  readonly delivery: {
    readonly maxAttempts: number
    readonly baseDelay: Duration.Duration
    readonly maxDelay: Duration.Duration
  }
  /** How often the sweeper looks for timed-out sessions. */
  readonly sweepInterval: Duration.Duration
  /** LCG_QUEUE_UPDATE_SECONDS: a waiting request's queue figures are sent at most this often (and a provider's asked at most this often per queue). */
  readonly queueUpdateInterval: Duration.Duration
  /** LCG_TIMELINE_ENTRIES: the most entries a session's timeline keeps (its first, and the newest). */
  readonly timelineEntries: number
  /**
   * On SIGTERM, how long readiness answers 503 while requests are still served (a load
   * balancer stops sending meanwhile), before the instance hands its partitions over and stops.
   */
  readonly shutdownDrain: Duration.Duration
  /** How long ended sessions, and seen event ids, are kept (open sessions never expire). */
  readonly retention: { readonly endedSessions: Duration.Duration; readonly dedup: Duration.Duration }
  /** What the HTTP server grants a client: node:http's own defaults let a slow one hold a connection for minutes. */
  readonly httpServer: HttpServerLimits
  /** The breaker of each provider credential (docs/ARCHITECTURE.md#provider-health). */
  readonly providerBreaker: ProviderBreakerFigures
}

export interface ProviderBreakerFigures {
  /** LCG_BREAKER_FAILURES: this many failed calls in a row, within `window`, open the breaker. */
  readonly failures: number
  /** LCG_BREAKER_WINDOW_MS: how long a failure counts (towards opening, and as `degraded`). */
  readonly window: Duration.Duration
  /** LCG_BREAKER_COOL_DOWN_MS: how long an open breaker refuses calls before it lets one probe through. */
  readonly coolDown: Duration.Duration
}

export interface HttpServerLimits {
  /** LCG_HTTP_HEADERS_TIMEOUT_MS: a request's headers must have arrived within this (else 408, connection closed). */
  readonly headersTimeout: Duration.Duration
  /** LCG_HTTP_REQUEST_TIMEOUT_MS: the whole request, body included, within this; at least headersTimeout. */
  readonly requestTimeout: Duration.Duration
  /** LCG_HTTP_KEEP_ALIVE_TIMEOUT_MS: an idle kept-alive connection is closed after this. */
  readonly keepAliveTimeout: Duration.Duration
  /** LCG_HTTP_MAX_CONNECTIONS: connections beyond this many are closed as they are accepted. */
  readonly maxConnections: number
}

/**
 * The confinement of tenant-configured provider URLs (Genesys, Cisco, Sunshine hosts and the
 * notifications socket): https only, and public addresses only, unless relaxed here.
 */
export interface ProviderEgress {
  /** LCG_PROVIDER_ALLOW_INSECURE: http:// and ws:// allowed. */
  readonly allowInsecure: boolean
  /** LCG_PROVIDER_ALLOW_PRIVATE: loopback, private and link-local addresses allowed (on-prem CCP, tests). */
  readonly allowPrivate: boolean
  /** LCG_PROVIDER_HOSTS: hosts exempt from the address check (`*.` wildcards match any subdomain). */
  readonly hosts: ReadonlyArray<string>
}

export interface UpstreamLimits {
  /**
   * LCG_UPSTREAM_MAX_BODY_BYTES: the largest answer body (and Genesys notification frame) read;
   * a call whose answer is larger fails (the frame closes its socket). Calls judged by their
   * status alone discard the body instead.
   */
  readonly maxBodyBytes: number
  /** LCG_UPSTREAM_DEADLINE_MS: how long one call to an hbf-* service may take in all, its retries and their waits included. */
  readonly deadline: Duration.Duration
  /** The longest Retry-After of an hbf-* service that is honoured: a longer one is waited this long. */
  readonly maxRetryAfter: Duration.Duration
}

/**
 * What has no sane default and is always given: where the hbf-* services are, their tokens,
 * and how upstream JWTs are checked. hbf-core's cache alone has a default.
 */
export interface AppConfigRequired {
  readonly jwt: AppConfigValues["jwt"]
  readonly hbfCore: Omit<AppConfigValues["hbfCore"], "cacheSeconds"> & { readonly cacheSeconds?: number }
  readonly hbfLcm: AppConfigValues["hbfLcm"]
  readonly hbfBot: AppConfigValues["hbfBot"]
  readonly eventPublisherUrl: string
}

/**
 * Every setting that has a default: not the required ones, those absent unless set (redis,
 * otlpEndpoint), nor those derived (publicUrl from the port, a generated instanceId).
 */
export type AppConfigDefaults =
  & Omit<AppConfigValues, keyof AppConfigRequired | "publicUrl" | "instanceId" | "redis" | "otlpEndpoint">
  & {
    readonly hbfCore: Pick<AppConfigValues["hbfCore"], "cacheSeconds">
  }

/** What a caller states: the required settings and whichever others it varies. */
export type AppConfigInput = AppConfigRequired & Partial<Omit<AppConfigValues, keyof AppConfigRequired>>

/** The one place a default is written; AppConfigLive's variables fall back to these. */
export const defaultAppConfig: AppConfigDefaults = {
  port: 3000,
  hbfCore: { cacheSeconds: 60 },
  // https to public addresses only.
  providerEgress: { allowInsecure: false, allowPrivate: false, hosts: [] },
  partitions: 64,
  ciscoPollIntervalMs: 5000,
  ciscoMaxEventsPerPoll: 500,
  zendeskPollIntervalMs: 30_000,
  logLevel: LogLevel.Info,
  logFormat: "json",
  httpTimeout: Duration.seconds(10),
  // Answers of at most 1 MiB, 30 s for a call to an hbf-* service, Retry-After up to 60 s.
  upstream: { maxBodyBytes: 1024 * 1024, deadline: Duration.seconds(30), maxRetryAfter: Duration.seconds(60) },
  delivery: { maxAttempts: 12, baseDelay: Duration.millis(200), maxDelay: Duration.seconds(30) },
  sweepInterval: Duration.seconds(5),
  queueUpdateInterval: Duration.seconds(15),
  timelineEntries: 200,
  shutdownDrain: Duration.seconds(5),
  retention: { endedSessions: Duration.days(30), dedup: Duration.days(7) },
  // Headers within 10 s, the request within 30 s, idle connections kept 5 s (node:http's), at most 10,000 connections.
  httpServer: {
    headersTimeout: Duration.seconds(10),
    requestTimeout: Duration.seconds(30),
    keepAliveTimeout: Duration.seconds(5),
    maxConnections: 10_000
  },
  // 5 failures in a row within 30 s open a credential's breaker; a probe after 15 s.
  providerBreaker: { failures: 5, window: Duration.seconds(30), coolDown: Duration.seconds(15) }
}

/** Unique per process, so that two instances on one host never share an id. */
const generatedInstanceId = () => `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`

/**
 * The whole configuration from what a caller states and the defaults; the public URL defaults
 * to localhost on the port, the instance id to one generated for this process.
 */
export const makeAppConfig = (input: AppConfigInput): AppConfigValues => ({
  ...defaultAppConfig,
  ...input,
  publicUrl: input.publicUrl ?? `http://localhost:${input.port ?? defaultAppConfig.port}`,
  instanceId: input.instanceId ?? generatedInstanceId(),
  hbfCore: { ...defaultAppConfig.hbfCore, ...input.hbfCore }
})

export class AppConfig extends Context.Tag("hbf-lcg/AppConfig")<AppConfig, AppConfigValues>() {
  /** AppConfig from the defaults and what the caller states (`makeAppConfig`). */
  static readonly layer = (input: AppConfigInput): Layer.Layer<AppConfig> =>
    Layer.succeed(AppConfig, makeAppConfig(input))
}

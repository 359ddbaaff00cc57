import type { LogLevel, Redacted } from "effect"
import { Context, Duration } from "effect"

/** Every setting of the gateway (CONTRACTS.md section 8). Secrets stay `Redacted`. */
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
  readonly zendeskPollIntervalMs: number
  readonly logLevel: LogLevel.LogLevel
  readonly logFormat: "json" | "pretty"
  /** OTEL_EXPORTER_OTLP_ENDPOINT: spans are exported there over OTLP/HTTP (JSON); absent = not exported. */
  readonly otlpEndpoint?: string
  /** Outbound calls: per-attempt timeout. */
  readonly httpTimeout: Duration.Duration
  /** Delivery to hbf-bot / event-publisher: attempts before a dead letter, and the first backoff. */
  readonly delivery: { readonly maxAttempts: number; readonly baseDelay: Duration.Duration; readonly maxDelay: Duration.Duration }
  /** How often the sweeper looks for timed-out sessions. */
  readonly sweepInterval: Duration.Duration
  /**
   * On SIGTERM, how long readiness answers 503 while requests are still served (a load
   * balancer stops sending meanwhile), before the instance hands its partitions over and stops.
   */
  readonly shutdownDrain: Duration.Duration
  /** How long ended sessions, and seen event ids, are kept (open sessions never expire). */
  readonly retention: { readonly endedSessions: Duration.Duration; readonly dedup: Duration.Duration }
  /** What the HTTP server grants a client: node:http's own defaults let a slow one hold a connection for minutes. */
  readonly httpServer: HttpServerLimits
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

/** Headers within 10 s, the request within 30 s, idle connections kept 5 s (node:http's), at most 10,000 connections. */
export const defaultHttpServer: HttpServerLimits = {
  headersTimeout: Duration.seconds(10),
  requestTimeout: Duration.seconds(30),
  keepAliveTimeout: Duration.seconds(5),
  maxConnections: 10_000
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

/** Production's confinement: https to public addresses only. */
export const confinedEgress: ProviderEgress = { allowInsecure: false, allowPrivate: false, hosts: [] }

export class AppConfig extends Context.Tag("hbf-lcg/AppConfig")<AppConfig, AppConfigValues>() {}

/** Timings with no environment variable of their own, shared by every way of building AppConfig. */
export const defaultTimings = {
  httpTimeout: Duration.seconds(10),
  delivery: { maxAttempts: 12, baseDelay: Duration.millis(200), maxDelay: Duration.seconds(30) },
  sweepInterval: Duration.seconds(5)
} satisfies Pick<AppConfigValues, "httpTimeout" | "delivery" | "sweepInterval">

/** Retention defaults: ended sessions 30 days, de-duplication ids 7 days. */
export const defaultRetention: AppConfigValues["retention"] = {
  endedSessions: Duration.days(30),
  dedup: Duration.days(7)
}

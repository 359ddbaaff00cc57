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
    readonly audience?: string
  }
  readonly hbfCore: { readonly url: string; readonly token: Redacted.Redacted<string>; readonly cacheSeconds: number }
  readonly hbfLcm: { readonly url: string; readonly token: Redacted.Redacted<string> }
  readonly hbfBot: { readonly url: string; readonly signingSecret?: Redacted.Redacted<string> }
  readonly eventPublisherUrl: string
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
}

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

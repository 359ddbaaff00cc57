/**
 * The gateway's Effect metrics, exported at /metrics by the OpenTelemetry Prometheus exporter
 * (./PrometheusMetrics.ts). Tags stay of bounded cardinality: route templates, providers,
 * event types, targets, outcomes; never session or tenant ids.
 *
 * Each tag set's metric is made once, from a key that carries the tags (`byTags`): a metric
 * tagged with `Metric.tagged` builds and hashes a new key on every update, which cost a
 * tenth of a core at 2,000 polls a second (perf: docs/ARCHITECTURE.md#perf-metric-keys).
 */
import {
  type Clock,
  Duration,
  Effect,
  Metric,
  MetricBoundaries,
  MetricKey,
  type MetricKeyType,
  MetricLabel
} from "effect"
import { openStatuses, providerAliases, type SessionRecord } from "../domain/model.js"

/** The metric of `key` with `tags`, made on first use and kept (perf: docs/ARCHITECTURE.md#perf-metric-keys). */
const byTags = <Type extends MetricKeyType.MetricKeyType<any, any>>(key: MetricKey.MetricKey<Type>) => {
  const made = new Map<
    string,
    Metric.Metric<Type, MetricKeyType.MetricKeyType.InType<Type>, MetricKeyType.MetricKeyType.OutType<Type>>
  >()
  return (tags: Readonly<Record<string, string>>) => {
    const id = Object.values(tags).join("\u0000")
    let metric = made.get(id)
    if (metric === undefined) {
      metric = Metric.fromMetricKey(
        MetricKey.taggedWithLabels(key, Object.entries(tags).map(([k, v]) => MetricLabel.make(k, v)))
      )
      made.set(id, metric)
    }
    return metric
  }
}

/** Seconds, from 5 ms doubling to about 40 s. */
const latencyBoundaries = MetricBoundaries.exponential({ start: 0.005, factor: 2, count: 14 })

const counter = (name: string, description: string) =>
  byTags(MetricKey.counter(name, { description, incremental: true }))
const histogram = (name: string, description: string) =>
  byTags(MetricKey.histogram(name, latencyBoundaries, description))
const gauge = (name: string, description: string) => byTags(MetricKey.gauge(name, { description }))

const eventsIngested = counter("lcg_events_ingested_total", "normalized events persisted for delivery")
const eventsDelivered = counter("lcg_events_delivered_total", "events acknowledged by a delivery target")
const deliveryRetries = counter("lcg_delivery_retries_total", "delivery attempts that failed and were retried")
const eventsDeadLettered = counter("lcg_events_dead_lettered_total", "events given up after the retry budget")
const deliveryLag = histogram(
  "lcg_delivery_lag_seconds",
  "from an event's occurrence at the provider to its acknowledgement by the target"
)

// The per-event and per-call updates are one Effect.sync each: Metric.increment and Metric.update read the
// fiber's metric labels (we set none) in three fiber ops per update, several times per event.
// perf: docs/ARCHITECTURE.md#perf-metric-keys
/** One update per event accepted from `provider`, in a single op. */
export const countIngested = (provider: string, events: ReadonlyArray<{ readonly type: string }>) =>
  Effect.sync(() => {
    for (const event of events) eventsIngested({ provider, type: event.type }).unsafeUpdate(1, [])
  })
/** `clock` is read synchronously, as the delivery is acknowledged (a Clock.currentTimeMillis would be more ops per event). */
export const countDelivered = (
  clock: Clock.Clock,
  target: string,
  provider: string,
  type: string,
  occurredAt: string
) =>
  Effect.sync(() => {
    eventsDelivered({ target, provider, type }).unsafeUpdate(1, [])
    deliveryLag({ target }).unsafeUpdate(
      Math.max(0, (clock.unsafeCurrentTimeMillis() - Date.parse(occurredAt)) / 1000),
      []
    )
  })
export const countRetry = (target: string, provider: string, type: string) =>
  Metric.increment(deliveryRetries({ target, provider, type }))
export const countDeadLettered = (target: string, provider: string, type: string) =>
  Effect.asVoid(Metric.increment(eventsDeadLettered({ target, provider, type })))

const httpRequests = counter("lcg_http_requests_total", "HTTP requests answered, by route template and status")
const httpDuration = histogram("lcg_http_request_duration_seconds", "time to answer an HTTP request")

/**
 * Counts an answered request, outside any fiber (the direct routes answer from node's
 * callbacks) (perf: docs/ARCHITECTURE.md#perf-metric-keys).
 */
export const recordHttpRequest = (route: string, method: string, status: number, seconds: number) => {
  httpRequests({ route, method, status: String(status) }).unsafeUpdate(1, [])
  httpDuration({ route, method }).unsafeUpdate(seconds, [])
}

const webhooksRefused = counter(
  "lcg_webhooks_refused_total",
  "provider webhooks refused as unverifiable: no or a malformed signature, an unknown sender, or a signature that does not match"
)
const webhookUnknownConversations = counter(
  "lcg_webhook_unknown_conversations_total",
  "conversations in verified webhooks that the gateway does not know"
)

export const countWebhookRefused = (provider: string) =>
  Effect.sync(() => webhooksRefused({ provider }).unsafeUpdate(1, []))
export const countUnknownConversations = (provider: string, conversations: number) =>
  Effect.sync(() => webhookUnknownConversations({ provider }).unsafeUpdate(conversations, []))

const providerCalls = counter(
  "lcg_provider_calls_total",
  "calls to provider APIs, by outcome (2xx, 4xx, 5xx, unreachable)"
)
const providerCallDuration = histogram("lcg_provider_call_duration_seconds", "time for a provider API to answer")

/** `status` absent = no answer (timeout, connection refused). */
export const recordProviderCall = (provider: string, status: number | undefined, elapsed: Duration.Duration) =>
  Effect.sync(() => {
    providerCalls({ provider, outcome: status === undefined ? "unreachable" : `${Math.floor(status / 100)}xx` })
      .unsafeUpdate(1, [])
    providerCallDuration({ provider }).unsafeUpdate(Duration.toSeconds(elapsed), [])
  })

const pollCycles = counter("lcg_poll_cycles_total", "polls of open sessions, by poller and outcome")

export const countPoll = (poller: string, outcome: "ok" | "failed") =>
  Effect.sync(() => pollCycles({ poller, outcome }).unsafeUpdate(1, []))

const topicsRejected = counter(
  "lcg_genesys_topics_rejected_total",
  "Genesys notification topics the subscription refused, by topic kind: those conversations are re-read on a schedule instead"
)

/** One conversation's topic of `kind` (`user.start`, `customer.end`…) refused by Genesys. */
export const countTopicRejected = (kind: string) => Effect.sync(() => topicsRejected({ kind }).unsafeUpdate(1, []))

const clusterLeader = gauge("lcg_cluster_leader", "1 while this instance leads the cluster")({})
const clusterMembers = gauge("lcg_cluster_members", "live members of the cluster, as this instance sees it")({})
const partitionsOwned = gauge("lcg_cluster_partitions_owned", "partitions whose workers run on this instance")({})

export const recordCluster = (leading: boolean, members: number, owned: number) =>
  Effect.all([
    Metric.set(clusterLeader, leading ? 1 : 0),
    Metric.set(clusterMembers, members),
    Metric.set(partitionsOwned, owned)
  ], { discard: true })

const sessionsOpen = gauge(
  "lcg_sessions_open",
  "open sessions of the partitions this instance owns, by provider and state (sum over instances: the cluster's)"
)

/** "provider state" -> how many. */
export type OpenTally = ReadonlyMap<string, number>

/** One partition's open sessions, counted by provider and state. */
export const tallyOpen = (sessions: ReadonlyArray<Pick<SessionRecord, "provider" | "status">>): OpenTally => {
  const tally = new Map<string, number>()
  for (const s of sessions) {
    const key = `${s.provider} ${s.status}`
    tally.set(key, (tally.get(key) ?? 0) + 1)
  }
  return tally
}

/** Sets the open-sessions gauge of every provider and state (0 where none) to the sum of the partitions' tallies. */
export const recordOpenSessions = (tallies: Iterable<OpenTally>) =>
  Effect.suspend(() => {
    const totals = new Map<string, number>()
    for (const tally of tallies) for (const [key, n] of tally) totals.set(key, (totals.get(key) ?? 0) + n)
    return Effect.forEach(
      providerAliases.flatMap((provider) => openStatuses.map((state) => ({ provider, state }))),
      ({ provider, state }) => Metric.set(sessionsOpen({ provider, state }), totals.get(`${provider} ${state}`) ?? 0),
      { discard: true }
    )
  })

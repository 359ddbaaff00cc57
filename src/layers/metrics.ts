/**
 * The gateway's Effect metrics, exported at /metrics by the OpenTelemetry Prometheus exporter
 * (./PrometheusMetrics.ts). Tags stay of bounded cardinality: route templates, providers,
 * event types, targets, outcomes; never session or tenant ids.
 */
import { Duration, Effect, Metric, MetricBoundaries } from "effect"
import { openStatuses, providerAliases, type SessionRecord } from "../domain/model.js"

const tagged = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>, tags: Record<string, string>) =>
  Object.entries(tags).reduce((m, [k, v]) => Metric.tagged(m, k, v), metric)

/** The tagged metric for each tag set, made once: the hot paths (a poll, a request) do not rebuild metric keys. */
const taggedOnce = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>) => {
  const made = new Map<string, Metric.Metric<Type, In, Out>>()
  return (tags: Record<string, string>) => {
    const key = Object.values(tags).join("\u0000")
    let m = made.get(key)
    if (m === undefined) {
      m = tagged(metric, tags)
      made.set(key, m)
    }
    return m
  }
}

/** Seconds, from 5 ms doubling to about 40 s. */
const latencyBoundaries = MetricBoundaries.exponential({ start: 0.005, factor: 2, count: 14 })

const eventsIngested = Metric.counter("lcg_events_ingested_total", { description: "normalized events persisted for delivery", incremental: true })
const eventsDelivered = Metric.counter("lcg_events_delivered_total", { description: "events acknowledged by a delivery target", incremental: true })
const deliveryRetries = Metric.counter("lcg_delivery_retries_total", { description: "delivery attempts that failed and were retried", incremental: true })
const eventsDeadLettered = Metric.counter("lcg_events_dead_lettered_total", { description: "events given up after the retry budget", incremental: true })
const deliveryLag = Metric.histogram(
  "lcg_delivery_lag_seconds",
  latencyBoundaries,
  "from an event's occurrence at the provider to its acknowledgement by the target"
)

export const countIngested = (provider: string, type: string) => Metric.increment(tagged(eventsIngested, { provider, type }))
export const countDelivered = (target: string, provider: string, type: string, occurredAt: string) =>
  Effect.zipRight(
    Metric.increment(tagged(eventsDelivered, { target, provider, type })),
    Metric.update(tagged(deliveryLag, { target }), Math.max(0, (Date.now() - Date.parse(occurredAt)) / 1000))
  )
export const countRetry = (target: string, provider: string, type: string) =>
  Metric.increment(tagged(deliveryRetries, { target, provider, type }))
export const countDeadLettered = (target: string, provider: string, type: string) =>
  Effect.asVoid(Metric.increment(tagged(eventsDeadLettered, { target, provider, type })))

const httpRequests = Metric.counter("lcg_http_requests_total", { description: "HTTP requests answered, by route template and status", incremental: true })
const httpDuration = Metric.histogram("lcg_http_request_duration_seconds", latencyBoundaries, "time to answer an HTTP request")

const httpRequestsBy = taggedOnce(httpRequests)
const httpDurationBy = taggedOnce(httpDuration)

export const recordHttpRequest = (route: string, method: string, status: number, elapsed: Duration.Duration) =>
  Effect.zipRight(
    Metric.increment(httpRequestsBy({ route, method, status: String(status) })),
    Metric.update(httpDurationBy({ route, method }), Duration.toSeconds(elapsed))
  )

const providerCalls = Metric.counter("lcg_provider_calls_total", { description: "calls to provider APIs, by outcome (2xx, 4xx, 5xx, unreachable)", incremental: true })
const providerCallDuration = Metric.histogram("lcg_provider_call_duration_seconds", latencyBoundaries, "time for a provider API to answer")

/** `status` absent = no answer (timeout, connection refused). */
const providerCallsBy = taggedOnce(providerCalls)
const providerCallDurationBy = taggedOnce(providerCallDuration)

export const recordProviderCall = (provider: string, status: number | undefined, elapsed: Duration.Duration) =>
  Effect.zipRight(
    Metric.increment(providerCallsBy({ provider, outcome: status === undefined ? "unreachable" : `${Math.floor(status / 100)}xx` })),
    Metric.update(providerCallDurationBy({ provider }), Duration.toSeconds(elapsed))
  )

const pollCycles = Metric.counter("lcg_poll_cycles_total", { description: "polls of open sessions, by poller and outcome", incremental: true })

const pollCyclesBy = taggedOnce(pollCycles)

export const countPoll = (poller: string, outcome: "ok" | "failed") => Metric.increment(pollCyclesBy({ poller, outcome }))

const clusterLeader = Metric.gauge("lcg_cluster_leader", { description: "1 while this instance leads the cluster" })
const clusterMembers = Metric.gauge("lcg_cluster_members", { description: "live members of the cluster, as this instance sees it" })
const partitionsOwned = Metric.gauge("lcg_cluster_partitions_owned", { description: "partitions whose workers run on this instance" })

export const recordCluster = (leading: boolean, members: number, owned: number) =>
  Effect.all([Metric.set(clusterLeader, leading ? 1 : 0), Metric.set(clusterMembers, members), Metric.set(partitionsOwned, owned)], { discard: true })

const sessionsOpen = Metric.gauge("lcg_sessions_open", { description: "open sessions of the partitions this instance owns, by provider and state (sum over instances: the cluster's)" })
const sessionsOpenBy = taggedOnce(sessionsOpen)

/** Sets the open-sessions gauge of every provider and state (0 where none), from per-partition tallies. */
export const recordOpenSessions = (tallies: Iterable<ReadonlyArray<Pick<SessionRecord, "provider" | "status">>>) =>
  Effect.suspend(() => {
    const counts = new Map<string, number>()
    for (const sessions of tallies) for (const s of sessions) counts.set(`${s.provider} ${s.status}`, (counts.get(`${s.provider} ${s.status}`) ?? 0) + 1)
    return Effect.forEach(
      providerAliases.flatMap((provider) => openStatuses.map((state) => ({ provider, state }))),
      ({ provider, state }) => Metric.set(sessionsOpenBy({ provider, state }), counts.get(`${provider} ${state}`) ?? 0),
      { discard: true }
    )
  })

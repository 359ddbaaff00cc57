/** The gateway's counters, exposed at /metrics. Tagged per provider / event type / target. */
import { Effect, Metric } from "effect"

const eventsIngested = Metric.counter("lcg_events_ingested_total", { description: "normalized events persisted for delivery", incremental: true })
const eventsDelivered = Metric.counter("lcg_events_delivered_total", { description: "events acknowledged by a delivery target", incremental: true })
const deliveryRetries = Metric.counter("lcg_delivery_retries_total", { description: "delivery attempts that failed and were retried", incremental: true })
const eventsDeadLettered = Metric.counter("lcg_events_dead_lettered_total", { description: "events given up after the retry budget", incremental: true })

const tagged = (counter: Metric.Metric.Counter<number>, tags: Record<string, string>) =>
  Object.entries(tags).reduce((m, [k, v]) => Metric.tagged(m, k, v), counter)

export const countIngested = (provider: string, type: string) => Metric.increment(tagged(eventsIngested, { provider, type }))
export const countDelivered = (target: string, type: string) => Metric.increment(tagged(eventsDelivered, { target, type }))
export const countRetry = (target: string) => Metric.increment(tagged(deliveryRetries, { target }))
export const countDeadLettered = (target: string, type: string) =>
  Effect.asVoid(Metric.increment(tagged(eventsDeadLettered, { target, type })))

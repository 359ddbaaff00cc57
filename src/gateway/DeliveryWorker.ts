/**
 * Delivers the outbox to hbf-bot (and flow triggers to event-publisher): per partition one
 * consumer, per session one lane, so a session's events go out strictly in `seq` order
 * while different sessions proceed in parallel. A failing event is retried with backoff
 * (honouring Retry-After, up to 60 s) and holds its session's later events back; after the retry
 * budget, or at once for a permanent refusal, it becomes a dead letter and the lane goes on.
 */
import { Chunk, Clock, Duration, Effect, FiberSet, Layer, Option, Schedule, Stream } from "effect"
import type { LivechatEvent } from "../domain/model.js"
import { countDeadLettered, countDelivered, countRetry } from "../infra/metrics.js"
import { backoff, retryAfterFailure, retryingAfter } from "../infra/outbound.js"
import { traced } from "../infra/Tracing.js"
import { AppConfig } from "../services/AppConfig.js"
import { Coordinator, type PartitionRun } from "../services/Coordinator.js"
import type { StoreUnavailable } from "../services/errors.js"
import { EventPublisher } from "../services/EventPublisher.js"
import { DeliveryFailure, HbfBot } from "../services/HbfBot.js"
import { HbfCore } from "../services/HbfCore.js"
import { type DeliveryTarget, Outbox, type OutboxEntry } from "../services/Outbox.js"
import { Timeline } from "../services/Timeline.js"

const allTargets: ReadonlyArray<DeliveryTarget> = ["hbf-bot", "event-publisher"]

/** How a write the delivery path needs is retried through a store outage: quickly at first, then every 2 s. */
const storeRetries = Schedule.exponential(Duration.millis(100)).pipe(
  Schedule.either(Schedule.spaced(Duration.seconds(2)))
)

/** How long a delivered entry's ack keeps being retried. */
const ACK_PATIENCE = Duration.seconds(60)
const ackRetries = storeRetries.pipe(Schedule.upTo(ACK_PATIENCE))

/** While a partition's lease is not fresh, it is looked at again every LEASE_POLL. */
const LEASE_POLL = Duration.millis(200)
const untilLeaseFresh = Schedule.recurWhile((fresh: boolean) => !fresh).pipe(
  Schedule.zipLeft(Schedule.spaced(LEASE_POLL))
)

export const makeDeliveryWorker = Effect.gen(function*() {
  const config = yield* AppConfig
  const outbox = yield* Outbox
  const bot = yield* HbfBot
  const publisher = yield* EventPublisher
  const core = yield* HbfCore
  const coordinator = yield* Coordinator
  const timeline = yield* Timeline
  const clock = yield* Effect.clock

  /**
   * A write the delivery path cannot skip (a dead letter): retried until the store takes
   * it, since giving up would deliver the entry again or lose the letter. A store outage
   * holds the session's lane instead.
   */
  const untilStored = <A>(what: string, write: Effect.Effect<A, StoreUnavailable>) =>
    write.pipe(
      Effect.tapError((e) => Effect.logWarning(`${what} failed; retrying`, { reason: e.message })),
      Effect.retry(storeRetries),
      // The schedule never ends, so this cannot fail.
      Effect.orDie
    )

  const retrying = backoff<DeliveryFailure>(
    {
      retries: config.delivery.maxAttempts - 1,
      baseDelay: config.delivery.baseDelay,
      maxDelay: config.delivery.maxDelay
    },
    (failure) => failure.retryAfter,
    config.upstream.maxRetryAfter
  ).pipe(Schedule.whileInput((failure: DeliveryFailure) => !failure.permanent))

  /** The flow to trigger for this event, if the tenant lists one. A failed look-up is retried like a delivery. */
  const flowOf = (event: LivechatEvent): Effect.Effect<string | undefined, DeliveryFailure> =>
    Effect.matchEffect(core.tenant(event.tenantId), {
      onSuccess: (tenant) =>
        Effect.succeed(tenant.livechat._tag === "Right" ? tenant.livechat.right.flowTriggers[event.type] : undefined),
      onFailure: (e) =>
        e._tag === "TenantNotFound"
          ? Effect.succeed(undefined)
          : Effect.fail(new DeliveryFailure({ message: e.message, permanent: false, retryAfter: Option.none() }))
    })

  /**
   * One call to the target, as the session's timeline records it: its outcome, the status the
   * target answered and the latency, on the Effect clock read before and after without a fiber
   * op; a delivered one is counted too. Called once the attempt may go out, so the wait for the
   * lease is not latency.
   */
  const recorded = (
    target: DeliveryTarget,
    event: LivechatEvent,
    attempt: number,
    call: Effect.Effect<void, DeliveryFailure>
  ) => {
    const startedAt = clock.unsafeCurrentTimeMillis()
    const entry = (outcome: "delivered" | "failed", status?: number) => ({
      kind: "delivery" as const,
      eventId: event.id,
      seq: event.seq,
      target,
      attempt,
      outcome,
      ...(status !== undefined ? { status } : {}),
      latencyMs: clock.unsafeCurrentTimeMillis() - startedAt
    })
    return Effect.matchEffect(call, {
      onSuccess: () =>
        Effect.zipRight(
          timeline.record(event.sessionId, entry("delivered")),
          countDelivered(clock, target, event.provider, event.type, event.occurredAt)
        ),
      onFailure: (failure) =>
        Effect.zipRight(timeline.record(event.sessionId, entry("failed", failure.status)), Effect.fail(failure))
    })
  }

  /**
   * Why the last attempt failed, as the session's timeline keeps it (for 30 days, shown to
   * whoever reads it): the status the target answered, never the failure's own words, which
   * for a transport error name the target's host and port (docs/SECURITY.md).
   */
  const timelineReason = (failure: DeliveryFailure) =>
    failure.status !== undefined ? `answered ${failure.status}` : "did not answer"

  const send = (target: DeliveryTarget, event: LivechatEvent, attempt: number): Effect.Effect<void, DeliveryFailure> =>
    target === "hbf-bot"
      ? recorded(target, event, attempt, bot.deliver(event))
      : Effect.flatMap(flowOf(event), (flowId) =>
        flowId === undefined
          ? Effect.void
          : recorded(target, event, attempt, publisher.triggerFlow(flowId, event)))

  /**
   * Every attempt first waits for `mayDeliver` (the partition is this instance's, with a fresh
   * lease), so a process that was paused past its lease does not send on resuming. The retries
   * and the dead letter are set up only once the first attempt has failed
   * (perf: docs/ARCHITECTURE.md#perf-retry-after-failure).
   */
  const deliverTo = (target: DeliveryTarget, event: LivechatEvent, mayDeliver: Effect.Effect<void>) => {
    let attempts = 0
    const attempt = Effect.suspend(() => {
      attempts++
      const sending = Effect.flatMap(mayDeliver, () => send(target, event, attempts))
      return attempts > 1 ? Effect.zipRight(countRetry(target, event.provider, event.type), sending) : sending
    })
    const deadLettered = (failure: DeliveryFailure) =>
      Effect.gen(function*() {
        const failedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
        yield* Effect.logError("event dead-lettered", { target, attempts, reason: failure.message })
        yield* untilStored(
          "dead letter",
          outbox.deadLetter({ id: `${event.id}@${target}`, event, target, reason: failure.message, attempts, failedAt })
        )
        yield* timeline.record(event.sessionId, {
          kind: "dead-letter",
          eventId: event.id,
          target,
          attempts,
          reason: timelineReason(failure)
        })
        yield* countDeadLettered(target, event.provider, event.type)
      }).pipe(Effect.annotateLogs({ sessionId: event.sessionId, eventId: event.id, type: event.type, seq: event.seq }))
    // One catchAll on the way of a delivery that succeeds at once; the retries and the dead letter nest inside it.
    // perf: docs/ARCHITECTURE.md#perf-retry-after-failure
    return Effect.catchAll(attempt, (first) => Effect.catchAll(retryingAfter(first, attempt, retrying), deadLettered))
      .pipe(
        traced("deliver", {
          captureStackTrace: false,
          attributes: { target, sessionId: event.sessionId, eventId: event.id, seq: event.seq }
        })
      )
  }

  /** Whether `target` has anything to do with `event`: event-publisher only for the tenant's flows (a failed look-up is retried as a delivery). */
  const hasWork = (target: DeliveryTarget, event: LivechatEvent) =>
    target === "hbf-bot"
      ? Effect.succeed(true)
      : Effect.match(flowOf(event), { onFailure: () => true, onSuccess: (flow) => flow !== undefined })

  /**
   * The entry to each of its targets in turn (chained directly: Effect.forEach's set-up cost
   * more than two deliveries' bookkeeping) (perf: docs/ARCHITECTURE.md#perf-fiber-ops).
   */
  const deliver = (entry: OutboxEntry, mayDeliver: Effect.Effect<void>) => {
    const targets = entry.targets ?? allTargets
    const from = (i: number): Effect.Effect<void> =>
      i === targets.length
        ? Effect.void
        : Effect.flatMap(hasWork(targets[i]!, entry.event), (work) =>
          work ? Effect.zipRight(deliverTo(targets[i]!, entry.event, mayDeliver), from(i + 1)) : from(i + 1))
    return from(0)
  }

  /**
   * The ack of an entry that was delivered. It is retried through a store outage, for up to
   * ACK_PATIENCE, and is not interrupted by a hand-over: an entry delivered and left pending
   * would be delivered again by the partition's next run. Past that it gives up, and the
   * entry may reach hbf-bot twice (its id lets hbf-bot tell).
   */
  const ackDelivered = (entry: OutboxEntry) =>
    outbox.ack(entry).pipe(
      Effect.tapError((e) =>
        Effect.logWarning("outbox ack failed; retrying", { eventId: entry.event.id, reason: e.message })
      ),
      // perf: docs/ARCHITECTURE.md#perf-retry-after-failure
      (ack) => retryAfterFailure(ack, ackRetries),
      Effect.catchAll((e) =>
        Effect.as(
          Effect.logError("outbox ack given up; the event may be delivered again", {
            eventId: entry.event.id,
            reason: e.message
          }),
          "acked" as const
        )
      ),
      Effect.tap(() => Effect.logDebug("event delivered", { sessionId: entry.event.sessionId, seq: entry.event.seq }))
    )

  /**
   * Runs one partition until `handOver` completes: one lane per session with events in
   * flight. On hand-over it stops consuming, each lane finishes the entry it is on and
   * stops, and the rest stay unacked for the next owner, who reclaims them in order. The
   * lanes outlive a failed consumer: it is restarted after a second, and the entries it
   * hands out again (unacked, so reclaimed) that a lane already holds are skipped.
   */
  const runPartition = ({ handOver, partition }: PartitionRun) =>
    Effect.gen(function*() {
      const lanes = new Map<string, Array<OutboxEntry>>()
      const held = new Set<string>()
      const fibers = yield* FiberSet.make()
      let handingOver = false
      // While the lease is not fresh (store away, this process paused), wait. A hand-over
      // stops a lane only between entries, so an entry sent to hbf-bot also gets its other
      // targets and its ack.
      const leaseFresh = Effect.sync(() => coordinator.mayAct(partition))
      const leaseRenewed = Effect.asVoid(Effect.scheduleFrom(leaseFresh, false, untilLeaseFresh))
      const mayDeliver: Effect.Effect<void> = Effect.suspend(
        () => (coordinator.mayAct(partition) ? Effect.void : leaseRenewed)
      )
      const drain = (sessionId: string, lane: Array<OutboxEntry>): Effect.Effect<void> =>
        Effect.suspend(() => {
          const head = lane[0]
          if (head === undefined || handingOver) {
            lanes.delete(sessionId)
            return Effect.void
          }
          // Interruptible while delivering; once delivered, the ack runs to its end.
          return Effect.uninterruptibleMask((restore) =>
            Effect.zipRight(restore(deliver(head, mayDeliver)), ackDelivered(head))
          ).pipe(
            Effect.flatMap((acked) => {
              lane.shift()
              held.delete(head.id)
              // Another instance holds the partition now: it has these entries, so stop here.
              if (acked === "not-owner") lane.length = 0
              return drain(sessionId, lane)
            })
          )
        })
      const take = (entry: OutboxEntry) =>
        Effect.suspend(() => {
          if (held.has(entry.id)) return Effect.void
          held.add(entry.id)
          const lane = lanes.get(entry.event.sessionId)
          if (lane !== undefined) {
            lane.push(entry)
            return Effect.void
          }
          const fresh = [entry]
          lanes.set(entry.event.sessionId, fresh)
          return FiberSet.run(fibers, drain(entry.event.sessionId, fresh))
        })
      // Pulled batch by batch: Stream.runForEach's sink cost a dozen fiber ops a batch, and a batch is often one entry.
      // perf: docs/ARCHITECTURE.md#perf-fiber-ops
      const consumeAll = Effect.scoped(
        Effect.flatMap(Stream.toPull(outbox.consume(partition)), (pull) => {
          const loop: Effect.Effect<never, Option.Option<StoreUnavailable>> = Effect.flatMap(pull, (batch) =>
            Effect.zipRight(
              batch.length === 1 ? take(Chunk.unsafeHead(batch)) : Effect.forEach(batch, take, { discard: true }),
              loop
            ))
          return loop
        })
      )
      yield* consumeAll.pipe(
        Effect.catchAll((e) =>
          Option.isSome(e)
            ? Effect.logError("outbox consumer failed; restarting", { partition, reason: e.value.message })
            : Effect.void
        ),
        Effect.repeat(Schedule.spaced(Duration.seconds(1))),
        Effect.raceFirst(handOver)
      )
      handingOver = true
      yield* FiberSet.awaitEmpty(fibers)
    }).pipe(Effect.scoped)

  return { runPartition }
})

/** Outbox delivery for every partition this instance owns, moving with ownership. */
export const DeliveryWorkerLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const coordinator = yield* Coordinator
    const worker = yield* makeDeliveryWorker
    yield* coordinator.runPerPartition("outbox-delivery", worker.runPartition)
  })
)

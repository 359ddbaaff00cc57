/**
 * Polling of open sessions, for providers whose events come (or may only be recovered) by
 * asking: CCP chats every 5 s, the Zendesk backstop every 30 s. Each session of an owned
 * partition has a poller fiber: it polls every interval, jittered (so 10,000 chats do not
 * poll in lockstep), or at once when asked ("poll this session now"), and commits each
 * batch of events together with its new cursor, so a restart or a failover resumes right
 * after it. Errors back off and recover; the poller stops when the session ends. Pollers
 * move with their partition.
 *
 * A poll's provider calls go into the session's timeline only when the poll failed or brought
 * events (`keepPollCalls`, before they are ingested): a quiet chat's timeline is not filled
 * with empty polls (docs/ARCHITECTURE.md#session-timeline).
 *
 * Thousands of pollers wait cheaply: each waits on its own wake-up queue only, and one
 * `PollClock` per partition (on a `Schedule.spaced` tick) wakes those whose time has come. A
 * timer and a race per poller and per wait cost more than the poll itself
 * (perf: docs/ARCHITECTURE.md#perf-poll-clock).
 */
import {
  Clock,
  Data,
  Duration,
  Effect,
  Either,
  FiberMap,
  FiberRef,
  Option,
  Queue,
  Random,
  Schedule,
  type Scope
} from "effect"
import type { ProviderAlias, SessionRecord } from "../domain/model.js"
import { isOpen } from "../domain/stateMachine.js"
import { type LivechatConfig, tenantConfigFor } from "../domain/tenant.js"
import type { TimelineEntryInput } from "../domain/timeline.js"
import { countPoll } from "../infra/metrics.js"
import { Coordinator, type CoordinatorService, pollNowKindOf, pollSessionNow } from "../services/Coordinator.js"
import type { StoreUnavailable } from "../services/errors.js"
import type { HbfCoreService } from "../services/HbfCore.js"
import { SessionStore } from "../services/SessionStore.js"
import { currentTimelineScope, Timeline, type TimelineScope, type TimelineService } from "../services/Timeline.js"

export const pollerTimings = {
  /** How often the partition's poll clock wakes the pollers that are due. */
  tick: Duration.millis(50),
  /**
   * Each wait is the poll interval less up to this share: enough to keep pollers from
   * drifting into lockstep, small enough that an agent's message waits at most about one
   * interval (the CCP p99 goal is 5.5 s at a 5 s interval).
   */
  jitter: 0.02,
  /** Open sessions of an owned partition are looked for this often (new ones are usually started at once by a poll-now). */
  rescanInterval: Duration.seconds(30),
  /**
   * A poller looks its tenant's config up again after this long (a changed host or key)
   * (perf: docs/ARCHITECTURE.md#perf-poll-clock).
   */
  configMaxAge: Duration.seconds(60),
  /** Backoff after failed polls: doubling from the poll interval up to this. */
  maxBackoff: Duration.seconds(60)
}

/** Why a poll failed; logged, then the poller backs off. Any error with a message is one (a store's, a provider client's). */
export interface PollFailure {
  readonly message: string
}

/** A poll that failed for a reason of the poller's own. */
export class PollFailed extends Data.TaggedError("PollFailed")<{ readonly message: string }> {}

/** What a provider's poller does, given the tenant's config `C` and its cursor `S`. */
export interface SessionPolling<C, S> {
  /** Names the pollers' partition worker, their metrics and logs. */
  readonly name: string
  readonly interval: Duration.Duration
  /** The tenant's config for the session, as hbf-core has it now. */
  readonly configOf: (session: SessionRecord) => Effect.Effect<C, PollFailure>
  /**
   * One poll: reads what is new after `state`, ingests it with the new cursor, and says
   * whether the session is still open (a closed one stops its poller) and whether more is
   * ready to ingest at once (`more`: the next poll comes at the clock's next tick, not after
   * the interval).
   */
  readonly poll: (
    config: C,
    session: SessionRecord,
    state: S
  ) => Effect.Effect<{ readonly state: S; readonly open: boolean; readonly more?: boolean }, PollFailure>
}

/** The session's tenant's livechat config, as hbf-core has it now, when it is still `provider`'s. */
export const currentConfigOf =
  <P extends ProviderAlias>(core: HbfCoreService, provider: P) =>
  (session: SessionRecord): Effect.Effect<Extract<LivechatConfig, { readonly provider: P }>, PollFailure> =>
    Effect.flatMap(core.tenant(session.tenantId), (tenant) =>
      Option.match(tenantConfigFor(tenant, provider), {
        onNone: () =>
          Effect.fail(new PollFailed({ message: `tenant ${session.tenantId} no longer has a ${provider} config` })),
        onSome: Effect.succeed
      }))

/** A poll's provider calls, held until the poll proves worth them in the session's timeline: it brought events, or failed. */
class HeldPollCalls implements TimelineScope {
  private held: Array<TimelineEntryInput> = []
  constructor(readonly sessionId: string, private readonly timeline: TimelineService) {}
  readonly record = (entry: TimelineEntryInput) => Effect.sync(() => void this.held.push(entry))
  readonly keep: Effect.Effect<void> = Effect.suspend(() => {
    const kept = this.held
    this.held = []
    return Effect.forEach(kept, (entry) => this.timeline.record(this.sessionId, entry), { discard: true })
  })
  readonly drop = () => void (this.held = [])
}

/** Records the calls of the poll under way in the session's timeline: a poller's ingest, before it ingests what the poll brought. */
export const keepPollCalls: Effect.Effect<void> = FiberRef.getWith(
  currentTimelineScope,
  (scope) => scope instanceof HeldPollCalls ? scope.keep : Effect.void
)

/** Wakes waiting pollers when their time comes. */
export interface PollClock {
  /** Waits until `delay` has passed, or until something is offered to `wake` (an early poll). */
  readonly wait: (wake: Queue.Queue<void>, delay: Duration.Duration) => Effect.Effect<void>
}

/**
 * One clock for many pollers: a tick every `tick` wakes the pollers that are due. Waits are
 * kept in buckets by tick, so a tick touches only the pollers due in it, not all of them. The
 * clock ticks only while some poller waits: an idle one in every owned partition, for each
 * polling provider, cost a tenth of a core with no session open
 * (perf: docs/ARCHITECTURE.md#perf-poll-clock).
 */
export const makePollClock = (tick: Duration.Duration): Effect.Effect<PollClock, never, Scope.Scope> =>
  Effect.gen(function*() {
    const tickMs = Duration.toMillis(tick)
    /** Tick number -> the wake-up queues of the pollers due in it. */
    const buckets = new Map<number, Set<Queue.Queue<void>>>()
    /** Each waiting poller's tick. */
    const dueTick = new Map<Queue.Queue<void>, number>()
    let lastTick = Math.floor((yield* Clock.currentTimeMillis) / tickMs) - 1
    /** Open while some poller waits. */
    const waiting = yield* Effect.makeLatch(false)

    const forget = (wake: Queue.Queue<void>) => {
      const at = dueTick.get(wake)
      if (at === undefined) return
      dueTick.delete(wake)
      buckets.get(at)?.delete(wake)
    }

    const wakeDue = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.sync(() => {
        const current = Math.floor(now / tickMs)
        for (let t = lastTick + 1; t <= current; t++) {
          const due = buckets.get(t)
          if (due === undefined) continue
          buckets.delete(t)
          for (const wake of due) {
            dueTick.delete(wake)
            Queue.unsafeOffer(wake, undefined)
          }
        }
        lastTick = Math.max(lastTick, current)
        if (dueTick.size === 0) {
          buckets.clear()
          waiting.unsafeClose()
        }
      }))
    yield* Effect.forkScoped(
      Effect.forever(Effect.zipRight(waiting.await, Effect.zipRight(Effect.sleep(tick), wakeDue)))
    )
    return {
      wait: (wake, delay) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          forget(wake)
          // After a pause (nothing waited), the ticks in between had nothing due: the next tick starts from now.
          if (dueTick.size === 0) lastTick = Math.max(lastTick, Math.floor(now / tickMs) - 1)
          const at = Math.max(Math.ceil((now + Duration.toMillis(delay)) / tickMs), lastTick + 1)
          dueTick.set(wake, at)
          const bucket = buckets.get(at) ?? new Set()
          bucket.add(wake)
          buckets.set(at, bucket)
          waiting.unsafeOpen()
          // Forgotten also when the poller is interrupted (its session ended), so an idle clock stops ticking.
          return Effect.ensuring(Queue.take(wake), Effect.sync(() => forget(wake)))
        })
    }
  })

/**
 * Polls one session until it ends. `wake` asks for a poll now. A poller started with many
 * others (a partition taken over) first waits a random part of the interval, so they spread
 * over it instead of polling together. With a `timeline`, each poll's provider calls are held,
 * and recorded in the session's timeline when the poll brought events (keepPollCalls) or
 * failed. Exported for the TestClock unit tests.
 */
export const pollSession = <C, S>(
  polling: SessionPolling<C, S>,
  clock: PollClock,
  session: SessionRecord,
  initial: S,
  wake: Queue.Queue<void>,
  options: { readonly spreadStart?: boolean; readonly timeline?: TimelineService } = {}
) =>
  Effect.gen(function*() {
    const held = options.timeline === undefined ? undefined : new HeldPollCalls(session.sessionId, options.timeline)
    const intervalMs = Duration.toMillis(polling.interval)
    let state = initial
    let failures = 0
    if (options.spreadStart === true) yield* clock.wait(wake, Duration.millis(yield* Random.nextRange(0, intervalMs)))

    /** The tenant's config, looked up again once a minute rather than on every poll. */
    let config: { readonly value: C; readonly at: number } | undefined
    const currentConfig = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      if (config !== undefined && now - config.at < Duration.toMillis(pollerTimings.configMaxAge)) return config.value
      const fresh = yield* Effect.either(polling.configOf(session))
      // hbf-core away: the last config still works; polling does not stop for it.
      if (fresh._tag === "Left") return config !== undefined ? config.value : yield* Effect.fail(fresh.left)
      config = { value: fresh.right, at: now }
      return fresh.right
    })

    for (;;) {
      // The next poll is due an interval after this one started, not after it ended: a slow
      // answer does not stretch the time an agent's message can wait.
      const startedAt = yield* Clock.currentTimeMillis
      const polled = Effect.flatMap(currentConfig, (c) => polling.poll(c, session, state))
      const outcome = yield* Effect.either(
        held === undefined ? polled : Effect.locally(polled, currentTimelineScope, held)
      )
      yield* countPoll(polling.name, Either.isRight(outcome) ? "ok" : "failed")
      if (held !== undefined) {
        if (Either.isLeft(outcome)) yield* held.keep
        else held.drop()
      }
      let more = false
      if (Either.isRight(outcome)) {
        failures = 0
        state = outcome.right.state
        more = outcome.right.more === true
        if (!outcome.right.open) return
      } else {
        failures++
        // The first failure and then every tenth: a long outage does not flood the log.
        if (failures === 1 || failures % 10 === 0) {
          yield* Effect.logWarning("poll failed; backing off", {
            sessionId: session.sessionId,
            failures,
            reason: outcome.left.message
          })
        }
      }
      const delay = more
        ? Duration.zero
        : failures === 0
        ? Duration.millis(
          // Jitter below the interval only: CCP asks to be polled at least every interval.
          Math.max(
            0,
            startedAt + intervalMs * (yield* Random.nextRange(1 - pollerTimings.jitter, 1)) -
              (yield* Clock.currentTimeMillis)
          )
        )
        : Duration.min(Duration.times(polling.interval, 2 ** Math.min(failures - 1, 10)), pollerTimings.maxBackoff)
      yield* clock.wait(wake, delay)
    }
  })

/**
 * Runs a poller for every open session of `provider` whose cursor `stateOf` reads, in the
 * partitions this instance owns, and answers "poll this session now" for them. Needs the
 * Coordinator and the SessionStore.
 */
export const runSessionPollers = <C, S>(
  provider: ProviderAlias,
  stateOf: (session: SessionRecord) => Option.Option<S>,
  polling: SessionPolling<C, S>
) =>
  Effect.gen(function*() {
    const pollable = (session: SessionRecord): Option.Option<S> =>
      session.provider === provider && isOpen(session.status) ? stateOf(session) : Option.none()
    const coordinator = yield* Coordinator
    const store = yield* SessionStore
    const timeline = yield* Timeline

    const name = polling.name
    yield* coordinator.runPerPartition(name, ({ answer, handOver, partition }) =>
      Effect.gen(function*() {
        const pollers = yield* FiberMap.make<string>()
        const clock = yield* makePollClock(pollerTimings.tick)
        const wakes = new Map<string, Queue.Queue<void>>()

        const start = (session: SessionRecord, state: S, spreadStart: boolean) =>
          Effect.gen(function*() {
            const wake = yield* Queue.sliding<void>(1)
            // Checked and set with no yield between: one poller per session.
            if (wakes.has(session.sessionId)) return
            wakes.set(session.sessionId, wake)
            const forget = Effect.sync(() => {
              if (wakes.get(session.sessionId) === wake) wakes.delete(session.sessionId)
            })
            yield* FiberMap.run(
              pollers,
              session.sessionId,
              pollSession(polling, clock, session, state, wake, { spreadStart, timeline }).pipe(
                Effect.ensuring(forget)
              ),
              {
                onlyIfMissing: true
              }
            )
          })

        /** Starts a poller for every pollable open session of the partition, and stops those whose session ended elsewhere. */
        const scan: Effect.Effect<void, StoreUnavailable> = Effect.flatMap(store.openSessions(partition), (sessions) =>
          Effect.gen(function*() {
            const open = new Set<string>()
            for (const session of sessions) {
              const state = pollable(session)
              if (Option.isNone(state)) continue
              open.add(session.sessionId)
              yield* start(session, state.value, true)
            }
            for (const sessionId of [...wakes.keys()]) {
              if (!open.has(sessionId)) {
                yield* FiberMap.remove(pollers, sessionId)
              }
            }
          }))

        yield* answer(pollNowKindOf(provider), (sessionId) =>
          Effect.gen(function*() {
            const wake = wakes.get(sessionId)
            if (wake !== undefined) {
              yield* Queue.offer(wake, undefined)
              return true
            }
            // A session just created (or missed by the scan): start its poller, which polls at once.
            const session = yield* Effect.orElseSucceed(store.get(sessionId), () =>
              Option.none<SessionRecord>())
            if (Option.isNone(session)) return false
            const state = pollable(session.value)
            if (Option.isNone(state)) return false
            yield* start(session.value, state.value, false)
            return true
          }))

        yield* Effect.raceFirst(
          handOver,
          scan.pipe(
            Effect.catchAll((e) =>
              Effect.logWarning("poller scan failed", { worker: name, partition, reason: e.message })
            ),
            Effect.repeat(Schedule.spaced(pollerTimings.rescanInterval)),
            Effect.asVoid
          )
        )
      }).pipe(Effect.scoped))
  })

/**
 * Asks the session's poller (wherever its partition is owned) to poll now; for a new session
 * this starts its poller. Best effort: the owner's next scan finds the session anyway.
 */
export const askForPoll = (coordinator: CoordinatorService, provider: ProviderAlias, sessionId: string) =>
  pollSessionNow(sessionId, pollNowKindOf(provider)).pipe(
    Effect.provideService(Coordinator, coordinator),
    Effect.tap((
      outcome
    ) => (outcome === "handled"
      ? Effect.void
      : Effect.logDebug("no poller took the early poll; the next scan will", { outcome }))
    ),
    Effect.catchAll((e) => Effect.logWarning("could not ask for an early poll", { sessionId, reason: e.message })),
    Effect.asVoid
  )

/**
 * The CCP poller's cadence on the TestClock: a jittered 5 s schedule, an early poll when
 * woken, the cursor carried from batch to batch, an answer larger than the per-poll maximum
 * ingested over the next ticks, backoff on failures, and stopping when the chat or the
 * session is over.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Queue, TestClock } from "effect"
import type { SessionRecord } from "../../src/domain/model.js"
import type { TimelineEntryInput } from "../../src/domain/timeline.js"
import type { CcpConfig, CiscoApiService } from "../../src/providers/cisco/client.js"
import { type ChatPollerDeps, ciscoPolling } from "../../src/providers/cisco/poller.js"
import type { CcpEvent } from "../../src/providers/cisco/xml.js"
import { ProviderApiError } from "../../src/providers/providerCalls.js"
import { keepPollCalls, makePollClock, pollerTimings, pollSession } from "../../src/providers/sessionPoller.js"
import { StoreUnavailable } from "../../src/services/errors.js"
import { recordCallInScope, type TimelineService } from "../../src/services/Timeline.js"

const session = {
  sessionId: "s1",
  tenantId: "t1",
  provider: "cisco-livechat",
  status: "active",
  providerConversationId: "chat-1"
} as SessionRecord
const config = {
  provider: "cisco-livechat",
  tenantId: "t1",
  cisco: { baseUrl: "http://ccp", feedId: "1", queueTag: "Chat_Csq1" }
} as CcpConfig

/** A CCP whose poll answers are scripted per call; records every cursor asked for and every ingest. */
const fakeCcp = (
  answers: ReadonlyArray<ReadonlyArray<CcpEvent> | ProviderApiError>,
  open = () => true,
  maxEventsPerPoll = 500
) => {
  const polls: Array<number> = []
  const ingested: Array<{ ids: ReadonlyArray<string>; state: Readonly<Record<string, unknown>> }> = []
  const api = {
    poll: (_config, _cookie, eventId) =>
      Effect.suspend(() => {
        const answer = answers[polls.length] ?? []
        polls.push(eventId)
        return answer instanceof ProviderApiError ? Effect.fail(answer) : Effect.succeed(answer)
      })
  } as CiscoApiService
  const deps: ChatPollerDeps = {
    api,
    configOf: () => Effect.succeed(config),
    ingest: (_sessionId, events, state) =>
      Effect.sync(() => {
        ingested.push({ ids: events.map((e) => e.id), state })
        return { accepted: events.length, open: open() }
      }),
    interval: Duration.seconds(5),
    maxEventsPerPoll
  }
  return { deps, polls, ingested }
}

const message = (id: number): CcpEvent => ({ _tag: "MessageEvent", id, from: "Maria", body: `m${id}` })
const start = { cookie: "c", eventId: 0, customer: "Alice" }

describe("CCP poller", () => {
  it.scoped("a poll's call goes into the session's timeline only when the poll brought events or failed", () =>
    Effect.gen(function*() {
      const { deps } = fakeCcp([
        [],
        [message(1)],
        new ProviderApiError({ provider: "cisco-livechat", message: "503" }),
        []
      ])
      const answered = deps.api.poll
      // As the CCP client records each call in the scope it runs in.
      const api = {
        ...deps.api,
        poll: (...args: Parameters<typeof answered>) =>
          Effect.zipRight(
            recordCallInScope("GET /ccp/rest/chat", 1, 1, 200),
            answered(...args)
          )
      }
      const recorded: Array<[string, TimelineEntryInput]> = []
      const timeline = {
        record: (sessionId, entry) => Effect.sync(() => void recorded.push([sessionId, entry]))
      } as TimelineService
      const polling = ciscoPolling({
        ...deps,
        api,
        ingest: (sessionId, events, state) => Effect.zipRight(keepPollCalls, deps.ingest(sessionId, events, state))
      })
      const wake = yield* Queue.sliding<void>(1)
      const clock = yield* makePollClock(pollerTimings.tick)
      const fiber = yield* Effect.fork(pollSession(polling, clock, session, start, wake, { timeline }))
      // A quiet poll: nothing recorded.
      yield* TestClock.adjust(Duration.millis(1))
      expect(recorded).toEqual([])
      // A poll that brought an event, then a failed one: both recorded; then a quiet one again.
      for (let n = 0; n < 3; n++) {
        yield* Queue.offer(wake, undefined)
        yield* TestClock.adjust(pollerTimings.tick)
      }
      expect(recorded.map(([sessionId, entry]) => [sessionId, entry.kind])).toEqual([
        ["s1", "provider.call"],
        ["s1", "provider.call"]
      ])
      yield* Fiber.interrupt(fiber)
    }))

  it.scoped("polls at once, then every 5 s give or take 2% (to the poll clock's 50 ms tick)", () =>
    Effect.gen(function*() {
      const { deps, polls } = fakeCcp([])
      const wake = yield* Queue.sliding<void>(1)
      const clock = yield* makePollClock(pollerTimings.tick)
      const fiber = yield* Effect.fork(pollSession(ciscoPolling(deps), clock, session, start, wake))
      yield* TestClock.adjust(Duration.millis(1))
      expect(polls).toHaveLength(1)
      yield* TestClock.adjust(Duration.millis(4_700))
      expect(polls).toHaveLength(1)
      yield* TestClock.adjust(Duration.millis(600))
      expect(polls).toHaveLength(2)
      yield* TestClock.adjust(Duration.seconds(60))
      // 60 s at 4.9-5.1 s per poll (woken on the clock's next 50 ms tick).
      expect(polls.length - 2).toBeGreaterThanOrEqual(11)
      expect(polls.length - 2).toBeLessThanOrEqual(12)
      yield* Fiber.interrupt(fiber)
    }))

  it.scoped("the poll clock: a wait ends on the first tick after its delay, also after an hour with nobody waiting", () =>
    Effect.gen(function*() {
      const clock = yield* makePollClock(pollerTimings.tick)
      const waitFor = (delay: Duration.Duration) =>
        Effect.flatMap(Queue.sliding<void>(1), (wake) => Effect.fork(clock.wait(wake, delay)))
      const first = yield* waitFor(Duration.seconds(1))
      yield* TestClock.adjust(Duration.millis(950))
      expect(first.unsafePoll()).toBeNull()
      yield* TestClock.adjust(Duration.millis(100))
      expect(first.unsafePoll()).not.toBeNull()
      yield* TestClock.adjust(Duration.hours(1))
      const second = yield* waitFor(Duration.seconds(5))
      yield* TestClock.adjust(Duration.millis(4_900))
      expect(second.unsafePoll()).toBeNull()
      yield* TestClock.adjust(Duration.millis(200))
      expect(second.unsafePoll()).not.toBeNull()
    }))

  it.scoped("pollers started together (a partition taken over) spread their first polls over the interval", () =>
    Effect.gen(function*() {
      const ccps = Array.from({ length: 20 }, () => fakeCcp([]))
      const clock = yield* makePollClock(pollerTimings.tick)
      const fibers = yield* Effect.forEach(
        ccps,
        ({ deps }) =>
          Effect.flatMap(
            Queue.sliding<void>(1),
            (own) => Effect.fork(pollSession(ciscoPolling(deps), clock, session, start, own, { spreadStart: true }))
          )
      )
      yield* TestClock.adjust(Duration.millis(1))
      const polled = () => ccps.filter((c) => c.polls.length > 0).length
      expect(polled()).toBeLessThan(5)
      yield* TestClock.adjust(Duration.millis(2_500))
      expect(polled()).toBeGreaterThan(3)
      expect(polled()).toBeLessThan(17)
      yield* TestClock.adjust(Duration.millis(2_500))
      expect(polled()).toBe(20)
      yield* Fiber.interruptAll(fibers)
    }))

  it.scoped("a wake-up during the spread start polls at once", () =>
    Effect.gen(function*() {
      const { deps, polls } = fakeCcp([])
      const wake = yield* Queue.sliding<void>(1)
      const clock = yield* makePollClock(pollerTimings.tick)
      const fiber = yield* Effect.fork(
        pollSession(ciscoPolling(deps), clock, session, start, wake, { spreadStart: true })
      )
      yield* Queue.offer(wake, undefined)
      yield* TestClock.adjust(Duration.millis(1))
      expect(polls).toHaveLength(1)
      yield* Fiber.interrupt(fiber)
    }))

  it.scoped("a wake-up polls at once; each batch is ingested with its cursor and the next poll starts after it", () =>
    Effect.gen(function*() {
      const { deps, ingested, polls } = fakeCcp([[message(3), message(7)], [], [message(9)]])
      const wake = yield* Queue.sliding<void>(1)
      const clock = yield* makePollClock(pollerTimings.tick)
      const fiber = yield* Effect.fork(pollSession(ciscoPolling(deps), clock, session, start, wake))
      yield* TestClock.adjust(Duration.millis(1))
      yield* Queue.offer(wake, undefined)
      yield* TestClock.adjust(Duration.millis(1))
      yield* Queue.offer(wake, undefined)
      yield* TestClock.adjust(Duration.millis(1))
      expect(polls).toEqual([0, 7, 7])
      expect(ingested).toEqual([
        { ids: ["cisco-livechat:chat-1:3", "cisco-livechat:chat-1:7"], state: { eventId: 7 } },
        { ids: ["cisco-livechat:chat-1:9"], state: { eventId: 9 } }
      ])
      yield* Fiber.interrupt(fiber)
    }))

  it.scoped("an answer of more events than a poll takes is ingested in batches of at most the maximum, one tick apart, in order, none twice, CCP asked once", () =>
    Effect.gen(function*() {
      const answer = Array.from({ length: 250 }, (_, i) => message(2 * i + 1))
      const { deps, ingested, polls } = fakeCcp([answer, [message(1000)]], () => true, 100)
      const wake = yield* Queue.sliding<void>(1)
      const clock = yield* makePollClock(pollerTimings.tick)
      const fiber = yield* Effect.fork(pollSession(ciscoPolling(deps), clock, session, start, wake))
      yield* TestClock.adjust(Duration.millis(1))
      expect(ingested.map((batch) => batch.ids.length)).toEqual([100])
      yield* TestClock.adjust(pollerTimings.tick)
      expect(ingested.map((batch) => batch.ids.length)).toEqual([100, 100])
      yield* TestClock.adjust(pollerTimings.tick)
      expect(ingested.map((batch) => batch.ids.length)).toEqual([100, 100, 50])
      // Each batch is committed with its own last id: a poller stopped in between resumes right after it.
      expect(ingested.map((batch) => batch.state)).toEqual([{ eventId: 199 }, { eventId: 399 }, { eventId: 499 }])
      expect(ingested.flatMap((batch) => batch.ids)).toEqual(answer.map((e) => `cisco-livechat:chat-1:${e.id}`))
      expect(polls).toEqual([0])
      // Then the usual interval, from the cursor of the last batch.
      yield* TestClock.adjust(Duration.seconds(5))
      expect(polls).toEqual([0, 499])
      expect(ingested.at(-1)).toEqual({ ids: ["cisco-livechat:chat-1:1000"], state: { eventId: 1000 } })
      yield* Fiber.interrupt(fiber)
    }))

  it.scoped("a batch the store could not take is ingested again, and the events after it stay in order", () =>
    Effect.gen(function*() {
      const answer = Array.from({ length: 5 }, (_, i) => message(i + 1))
      const { deps, ingested, polls } = fakeCcp([answer], () => true, 2)
      let refusals = 1
      const flaky: ChatPollerDeps = {
        ...deps,
        // The second batch fails once (the store away), then every batch is taken.
        ingest: (sessionId, events, state) =>
          ingested.length === 1 && refusals-- > 0
            ? Effect.fail(new StoreUnavailable({ message: "store away" }))
            : deps.ingest(sessionId, events, state)
      }
      const wake = yield* Queue.sliding<void>(1)
      const clock = yield* makePollClock(pollerTimings.tick)
      const fiber = yield* Effect.fork(pollSession(ciscoPolling(flaky), clock, session, start, wake))
      yield* TestClock.adjust(Duration.seconds(30))
      expect(ingested.flatMap((batch) => batch.ids)).toEqual(answer.map((e) => `cisco-livechat:chat-1:${e.id}`))
      expect(ingested.map((batch) => batch.state)).toEqual([{ eventId: 2 }, { eventId: 4 }, { eventId: 5 }])
      expect(polls[0]).toBe(0)
      expect(polls.slice(1).every((cursor) => cursor === 5)).toBe(true)
      yield* Fiber.interrupt(fiber)
    }))

  it.scoped("failures back off (5, 10, 20 s) and the poller recovers", () =>
    Effect.gen(function*() {
      const down = new ProviderApiError({ provider: "cisco-livechat", message: "CCP answered 503", status: 503 })
      const { deps, polls } = fakeCcp([down, down, down, [message(1)]])
      const wake = yield* Queue.sliding<void>(1)
      const clock = yield* makePollClock(pollerTimings.tick)
      const fiber = yield* Effect.fork(pollSession(ciscoPolling(deps), clock, session, start, wake))
      yield* TestClock.adjust(Duration.millis(1))
      expect(polls).toHaveLength(1)
      yield* TestClock.adjust(Duration.millis(5_200))
      expect(polls).toHaveLength(2)
      yield* TestClock.adjust(Duration.seconds(9))
      expect(polls).toHaveLength(2)
      yield* TestClock.adjust(Duration.millis(1_100))
      expect(polls).toHaveLength(3)
      yield* TestClock.adjust(Duration.millis(20_100))
      expect(polls).toHaveLength(4)
      yield* Fiber.interrupt(fiber)
    }))

  it.scoped("a chat CCP no longer knows ends the session as provider, and the poller stops", () =>
    Effect.gen(function*() {
      const gone = new ProviderApiError({
        provider: "cisco-livechat",
        message: "CCP answered 404 notFound",
        status: 404,
        code: "notFound"
      })
      const { deps, ingested } = fakeCcp([gone])
      const wake = yield* Queue.sliding<void>(1)
      const clock = yield* makePollClock(pollerTimings.tick)
      const fiber = yield* Effect.fork(pollSession(ciscoPolling(deps), clock, session, start, wake))
      yield* TestClock.adjust(Duration.millis(1))
      expect(ingested).toEqual([{ ids: ["cisco-livechat:chat-1:ended"], state: {} }])
      expect(fiber.unsafePoll()?._tag).toBe("Success")
    }))

  it.scoped("the poller stops once its session has ended", () =>
    Effect.gen(function*() {
      const { deps, polls } = fakeCcp([[message(1)]], () => false)
      const wake = yield* Queue.sliding<void>(1)
      const clock = yield* makePollClock(pollerTimings.tick)
      const fiber = yield* Effect.fork(pollSession(ciscoPolling(deps), clock, session, start, wake))
      yield* TestClock.adjust(Duration.seconds(30))
      expect(polls).toHaveLength(1)
      expect(fiber.unsafePoll()?._tag).toBe("Success")
    }))
})

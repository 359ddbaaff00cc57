/**
 * The Genesys follow protocol and the socket's liveness on the TestClock, without a socket:
 * the grace of a plain agent leave, conversations Genesys no longer knows, re-subscribing
 * after a reconnect, the silence that declares a socket dead, and the reconnect backoff.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Queue, Schedule, TestClock } from "effect"
import type { ProviderEvent } from "../../src/domain/model.js"
import { topicsOf } from "../../src/providers/genesys/mapper.js"
import {
  makeFollowProtocol,
  notificationTimings,
  type Subscriptions
} from "../../src/providers/genesys/notificationProtocol.js"
import { makeLiveness, reconnectBackoff } from "../../src/providers/genesys/notificationSocket.js"
import type { Conversation, Participant } from "../../src/providers/genesys/schemas.js"
import { ProviderApiError } from "../../src/providers/providerCalls.js"

const START = Date.parse("2026-11-26T10:00:00.000Z")
const iso = (at: number) => new Date(at).toISOString()

const customer: Participant = { id: "p-customer", purpose: "customer", state: "connected" }
const agent = (id: string, joinedAt: number, leftAt?: number): Participant => ({
  id: `p-${id}`,
  purpose: "agent",
  user: { id },
  connectedTime: iso(joinedAt),
  ...(leftAt === undefined
    ? { state: "connected" }
    : { state: "disconnected", endTime: iso(leftAt), disconnectType: "client" })
})

/**
 * A protocol whose Genesys answers each conversation with `conversations` (404 when absent),
 * recording what it ingests, re-reads and subscribes, and the re-reads it asks to be woken for.
 */
const harness = (conversations: Map<string, Conversation>) =>
  Effect.gen(function*() {
    const ingested: Array<ProviderEvent> = []
    const reads: Array<string> = []
    const subscribeCalls: Array<{ readonly kind: "replace" | "add"; readonly topics: ReadonlyArray<string> }> = []
    const woken = yield* Queue.unbounded<string>()
    const protocol = makeFollowProtocol(
      {
        label: "test",
        readConversation: (id) =>
          Effect.suspend(() => {
            reads.push(id)
            const conversation = conversations.get(id)
            return conversation === undefined
              ? Effect.fail(new ProviderApiError({ provider: "genesys-livechat", message: "not found", status: 404 }))
              : Effect.succeed(conversation)
          }),
        readAgentName: () => Effect.succeed("Maria"),
        ingest: (_id, events) =>
          Effect.sync(() => {
            for (const event of events) ingested.push(event)
          }),
        wake: (id) => Queue.offer(woken, id)
      },
      yield* Effect.scope
    )
    const subscriptions: Subscriptions = {
      replace: (topics) => Effect.sync(() => void subscribeCalls.push({ kind: "replace", topics })),
      add: (topics) => Effect.sync(() => void subscribeCalls.push({ kind: "add", topics }))
    }
    const endsOf = () => ingested.filter((e) => e.type === "session.ended")
    return { protocol, subscriptions, ingested, reads, subscribeCalls, woken, endsOf }
  })

describe("Genesys follow protocol (TestClock)", () => {
  it.scoped("a plain agent leave ends the livechat only once the grace is over", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(START)
      const conversations = new Map([["c1", { id: "c1", participants: [customer, agent("agent-1", START - 60_000)] }]])
      const { endsOf, ingested, protocol, subscriptions, woken } = yield* harness(conversations)
      yield* protocol.follow("c1")
      yield* protocol.connected
      yield* protocol.align(subscriptions)
      expect(ingested.map((e) => e.type)).toEqual(["agent.joined"])

      conversations.set("c1", { id: "c1", participants: [customer, agent("agent-1", START - 60_000, START)] })
      yield* protocol.notification("v2.detail.events.conversation.c1.user.end", {
        eventTime: START,
        conversationId: "c1",
        participantId: "p-agent-1",
        userId: "agent-1",
        disconnectType: "CLIENT"
      })
      expect(ingested.map((e) => e.type)).toContain("agent.left")

      yield* TestClock.adjust(Duration.subtract(notificationTimings.agentLeftGrace, Duration.seconds(1)))
      expect(yield* Queue.size(woken)).toBe(0)
      yield* protocol.tick
      expect(endsOf()).toEqual([])
      expect(protocol.nothingToFollow()).toBe(false)

      yield* TestClock.adjust(Duration.seconds(1))
      yield* protocol.check(yield* Queue.take(woken))
      expect(endsOf()).toMatchObject([{ data: { reason: "agent" } }])
      expect(protocol.nothingToFollow()).toBe(true)
    }))

  it.scoped("an agent joining within the grace keeps the livechat open", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(START)
      const conversations = new Map([["c1", {
        id: "c1",
        participants: [customer, agent("agent-1", START - 60_000, START)]
      }]])
      const { endsOf, protocol, subscriptions, woken } = yield* harness(conversations)
      yield* protocol.follow("c1")
      yield* protocol.connected
      yield* protocol.align(subscriptions)
      expect(endsOf()).toEqual([])

      yield* TestClock.adjust(Duration.seconds(4))
      conversations.set("c1", {
        id: "c1",
        participants: [customer, agent("agent-1", START - 60_000, START), agent("agent-2", START + 4_000)]
      })
      yield* TestClock.adjust(notificationTimings.agentLeftGrace)
      yield* protocol.check(yield* Queue.take(woken))
      expect(endsOf()).toEqual([])
      expect(protocol.nothingToFollow()).toBe(false)
    }))

  it.scoped("three 404s in a row end the livechat; fewer do not", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(START)
      const { endsOf, protocol, reads, subscriptions } = yield* harness(new Map())
      yield* protocol.follow("gone")
      yield* protocol.connected
      yield* protocol.align(subscriptions)
      yield* protocol.tick
      expect(reads).toEqual(["gone", "gone"])
      expect(endsOf()).toEqual([])
      expect(protocol.nothingToFollow()).toBe(false)

      yield* TestClock.adjust(notificationTimings.tick)
      yield* protocol.tick
      expect(reads).toHaveLength(notificationTimings.notFoundLimit)
      expect(endsOf()).toMatchObject([{
        occurredAt: iso(START + Duration.toMillis(notificationTimings.tick)),
        data: { reason: "provider" }
      }])
      expect(protocol.nothingToFollow()).toBe(true)
    }))

  it.scoped("a reconnect subscribes every followed conversation again and re-reads each", () =>
    Effect.gen(function*() {
      const conversations = new Map(["a", "b", "c"].map((id) => [id, { id, participants: [customer] }]))
      const { protocol, reads, subscribeCalls, subscriptions } = yield* harness(conversations)
      yield* protocol.follow("a")
      yield* protocol.follow("b")
      yield* protocol.connected
      expect(yield* protocol.align(subscriptions)).toBe(2)
      yield* protocol.align(subscriptions)
      yield* protocol.follow("c")
      yield* protocol.align(subscriptions)
      expect(subscribeCalls).toEqual([
        { kind: "replace", topics: [...topicsOf("a"), ...topicsOf("b")] },
        { kind: "add", topics: topicsOf("c") }
      ])
      expect(reads).toEqual(["a", "b", "c"])

      yield* protocol.connected
      expect(yield* protocol.align(subscriptions)).toBe(3)
      expect(subscribeCalls.at(-1)).toEqual({
        kind: "replace",
        topics: [...topicsOf("a"), ...topicsOf("b"), ...topicsOf("c")]
      })
      expect(reads).toEqual(["a", "b", "c", "a", "b", "c"])
    }))
})

describe("Genesys notifications socket liveness (TestClock)", () => {
  it.effect("a frame resets the silence timer; silence past the limit is a dead socket", () =>
    Effect.gen(function*() {
      const silenceMs = Duration.toMillis(notificationTimings.silenceLimit)
      const liveness = yield* makeLiveness
      yield* TestClock.adjust(Duration.millis(silenceMs - 1_000))
      yield* liveness.frame
      yield* TestClock.adjust(Duration.millis(silenceMs - 1_000))
      expect(yield* liveness.due).not.toBe("silent")
      yield* TestClock.adjust(Duration.seconds(2))
      expect(yield* liveness.due).toBe("silent")
    }))

  it.effect("a live socket is pinged once per ping interval", () =>
    Effect.gen(function*() {
      const liveness = yield* makeLiveness
      yield* TestClock.adjust(Duration.subtract(notificationTimings.pingInterval, Duration.seconds(1)))
      expect(yield* liveness.due).toBe("nothing")
      yield* TestClock.adjust(Duration.seconds(1))
      yield* liveness.frame
      expect(yield* liveness.due).toBe("ping")
      expect(yield* liveness.due).toBe("nothing")
    }))
})

describe("Genesys notifications reconnect backoff", () => {
  it.effect("waits double the last time after each failure in a row, at most reconnectMax, shortened by up to half at random", () =>
    Effect.gen(function*() {
      const failures = 10
      const waits = yield* Schedule.run(
        Schedule.delays(reconnectBackoff).pipe(Schedule.intersect(Schedule.recurs(failures - 1))),
        0,
        Array(failures).fill(undefined)
      )
      const expected = (n: number) =>
        Math.min(
          Duration.toMillis(notificationTimings.reconnectMax),
          Duration.toMillis(notificationTimings.reconnectBase) * 2 ** n
        )
      expect(Chunk.size(waits)).toBe(failures)
      Chunk.toReadonlyArray(waits).forEach(([wait], n) => {
        expect(Duration.toMillis(wait)).toBeGreaterThanOrEqual(expected(n) / 2)
        expect(Duration.toMillis(wait)).toBeLessThanOrEqual(expected(n))
      })
    }))
})

/**
 * The Genesys follow protocol and the socket's liveness on the TestClock, without a socket:
 * the grace of a plain agent leave, conversations Genesys no longer knows, re-subscribing
 * after a reconnect, topics Genesys refuses, the silence that declares a socket dead, and the
 * reconnect backoff.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Logger, Metric, Queue, Schedule, TestClock } from "effect"
import type { ProviderEvent } from "../../src/domain/model.js"
import { topicsOf } from "../../src/providers/genesys/mapper.js"
import {
  makeFollowProtocol,
  notificationTimings,
  type RefusedTopic,
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

const DETAIL_PERMISSION = "analytics:conversationDetail:view"

/**
 * A protocol whose Genesys answers each conversation with `conversations` (404 when absent),
 * recording what it ingests, re-reads and subscribes, and the re-reads it asks to be woken for.
 * Subscriptions refuse the topics whose kind is in `refusedKinds` (the test may change it).
 */
const harness = (
  conversations: Map<string, Conversation>,
  refusedKinds = new Set<string>(),
  readAgentName: (userId: string) => Effect.Effect<string | undefined, ProviderApiError> = () => Effect.succeed("Maria")
) =>
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
        readAgentName,
        ingest: (_id, events) =>
          Effect.sync(() => {
            for (const event of events) ingested.push(event)
          }),
        wake: (id) => Queue.offer(woken, id)
      },
      yield* Effect.scope
    )
    const answer = (topics: ReadonlyArray<string>): ReadonlyArray<RefusedTopic> =>
      topics
        .filter((topic) => [...refusedKinds].some((kind) => topic.endsWith(`.${kind}`)))
        .map((topic) => ({ topic, reason: "MissingPermissions", missingPermissions: [DETAIL_PERMISSION] }))
    const subscriptions: Subscriptions = {
      replace: (topics) =>
        Effect.sync(() => {
          subscribeCalls.push({ kind: "replace", topics })
          return answer(topics)
        }),
      add: (topics) =>
        Effect.sync(() => {
          subscribeCalls.push({ kind: "add", topics })
          return answer(topics)
        })
    }
    const endsOf = () => ingested.filter((e) => e.type === "session.ended")
    return { protocol, subscriptions, ingested, reads, subscribeCalls, woken, endsOf }
  })

describe("Genesys follow protocol (TestClock)", () => {
  it.scoped("a join names the agent as Genesys has them now: a name is read again after a minute, and kept when a read fails", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(START)
      const directory = { "agent-1": "Maria" } as Record<string, string>
      let failing = false
      const nameReads: Array<string> = []
      const { ingested, protocol, subscriptions } = yield* harness(
        new Map(),
        new Set(),
        (userId) =>
          Effect.suspend(() => {
            nameReads.push(userId)
            return failing
              ? Effect.fail(new ProviderApiError({ provider: "genesys-livechat", message: "unavailable", status: 503 }))
              : Effect.succeed(directory[userId])
          })
      )
      yield* protocol.connected
      yield* protocol.align(subscriptions)
      const join = (conversationId: string) =>
        Effect.gen(function*() {
          yield* protocol.follow(conversationId)
          yield* protocol.align(subscriptions)
          yield* protocol.notification(`v2.detail.events.conversation.${conversationId}.user.start`, {
            eventTime: yield* TestClock.currentTimeMillis,
            conversationId,
            participantId: `p-agent-1-${conversationId}`,
            userId: "agent-1"
          })
          const last = ingested.filter((e) => e.type === "agent.joined").at(-1)
          return last?.type === "agent.joined" ? last.data.agent : undefined
        })

      expect(yield* join("c1")).toEqual({ id: "agent-1", name: "Maria" })
      // Renamed in Genesys: within the minute, a burst of joins costs no more reads.
      directory["agent-1"] = "Maria K."
      yield* TestClock.adjust(Duration.seconds(30))
      expect(yield* join("c2")).toEqual({ id: "agent-1", name: "Maria" })
      expect(nameReads).toEqual(["agent-1"])
      // A minute on, the next join shows the new name.
      yield* TestClock.adjust(notificationTimings.agentNameFreshFor)
      expect(yield* join("c3")).toEqual({ id: "agent-1", name: "Maria K." })
      expect(nameReads).toHaveLength(2)
      // Genesys unavailable: the last name known, asked again at the next join.
      failing = true
      yield* TestClock.adjust(notificationTimings.agentNameFreshFor)
      expect(yield* join("c4")).toEqual({ id: "agent-1", name: "Maria K." })
      yield* join("c5")
      expect(nameReads).toHaveLength(4)
    }))

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

/** The refused-topics counter of `kind`, as the /metrics exporter reads it. */
const refusedCount = (kind: string) =>
  Effect.map(Metric.snapshot, (pairs) => {
    const pair = pairs.find((p) =>
      p.metricKey.name === "lcg_genesys_topics_rejected_total" &&
      p.metricKey.tags.some((t) => t.key === "kind" && t.value === kind)
    )
    return pair === undefined ? 0 : Number((pair.metricState as unknown as { count: number }).count)
  })

describe("Genesys topics refused by the subscription (TestClock)", () => {
  it.scoped("are logged once and counted, and their conversation's join and end arrive by re-reading it on schedule", () => {
    const logs: Array<{ level: string; message: unknown }> = []
    return Effect.gen(function*() {
      yield* TestClock.setTime(START)
      const conversations = new Map([["c1", { id: "c1", participants: [customer] }], ["c2", {
        id: "c2",
        participants: [customer]
      }]])
      const refusedKinds = new Set(["user.start", "user.end", "acw", "customer.end"])
      const { ingested, protocol, reads, subscriptions } = yield* harness(conversations, refusedKinds)
      const countedBefore = yield* refusedCount("customer.end")
      const refusalLogs = () =>
        logs.filter((l) => JSON.stringify(l.message).includes("Genesys refused notification topics"))

      yield* protocol.follow("c1")
      yield* protocol.follow("c2")
      yield* protocol.connected
      yield* protocol.align(subscriptions)
      expect(protocol.topicsRefused()).toBe(true)
      expect(refusalLogs()).toHaveLength(1)
      expect(refusalLogs()[0]).toMatchObject({ level: "ERROR" })
      expect(refusalLogs()[0]!.message).toEqual([
        expect.any(String),
        {
          credentials: "test",
          topicKinds: ["user.start", "user.end", "acw", "customer.end"],
          reason: "MissingPermissions",
          missingPermissions: [DETAIL_PERMISSION]
        }
      ])
      // No conversation id, topic name or other value in the line.
      expect(JSON.stringify(refusalLogs())).not.toMatch(/c1|c2|v2\.detail/)
      expect((yield* refusedCount("customer.end")) - countedBefore).toBe(2)

      // A reconnect is refused the same: nothing logged or counted again.
      yield* protocol.connected
      yield* protocol.align(subscriptions)
      expect(refusalLogs()).toHaveLength(1)
      expect((yield* refusedCount("customer.end")) - countedBefore).toBe(2)

      // An agent joins: Genesys says nothing; the next scheduled re-read finds it.
      const joinedAt = START + 1_000
      conversations.set("c1", { id: "c1", participants: [customer, agent("agent-1", joinedAt)] })
      const readsBefore = reads.length
      yield* TestClock.adjust(Duration.subtract(notificationTimings.refusedReadInterval, Duration.seconds(1)))
      yield* protocol.tick
      expect(reads).toHaveLength(readsBefore)
      expect(ingested.map((e) => e.type)).toEqual([])
      yield* TestClock.adjust(Duration.seconds(1))
      yield* protocol.tick
      expect(reads.slice(readsBefore).sort()).toEqual(["c1", "c2"])
      expect(ingested).toMatchObject([{ type: "agent.joined", occurredAt: iso(joinedAt) }])

      // The customer leaves: the end arrives at the following re-read, and c1 is no longer followed.
      const endedAt = START + 12_000
      conversations.set("c1", {
        id: "c1",
        participants: [
          { ...customer, state: "disconnected", disconnectType: "client", endTime: iso(endedAt) },
          agent("agent-1", joinedAt)
        ]
      })
      yield* TestClock.adjust(notificationTimings.refusedReadInterval)
      yield* protocol.tick
      expect(ingested.filter((e) => e.type === "session.ended")).toMatchObject([{
        occurredAt: iso(endedAt),
        data: { reason: "user" }
      }])
      const afterEnd = reads.length
      yield* TestClock.adjust(notificationTimings.refusedReadInterval)
      yield* protocol.tick
      expect(reads.slice(afterEnd)).toEqual(["c2"])

      // Permission granted: the next channel is followed by notifications again, nothing re-read on schedule.
      refusedKinds.clear()
      yield* protocol.connected
      yield* protocol.align(subscriptions)
      expect(protocol.topicsRefused()).toBe(false)
      const afterGrant = reads.length
      yield* TestClock.adjust(Duration.times(notificationTimings.refusedReadInterval, 3))
      yield* protocol.tick
      expect(reads).toHaveLength(afterGrant)
    }).pipe(
      Effect.provide(
        Logger.replace(
          Logger.defaultLogger,
          Logger.make(({ logLevel, message }) => void logs.push({ level: logLevel.label, message }))
        )
      )
    )
  })

  it.scoped("a topic refused on a follow (POST) is counted too, and only that conversation is re-read", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(START)
      const conversations = new Map(["a", "b"].map((id) => [id, { id, participants: [customer] }]))
      const refusedKinds = new Set<string>()
      const { protocol, reads, subscriptions } = yield* harness(conversations, refusedKinds)
      yield* protocol.follow("a")
      yield* protocol.connected
      yield* protocol.align(subscriptions)
      expect(protocol.topicsRefused()).toBe(false)
      const before = yield* refusedCount("user.start")
      refusedKinds.add("user.start")
      yield* protocol.follow("b")
      yield* protocol.align(subscriptions)
      expect(protocol.topicsRefused()).toBe(true)
      expect((yield* refusedCount("user.start")) - before).toBe(1)
      const readsBefore = reads.length
      yield* TestClock.adjust(notificationTimings.refusedReadInterval)
      yield* protocol.tick
      expect(reads.slice(readsBefore)).toEqual(["b"])
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

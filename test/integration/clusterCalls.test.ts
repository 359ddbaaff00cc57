/**
 * The calls between Redis coordinators (two in this process, each on connections of its
 * own to a real Redis): "poll this session now" reaches the partition's owner wherever it
 * runs, the cluster status carries every member's own report, and an instance that shuts
 * down has the leader reassign its partitions by a call it answers.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, HashMap, Logger } from "effect"
import { Coordinator, type CoordinatorService, pollSessionNow } from "../../src/services/Coordinator.js"
import { partitionOf } from "../../src/services/Outbox.js"
import { eventually } from "../eventually.js"
import { type Poll, sessionOwnedBy, startCoordinator } from "./clusterHarness.js"
import { deleteKeys, uniquePrefix } from "./redis.js"

const PARTITIONS = 8
const prefixes: Array<string> = []
afterAll(async () => {
  for (const prefix of prefixes) await deleteKeys(prefix)
})

const bothWorking = (coordinator: CoordinatorService) =>
  eventually(
    "both members working their half",
    Effect.orDie(coordinator.status),
    (s) =>
      s.members.length === 2 &&
      s.members.every((m) =>
        m.report !== undefined && m.report.working.length === PARTITIONS / 2 && m.report.pending.length === 0
      )
  )

describe("calls between cluster instances", () => {
  it.live(
    "poll this session now: answered by the partition's owner, here or on another instance",
    () =>
      Effect.gen(function*() {
        const prefix = uniquePrefix("calls")
        prefixes.push(prefix)
        const polls: Array<Poll> = []
        const a = yield* startCoordinator(prefix, "calls-a", PARTITIONS, polls)
        const b = yield* startCoordinator(prefix, "calls-b", PARTITIONS, polls)
        yield* bothWorking(a.coordinator)

        const onB = yield* sessionOwnedBy(a.coordinator, "calls-b", "open-b")
        const onA = yield* sessionOwnedBy(a.coordinator, "calls-a", "open-a")
        expect(yield* pollSessionNow(onB).pipe(Effect.provideService(Coordinator, a.coordinator))).toBe("handled")
        expect(yield* pollSessionNow(onA).pipe(Effect.provideService(Coordinator, a.coordinator))).toBe("handled")
        expect(yield* pollSessionNow(onA).pipe(Effect.provideService(Coordinator, b.coordinator))).toBe("handled")
        expect(polls).toEqual([
          { by: "calls-b", partition: partitionOf(onB, PARTITIONS), sessionId: onB },
          { by: "calls-a", partition: partitionOf(onA, PARTITIONS), sessionId: onA },
          { by: "calls-a", partition: partitionOf(onA, PARTITIONS), sessionId: onA }
        ])
        // A session no poller knows (its provider does not poll, or it is closed).
        const closedOnB = yield* sessionOwnedBy(a.coordinator, "calls-b", "closed")
        expect(yield* pollSessionNow(closedOnB).pipe(Effect.provideService(Coordinator, a.coordinator))).toBe(
          "unhandled"
        )
        expect(polls).toHaveLength(3)
        yield* b.leave
        yield* a.leave
      }),
    30_000
  )

  it.live("the cluster status carries each member's own report of what it works", () =>
    Effect.gen(function*() {
      const prefix = uniquePrefix("calls")
      prefixes.push(prefix)
      const a = yield* startCoordinator(prefix, "calls-a", PARTITIONS, [])
      const b = yield* startCoordinator(prefix, "calls-b", PARTITIONS, [])
      const status = yield* bothWorking(b.coordinator)
      for (const member of status.members) {
        const assigned = status.partitions.filter((p) => p.owner === member.instanceId).map((p) => p.partition)
        expect(member.report?.working).toEqual(assigned)
        expect(member.report?.leading).toBe(member.instanceId === status.leader)
      }
      expect(status.leader).toBe("calls-a")
      yield* b.leave
      yield* a.leave
    }), 30_000)

  it.live(
    "a leaving instance has the leader reassign its partitions by a call, and hands them over before it is gone",
    () =>
      Effect.gen(function*() {
        const prefix = uniquePrefix("calls")
        prefixes.push(prefix)
        const logs: Array<{ message: string; annotations: Record<string, unknown> }> = []
        const recorder = Logger.make(({ annotations, message }) => {
          logs.push({
            message: String(Array.isArray(message) ? message[0] : message),
            annotations: Object.fromEntries(HashMap.toEntries(annotations))
          })
        })
        const messages = () => logs.map((l) => l.message)
        yield* Effect.gen(function*() {
          const a = yield* startCoordinator(prefix, "calls-a", PARTITIONS, [])
          const b = yield* startCoordinator(prefix, "calls-b", PARTITIONS, [])
          yield* bothWorking(a.coordinator)
          const startedAt = Date.now()
          yield* b.leave
          const leaveMs = Date.now() - startedAt
          // The leader took the call, and b was told the new assignment leaves it out.
          expect(messages()).toContain("reassigned the partitions of a leaving instance")
          expect(messages()).toContain("the leader reassigned this instance's partitions")
          expect(messages()).not.toContain("the leader did not confirm the leave; waiting for its next round")
          const status = yield* Effect.orDie(a.coordinator.status)
          expect(status.members.map((m) => m.instanceId)).toEqual(["calls-a"])
          expect(status.partitions.every((p) => p.owner === "calls-a")).toBe(true)
          expect(leaveMs).toBeLessThan(5_000)
          yield* eventually(
            "a works every partition",
            Effect.orDie(a.coordinator.status),
            (s) => s.members[0]?.report?.working.length === PARTITIONS
          )
          yield* a.leave
        }).pipe(Effect.provide(Logger.add(recorder)))
      }),
    30_000
  )
})

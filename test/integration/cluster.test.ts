/**
 * Gateway instances as separate processes on one Redis: partitions split evenly, a killed
 * leader is replaced and its partitions move, a SIGTERM hands partitions over before exit,
 * and an instance paused past its leases does not deliver for partitions it lost.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Option } from "effect"
import type { Sandbox } from "../../sandbox/environment.js"
import { eventually } from "../eventually.js"
import { ownersCount, startCluster } from "./clusterHarness.js"
import { deleteKeys } from "./redis.js"

const prefixes: Array<string> = []
afterAll(async () => {
  for (const prefix of prefixes) await deleteKeys(prefix)
})
const cluster = Effect.tap(startCluster, ({ prefix }) => Effect.sync(() => prefixes.push(prefix)))

const receivedTexts = (sandbox: Sandbox, sessionId: string) =>
  sandbox.bot
    .eventsOf(sessionId)
    .filter((e) => e.type === "agent.message")
    .map((e) => (e.data as { text: string }).text)

/** Every agent message of every session arrived, each once, in order. */
const expectDeliveredOnceInOrder = (sandbox: Sandbox, sent: Map<string, Array<string>>) => {
  for (const [sessionId, texts] of sent) expect(receivedTexts(sandbox, sessionId)).toEqual(texts)
}

/**
 * After a kill -9: every message arrived, in order of first arrival; the only repeats are
 * the events the killed process had delivered but not yet acked, at most one per session
 * (a lane has one event in flight). Returns how many there were.
 */
const expectDeliveredInOrderAfterCrash = (sandbox: Sandbox, sent: Map<string, Array<string>>) => {
  let repeats = 0
  for (const [sessionId, texts] of sent) {
    const received = receivedTexts(sandbox, sessionId)
    const firsts = received.filter((text, i) => received.indexOf(text) === i)
    expect(firsts).toEqual(texts)
    expect(received.length - firsts.length).toBeLessThanOrEqual(1)
    repeats += received.length - firsts.length
  }
  return repeats
}

/** Waits until hbf-bot has at least as many messages per session as were sent, then a little more for repeats. */
const allArrived = (sandbox: Sandbox, sent: Map<string, Array<string>>) =>
  eventually(
    "every message delivered",
    Effect.sync(() => [...sent].every(([id, texts]) => receivedTexts(sandbox, id).length >= texts.length)),
    (done) => done,
    Duration.seconds(15)
  ).pipe(Effect.zipRight(Effect.sleep(Duration.millis(500))))

/** Agent messages through hbf-lcm to `via`, a few per second per session, until `stop` says so. */
const traffic = (
  sandbox: Sandbox,
  sessions: ReadonlyArray<string>,
  sent: Map<string, Array<string>>,
  stop: () => boolean
) =>
  Effect.forEach(
    sessions,
    (sessionId) =>
      Effect.gen(function*() {
        for (let i = 1; !stop(); i++) {
          const text = `message ${i}`
          let result = yield* sandbox.lcm.say(sessionId, text)
          while (result.status !== 200) {
            yield* Effect.sleep(Duration.millis(100))
            result = yield* sandbox.lcm.resend(result.eventId)
          }
          sent.set(sessionId, [...(sent.get(sessionId) ?? []), text])
          yield* Effect.sleep(Duration.millis(50))
        }
      }),
    { concurrency: "unbounded", discard: true }
  )

describe("cluster of gateway processes", () => {
  it.live(
    "three instances split 64 partitions evenly; the leader killed under traffic is replaced and nothing is lost",
    () =>
      Effect.gen(function*() {
        const { createSession, sandbox, start, status } = yield* cluster
        const a = yield* start("gw-a")
        const b = yield* start("gw-b")
        const c = yield* start("gw-c")
        const balanced = yield* eventually("an even split", status(c), (s) => {
          const counts = Object.values(ownersCount(s))
          return s.members.length === 3 && counts.length === 3 && Math.max(...counts) - Math.min(...counts) <= 1
        })
        expect(balanced.leader).toBe("gw-a")
        expect(Object.keys(ownersCount(balanced)).sort()).toEqual(["gw-a", "gw-b", "gw-c"])
        // Each member, asked over the cluster RPC, works exactly the partitions assigned to it.
        const reported = yield* eventually("every member working its share", status(c), (s) =>
          s.members.every((m) =>
            m.report !== undefined && m.report.pending.length === 0
          ))
        for (const member of reported.members) {
          expect(member.report?.working).toEqual(
            reported.partitions.filter((p) => p.owner === member.instanceId).map((p) => p.partition)
          )
        }

        // Sessions created through c (their provider webhooks go to c, which stays up).
        const sessions: Array<string> = []
        for (let i = 0; i < 12; i++) sessions.push((yield* createSession(c, `cluster-${i}`)).sessionId)
        for (const sessionId of sessions) yield* sandbox.lcm.join(sessionId)
        const sent = new Map<string, Array<string>>()
        let stopped = false
        const load = yield* Effect.fork(traffic(sandbox, sessions, sent, () => stopped))
        yield* Effect.sleep(Duration.seconds(1))

        const killedAt = Date.now()
        yield* a.process.kill("SIGKILL")
        // Until its member key expires, the dead leader is still listed, as not answering.
        const orphaned = yield* status(c)
        expect(orphaned.members.find((m) => m.instanceId === "gw-a")?.unreachable).toMatch(
          /no instance gw-a is listening/
        )
        const newLeader = yield* eventually("a new leader", status(c), (s) => s.leader !== "" && s.leader !== "gw-a")
        const leaderAfterMs = Date.now() - killedAt
        expect(leaderAfterMs).toBeLessThan(3_000)
        expect(["gw-b", "gw-c"]).toContain(newLeader.leader)
        const reassigned = yield* eventually("every partition owned by the living", status(c), (s) =>
          s.partitions.every((p) =>
            p.owner === "gw-b" || p.owner === "gw-c"
          ))
        expect(Object.values(ownersCount(reassigned)).sort()).toEqual([32, 32])

        yield* Effect.sleep(Duration.seconds(1))
        stopped = true
        yield* load.await
        yield* allArrived(sandbox, sent)
        const repeats = expectDeliveredInOrderAfterCrash(sandbox, sent)
        yield* Effect.logInfo("leader kill", { newLeaderMs: leaderAfterMs, redelivered: repeats })
        void b
      }).pipe(Effect.scoped),
    90_000
  )

  it.live(
    "SIGTERM with the default drain: the partitions are handed over while it still serves, and the new owner delivers what it accepts then; exit 0 within 10 s, nothing lost",
    () =>
      Effect.gen(function*() {
        const { createSession, sandbox, start, status } = yield* cluster
        const a = yield* start("gw-a")
        // The default LCG_SHUTDOWN_DRAIN_MS (5 s), not the tests' 0.
        const b = yield* start("gw-b", { LCG_SHUTDOWN_DRAIN_MS: undefined })
        yield* eventually("an even split", status(a), (s) => Object.values(ownersCount(s)).join() === "32,32")
        const sessions: Array<string> = []
        for (let i = 0; i < 8; i++) sessions.push((yield* createSession(a, `leave-${i}`)).sessionId)
        for (const sessionId of sessions) yield* sandbox.lcm.join(sessionId)
        // A session whose provider webhooks reach b (its callback URL is b's).
        const viaB = (yield* createSession(b, "leave-via-b")).sessionId
        yield* sandbox.lcm.join(viaB)
        const sent = new Map<string, Array<string>>()
        let stopped = false
        const load = yield* Effect.fork(traffic(sandbox, sessions, sent, () => stopped))
        yield* Effect.sleep(Duration.seconds(1))

        const termAt = Date.now()
        const exited = yield* Effect.fork(b.process.kill("SIGTERM"))
        // Within the drain: every partition is a's already, while b still answers (not ready, but serving).
        yield* eventually(
          "the partitions handed over during the drain",
          status(a),
          (s) => s.members.length === 1 && s.partitions.every((p) => p.owner === "gw-a"),
          Duration.seconds(4)
        )
        const ready = yield* Effect.promise(() => fetch(`${b.url}/health/ready`).then((r) => r.status))
        expect(ready).toBe(503)
        // A webhook b takes now is delivered by a, before b exits.
        expect((yield* sandbox.lcm.say(viaB, "said while b drains")).status).toBe(200)
        yield* eventually(
          "delivered by the new owner",
          Effect.sync(() => receivedTexts(sandbox, viaB)),
          (texts) => texts.includes("said while b drains"),
          Duration.seconds(2)
        )
        expect(yield* exited.poll).toEqual(Option.none())

        const code = yield* Fiber.join(exited)
        const exitMs = Date.now() - termAt
        expect(code).toBe(0)
        expect(exitMs).toBeLessThan(10_000)
        // The leader confirmed the leave over the cluster RPC (a refusal or silence is logged as a warning).
        expect(b.process.output()).not.toMatch(/did not confirm the leave/)
        const after = yield* status(a)
        expect(after.members.map((m) => m.instanceId)).toEqual(["gw-a"])

        yield* Effect.sleep(Duration.seconds(1))
        stopped = true
        yield* load.await
        yield* allArrived(sandbox, sent)
        expectDeliveredOnceInOrder(sandbox, sent)
        expect(receivedTexts(sandbox, viaB)).toEqual(["said while b drains"])
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "an instance paused past its leases does not deliver, after it resumes, for partitions it lost",
    () =>
      Effect.gen(function*() {
        const { createSession, sandbox, start, status } = yield* cluster
        const a = yield* start("gw-a")
        const b = yield* start("gw-b")
        const split = yield* eventually(
          "an even split",
          status(a),
          (s) => Object.values(ownersCount(s)).join() === "32,32"
        )
        const ownedByB = new Set(split.partitions.filter((p) => p.owner === "gw-b").map((p) => p.partition))
        const sessions: Array<string> = []
        for (let i = 0; i < 16; i++) sessions.push((yield* createSession(a, `pause-${i}`)).sessionId)
        for (const sessionId of sessions) yield* sandbox.lcm.join(sessionId)
        yield* eventually(
          "every join delivered",
          Effect.sync(() => sandbox.bot.events().filter((e) => e.type === "agent.joined").length),
          (n) => n >= sessions.length
        )

        // hbf-bot refuses everything while b is paused, so b has deliveries in flight (retrying) when it stops.
        const release = sandbox.bot.failWhile(() => true, 503)
        const sent = new Map<string, Array<string>>()
        for (const sessionId of sessions) {
          for (const text of ["during pause 1", "during pause 2"]) {
            expect((yield* sandbox.lcm.say(sessionId, text)).status).toBe(200)
            sent.set(sessionId, [...(sent.get(sessionId) ?? []), text])
          }
        }
        yield* Effect.sleep(Duration.millis(500))
        yield* b.process.signal("SIGSTOP")
        yield* eventually("a owns everything", status(a), (s) =>
          s.partitions.every((p) =>
            p.owner === "gw-a"
          ), Duration.seconds(10))
        // a delivers everything (b's partitions included) once hbf-bot accepts again.
        const attemptsBefore = sandbox.bot.attempts().length
        release()
        yield* eventually(
          "every message delivered by a",
          Effect.sync(() =>
            sessions.every((id) =>
              sandbox.bot.eventsOf(id).filter((e) => e.type === "agent.message").length >= 2
            )
          ),
          (done) => done,
          Duration.seconds(15)
        )
        const delivered = sandbox.bot.events().length
        yield* b.process.signal("SIGCONT")
        // b wakes up believing it owns its old partitions for a moment; it must not deliver anything.
        yield* Effect.sleep(Duration.seconds(3))
        expect(sandbox.bot.events().length).toBe(delivered)
        expectDeliveredOnceInOrder(sandbox, sent)
        expect(attemptsBefore).toBeGreaterThan(0)
        expect(ownedByB.size).toBe(32)
        // b rejoins the cluster and gets its share back.
        yield* eventually("b back in the split", status(a), (s) =>
          Object.values(ownersCount(s)).join() === "32,32", Duration.seconds(10))
      }).pipe(Effect.scoped),
    60_000
  )
})

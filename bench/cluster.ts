/**
 * `npm run bench:cluster`, on the Redis at REDIS_URL or 127.0.0.1:6379. Writes bench/cluster.json.
 *
 * 1. Cluster calls: two coordinators in this process, each on connections of its own, one
 *    with a poller on its partitions. "Poll this session now" from the other, one call at a
 *    time and then many in flight: round-trip latency (p50, p99) and calls per second; and
 *    the whole cluster status (Redis reads plus a report call per member).
 * 2. Failover: three gateway processes; the leader is killed with SIGKILL several times (a
 *    replacement joins after each kill): time until a new leader is seen and until every
 *    partition is owned by a living instance, and their medians.
 */
import { Duration, Effect } from "effect"
import { writeFileSync } from "node:fs"
import { type ClusterStatus, Coordinator, pollSessionNow } from "../src/services/Coordinator.js"
import { eventually } from "../test/eventually.js"
import {
  type Instance,
  ownersCount,
  sessionOwnedBy,
  startCluster,
  startCoordinator
} from "../test/integration/clusterHarness.js"
import { deleteKeys, uniquePrefix } from "../test/integration/redis.js"
import { median, percentile } from "./measure.js"
import { isMain, runBenchmark } from "./runBenchmark.js"

const KILLS = Number(process.env["BENCH_KILLS"] ?? 5)
const SEQUENTIAL_CALLS = 2_000
const CONCURRENT_CALLS = 20_000
const IN_FLIGHT = 32
const STATUS_READS = 200

const round = (ms: number) => Math.round(ms * 100) / 100

/** Runs `count` timed calls of `call`, `inFlight` at a time: latencies in ms and calls per second. */
const timed = <E>(count: number, inFlight: number, call: Effect.Effect<unknown, E>) =>
  Effect.gen(function*() {
    const latencies: Array<number> = []
    const startedAt = performance.now()
    yield* Effect.forEach(
      Array.from({ length: count }),
      () =>
        Effect.suspend(() => {
          const callStartedAt = performance.now()
          return Effect.tap(call, () => Effect.sync(() => void latencies.push(performance.now() - callStartedAt)))
        }),
      { concurrency: inFlight, discard: true }
    )
    const seconds = (performance.now() - startedAt) / 1000
    return {
      calls: count,
      inFlight,
      p50Ms: round(median(latencies)),
      p99Ms: round(percentile([...latencies].sort((a, b) => a - b), 0.99)),
      callsPerSecond: Math.round(count / seconds)
    }
  })

const clusterCalls = Effect.gen(function*() {
  const prefix = uniquePrefix("bench-calls")
  const caller = yield* startCoordinator(prefix, "bench-caller", 64, [])
  const owner = yield* startCoordinator(prefix, "bench-owner", 64, [])
  yield* eventually(
    "both members working their half",
    Effect.orDie(caller.coordinator.status),
    (s) => s.members.length === 2 && s.members.every((m) => m.report !== undefined && m.report.working.length === 32),
    Duration.seconds(20)
  )
  const sessionId = yield* sessionOwnedBy(caller.coordinator, "bench-owner", "open")
  const poll = pollSessionNow(sessionId).pipe(
    Effect.provideService(Coordinator, caller.coordinator),
    Effect.filterOrDieMessage((outcome) => outcome === "handled", "the owner did not poll")
  )
  yield* timed(200, 1, poll) // warm-up
  const rows = {
    "poll now, one at a time": yield* timed(SEQUENTIAL_CALLS, 1, poll),
    [`poll now, ${IN_FLIGHT} in flight`]: yield* timed(CONCURRENT_CALLS, IN_FLIGHT, poll),
    "cluster status (2 members)": yield* timed(STATUS_READS, 1, caller.coordinator.status)
  }
  yield* owner.leave
  yield* caller.leave
  yield* Effect.promise(() => deleteKeys(prefix))
  console.table(rows)
  return rows
})

const failover = Effect.gen(function*() {
  const { prefix, start, status } = yield* startCluster
  const instances: Array<Instance> = []
  for (const id of ["gw-1", "gw-2", "gw-3"]) instances.push(yield* start(id))
  const balanced = (s: ClusterStatus) => {
    const counts = Object.values(ownersCount(s))
    return s.members.length === 3 && counts.length === 3 && Math.max(...counts) - Math.min(...counts) <= 1
  }
  yield* eventually("an even split", status(instances[0]!), balanced, Duration.seconds(20))

  const kills: Array<{ newLeaderMs: number; allOwnedMs: number }> = []
  for (let k = 0; k < KILLS; k++) {
    const view = yield* status(instances[0]!)
    const leader = instances.find((i) => i.id === view.leader)!
    const survivors = instances.filter((i) => i !== leader)
    const killedAt = Date.now()
    yield* leader.process.kill("SIGKILL")
    yield* eventually(
      "a new leader",
      status(survivors[0]!),
      (s) => s.leader !== "" && s.leader !== leader.id,
      Duration.seconds(15)
    )
    const newLeaderMs = Date.now() - killedAt
    const living = new Set(survivors.map((i) => i.id))
    yield* eventually(
      "every partition owned",
      status(survivors[0]!),
      (s) => s.partitions.every((p) => living.has(p.owner)),
      Duration.seconds(15)
    )
    const allOwnedMs = Date.now() - killedAt
    kills.push({ newLeaderMs, allOwnedMs })
    instances.splice(instances.indexOf(leader), 1)
    instances.push(yield* start(`gw-${4 + k}`))
    yield* eventually("an even split again", status(instances[0]!), balanced, Duration.seconds(20))
  }
  yield* Effect.promise(() => deleteKeys(prefix))

  console.table(
    kills.map((k, i) => ({ kill: i + 1, "new leader ms": k.newLeaderMs, "all partitions owned ms": k.allOwnedMs }))
  )
  const summary = {
    kills: kills.length,
    medianNewLeaderMs: median(kills.map((k) => k.newLeaderMs)),
    medianAllOwnedMs: median(kills.map((k) => k.allOwnedMs)),
    maxAllOwnedMs: Math.max(...kills.map((k) => k.allOwnedMs))
  }
  console.table({ median: summary })
  return { ...summary, runs: kills }
})

/** The section bench/run.ts runs too: the results, also written to bench/cluster.json. */
export const clusterBench = Effect.gen(function*() {
  const calls = yield* clusterCalls
  const failoverResults = yield* failover
  const results = { calls, failover: failoverResults }
  writeFileSync(new URL("./cluster.json", import.meta.url), JSON.stringify(results, null, 2))
  return results
}).pipe(Effect.scoped)

if (isMain(import.meta.url)) void runBenchmark(clusterBench)
